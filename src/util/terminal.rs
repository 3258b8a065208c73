//! Text from `tart` on its way to the server's own stderr: capped, and with control
//! characters escaped, so a hostile or chatty `tart` can neither flood the server's log
//! (4 MiB per background refresh, red team finding 6) nor drive the terminal it goes to
//! (title, clear screen, clipboard through OSC 52).

use crate::limits::MAX_ECHOED_TART_BYTES;

/// `text` as one safe line: the last [`MAX_ECHOED_TART_BYTES`] of it (the end of a
/// stderr is where the error is), every control character escaped (`\n`, `\x1b`, …).
pub fn echo_safe(text: &str) -> String {
    let text = text.trim();
    let mut cut = text.len().saturating_sub(MAX_ECHOED_TART_BYTES);
    while !text.is_char_boundary(cut) {
        cut += 1;
    }
    let tail = &text[cut..];
    let mut out = String::with_capacity(tail.len() + 32);
    if cut > 0 {
        out.push_str(&format!("[{cut} bytes cut] …"));
    }
    for c in tail.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            // Bidi controls could reorder what a terminal shows.
            '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => {
                out.push_str(&format!("\\u{{{:04x}}}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_are_made_visible_and_long_text_is_cut_to_its_end() {
        let hostile = "Error: \x1b]0;HACKED\x07\x1b[2J\x1b]52;c;ZWNobw==\x07 boom\nsecond";
        let safe = echo_safe(hostile);
        assert!(!safe.chars().any(|c| c.is_control()), "{safe}");
        assert!(safe.contains("\\x1b]0;HACKED\\x07"), "{safe}");
        assert!(safe.ends_with("boom\\nsecond"));
        let long = format!("{}the real error", "a".repeat(4 * 1024 * 1024));
        let safe = echo_safe(&long);
        assert!(safe.len() < MAX_ECHOED_TART_BYTES + 64);
        assert!(safe.ends_with("the real error") && safe.starts_with('['));
        assert_eq!(echo_safe("evil\u{202e}gnp.exe"), "evil\\u{202e}gnp.exe");
    }
}
