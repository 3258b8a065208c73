//! What a supervised call yields: its output split into bounded lines (`LineSplitter`,
//! `Line`), and how it ended (`Outcome`, with the one line an error message quotes).
//! Plain data and pure functions; the supervisor (`supervisor.rs`) runs the child and
//! fills them.

use std::time::Duration;

use crate::limits::{MAX_ERROR_LINE_BYTES, MAX_LOG_LINE_BYTES};

/// One line of output, cleaned of nothing yet (see `parse::clean_line`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub stream: Stream,
    pub text: String,
}

/// Which output stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// What a finished call left behind.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// The exit code, or `None` when the process died from a signal.
    pub exit_code: Option<i32>,
    /// The signal that ended the process, if any.
    pub signal: Option<i32>,
    /// Captured stdout (at most [`crate::limits::MAX_CAPTURE_BYTES`]).
    pub stdout: String,
    /// Captured stderr (at most [`crate::limits::MAX_CAPTURE_BYTES`]).
    pub stderr: String,
    /// The call ran past its timeout and was killed.
    pub timed_out: bool,
    /// The server began shutting down and killed the call.
    pub cancelled: bool,
    /// The caller's [`Cancel`](super::supervisor::Cancel) fired and the call was killed.
    pub aborted: bool,
}

impl Outcome {
    /// True when the process exited by itself with code 0.
    pub fn success(&self) -> bool {
        self.exit_code == Some(0) && !self.timed_out && !self.aborted
    }

    /// A one-line description of how the call ended, for error messages.
    pub fn describe(&self, timeout: Duration) -> String {
        if self.timed_out {
            return format!("timed out after {} s and was killed", timeout.as_secs());
        }
        if self.aborted {
            return "was cancelled".to_string();
        }
        if self.cancelled {
            return "was stopped because the server is shutting down".to_string();
        }
        match (self.exit_code, self.signal) {
            (Some(code), _) => match last_line(&self.stderr) {
                "" => format!("exited with code {code}"),
                line => line.to_string(),
            },
            (None, Some(sig)) => format!("was killed by signal {sig}"),
            (None, None) => "ended without an exit status".to_string(),
        }
    }
}

/// The last non-blank line of `text`, trimmed, and of a longer line its last
/// [`MAX_ERROR_LINE_BYTES`] (cut at a character boundary): what a failed call's error
/// says, since a program names the cause last. The whole output stays in the task's
/// `stderr` tail.
pub fn last_line(text: &str) -> &str {
    let line = text.lines().rev().map(str::trim).find(|l| !l.is_empty());
    let line = line.unwrap_or("");
    let mut start = line.len().saturating_sub(MAX_ERROR_LINE_BYTES);
    while !line.is_char_boundary(start) {
        start += 1;
    }
    &line[start..]
}

/// Splits a byte stream into lines of at most [`MAX_LOG_LINE_BYTES`], so a process that
/// never prints a newline cannot make us buffer without end.
#[derive(Default)]
pub struct LineSplitter {
    partial: Vec<u8>,
    truncated: bool,
}

impl LineSplitter {
    /// Feeds bytes; returns the lines they completed.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        let mut lines = Vec::new();
        for &b in bytes {
            if b == b'\n' {
                lines.push(self.take());
            } else if self.partial.len() < MAX_LOG_LINE_BYTES {
                self.partial.push(b);
            } else {
                self.truncated = true;
            }
        }
        lines
    }

    /// The last line, if the stream did not end with a newline.
    pub fn finish(&mut self) -> Option<String> {
        (!self.partial.is_empty()).then(|| self.take())
    }

    fn take(&mut self) -> String {
        let mut line = String::from_utf8_lossy(&self.partial).into_owned();
        if self.truncated {
            line.push_str(" …[truncated]");
        }
        self.partial.clear();
        self.truncated = false;
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_line_is_the_last_meaningful_line_capped() {
        assert_eq!(
            last_line("pulling\n50%\nError: registry said no\n\n  \n"),
            "Error: registry said no"
        );
        assert_eq!(last_line(""), "");
        let long = format!("{} the cause", "é".repeat(MAX_ERROR_LINE_BYTES));
        let cut = last_line(&long);
        assert!(cut.ends_with("the cause"));
        assert!(cut.len() <= MAX_ERROR_LINE_BYTES && cut.len() >= MAX_ERROR_LINE_BYTES - 1);
    }
}
