//! Everything that reaches stdout/stderr, and tart's text table encoder.
//!
//! Writes go straight to the locked handle and are flushed per call, so a pipe reader (the
//! server) sees each line as soon as tart would print it. Write errors (a closed pipe) are
//! ignored: tart keeps running when nobody listens, and so do we.

use std::io::Write;

/// Prints `line` and a newline on stdout.
pub fn out_line(line: &str) {
    out_bytes(format!("{line}\n").as_bytes());
}

/// Prints raw bytes on stdout (progress lines with ANSI escapes).
pub fn out_bytes(bytes: &[u8]) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(bytes);
    let _ = stdout.flush();
}

/// Prints `line` and a newline on stderr.
pub fn err_line(line: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(format!("{line}\n").as_bytes());
    let _ = stderr.flush();
}

/// Renders a TextTable the way tart prints it (contract section 1.7).
///
/// Every cell, header included, is left-aligned and padded to its column's widest cell;
/// cells are joined by one space; the whole block is trimmed; the caller's `print` adds
/// the final newline. So inner lines keep trailing padding and the last line has none.
pub fn render_table(headers: &[&str], rows: &[Vec<String>]) -> String {
    if rows.is_empty() {
        // renderList returns "" for no entries; print then emits a single newline.
        return String::new();
    }
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let header_cells: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    let mut lines = Vec::with_capacity(rows.len() + 1);
    for row in std::iter::once(&header_cells).chain(rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| pad(cell, *width))
            .collect();
        lines.push(cells.join(" "));
    }
    lines.join("\n").trim().to_string()
}

/// Pads `cell` with spaces to `width`, counting UTF-16 units like TextTable does.
fn pad(cell: &str, width: usize) -> String {
    let units = cell.encode_utf16().count();
    let mut padded = cell.to_string();
    padded.extend(std::iter::repeat_n(' ', width.saturating_sub(units)));
    padded
}
