//! The `tart run` log: a file in `<data-dir>/logs` that the detached `tart run` writes
//! (it must outlive the server, so a pipe that we drain would not do), read while a start
//! task waits for the VM, and kept to a size.
//!
//! Bounded both ways (red team finding 4: 1.4 GB of output took the server to 12.7 GB
//! and the file grew without end):
//! - [`LogFollower`] reads at most [`MAX_RUN_LOG_READ_PER_POLL`] per poll, skipping ahead
//!   when more is waiting, and hands over at most [`MAX_LOG_LINES`] lines of a batch, the
//!   rest counted as dropped in O(1): memory is a few MiB however fast `tart` writes.
//! - [`cap_run_log`] empties the file once it is over [`MAX_RUN_LOG_BYTES`], leaving a
//!   line that says so. `tart run` writes with `O_APPEND`, so it goes on at the new end.
//!   The follower and the run's reaper call it, so the cap holds while this server runs.
//!
//! Threading: a follower belongs to the start task's thread; `cap_run_log` may race with
//! `tart`'s own writes, which only costs a few lines around the cut.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::backend::tart::parse::clean_line;
use crate::limits::{MAX_LOG_LINES, MAX_RUN_LOG_BYTES, MAX_RUN_LOG_READ_PER_POLL};
use crate::process::supervisor::LineSplitter;

/// Empties the log at `path` when it is over [`MAX_RUN_LOG_BYTES`]; true if it did.
pub fn cap_run_log(path: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    if meta.len() <= MAX_RUN_LOG_BYTES {
        return false;
    }
    let Ok(mut file) = OpenOptions::new().append(true).open(path) else {
        return false;
    };
    if file.set_len(0).is_err() {
        return false;
    }
    let _ = writeln!(
        file,
        "[taartenfabriek: this log was emptied at {} MiB; older output is gone]",
        MAX_RUN_LOG_BYTES / (1024 * 1024)
    );
    true
}

/// New lines of a growing (and now and then emptied) log file.
pub struct LogFollower {
    path: PathBuf,
    file: Option<File>,
    pos: u64,
    splitter: LineSplitter,
    buf: Vec<u8>,
}

/// What one read of the log found.
#[derive(Default)]
pub struct NewLines {
    /// Complete lines, cleaned, oldest first: at most [`MAX_LOG_LINES`].
    pub lines: Vec<String>,
    /// Lines left out: the older ones of a batch beyond [`MAX_LOG_LINES`], and a count of
    /// one for each stretch of the file skipped unread.
    pub skipped: u64,
}

impl LogFollower {
    pub fn open(path: PathBuf) -> LogFollower {
        let file = File::open(&path).ok();
        LogFollower {
            path,
            file,
            pos: 0,
            splitter: LineSplitter::default(),
            buf: Vec::new(),
        }
    }

    /// The complete lines written since the last call (bounded, see the module doc).
    pub fn read_new(&mut self) -> NewLines {
        let mut found = NewLines::default();
        cap_run_log(&self.path);
        let Some(file) = self.file.as_mut() else {
            return found;
        };
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        if len < self.pos {
            // Emptied by the cap (here or by the VM's reaper): start over from its first
            // line. What was written after our last read and before the cut is gone
            // unread, so it counts as one skipped stretch, as a skip ahead does.
            self.pos = 0;
            self.splitter = LineSplitter::default();
            found.skipped += 1;
        }
        let waiting = len - self.pos;
        if waiting > MAX_RUN_LOG_READ_PER_POLL {
            // Too much to keep up with: read only the newest part.
            self.pos = len - MAX_RUN_LOG_READ_PER_POLL;
            self.splitter = LineSplitter::default();
            found.skipped += 1;
        }
        let want = (len - self.pos) as usize;
        self.buf.clear();
        if file.seek(SeekFrom::Start(self.pos)).is_err()
            || Read::by_ref(file)
                .take(want as u64)
                .read_to_end(&mut self.buf)
                .is_err()
        {
            return found;
        }
        self.pos += self.buf.len() as u64;
        let lines = self.splitter.push(&self.buf);
        let excess = lines.len().saturating_sub(MAX_LOG_LINES);
        found.skipped += excess as u64;
        found.lines = lines[excess..].iter().map(|l| clean_line(l)).collect();
        // The buffer is reused; it must not keep a large allocation around.
        self.buf.shrink_to(64 * 1024);
        found
    }

    /// The last few KiB of the log, for the task's `stderr`.
    pub fn tail(&self) -> String {
        let Ok(mut file) = File::open(&self.path) else {
            return String::new();
        };
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        let _ = file.seek(SeekFrom::Start(len.saturating_sub(4096)));
        let mut buf = Vec::new();
        let _ = file.take(4096).read_to_end(&mut buf);
        String::from_utf8_lossy(&buf)
            .lines()
            .map(clean_line)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("tf-runlog-{}-{name}", std::process::id()))
    }

    #[test]
    fn a_flood_is_read_in_bounded_pieces_and_the_file_is_capped() {
        let path = temp("flood");
        let _ = std::fs::remove_file(&path);
        // Like the file tart run writes: opened for appending.
        let mut writer = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap();
        writeln!(writer, "VNC server is running at vnc://10.0.0.2:5900").unwrap();
        let mut follower = LogFollower::open(path.clone());
        let first = follower.read_new();
        assert_eq!(first.lines.len(), 1);
        // 4 MiB of short lines at once: read as one bounded piece.
        let line = "x".repeat(99);
        for _ in 0..40_000 {
            writeln!(writer, "{line}").unwrap();
        }
        let flood = follower.read_new();
        assert!(flood.lines.len() <= MAX_LOG_LINES);
        assert!(flood.skipped >= 1, "the older part was skipped");
        assert_eq!(flood.lines.last().unwrap(), &line);
        // Past the cap, the file is emptied and reading starts over.
        let chunk = vec![b'y'; 1024 * 1024];
        while std::fs::metadata(&path).unwrap().len() <= MAX_RUN_LOG_BYTES {
            writer.write_all(&chunk).unwrap();
        }
        writeln!(writer).unwrap();
        assert!(cap_run_log(&path));
        assert!(std::fs::metadata(&path).unwrap().len() < 1024);
        writeln!(writer, "after the cut").unwrap();
        let after = follower.read_new();
        assert_eq!(
            after.lines.last().map(String::as_str),
            Some("after the cut")
        );
        assert!(after.lines[0].contains("this log was emptied"));
        // Regression: a cut made by another reader (the reaper caps the same file) lost
        // the unread lines without counting them, so a task could show a gigabyte of
        // output with `logs_dropped: 0` (robust_memory failed now and then under load).
        writeln!(writer, "never read").unwrap();
        OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(0)
            .unwrap();
        writeln!(writer, "x").unwrap();
        let cut = follower.read_new();
        assert!(cut.skipped >= 1, "a cut by someone else counts as skipped");
        assert_eq!(cut.lines, vec!["x".to_string()]);
        std::fs::remove_file(&path).unwrap();
    }
}
