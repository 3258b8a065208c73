//! The Task as `api-spec.md` defines it, plus the extras `vm_name` and `progress`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::limits::{MAX_LOG_LINES, MAX_STDERR_TAIL_BYTES};

/// What a task does; the wire names are the predecessor's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    StartVm,
    StopVm,
    DeleteVm,
    PullVm,
}

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    Pending,
    Running,
    Completed,
    Failed,
}

impl TaskStatus {
    /// Completed or failed: nothing will change any more.
    pub fn is_terminal(self) -> bool {
        matches!(self, TaskStatus::Completed | TaskStatus::Failed)
    }
}

/// One background action and everything known about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub id: String,
    pub action: Action,
    pub status: TaskStatus,
    /// The exact argv of the last `tart` call, program first.
    pub command: Option<Vec<String>>,
    pub exit_code: Option<i32>,
    pub result: Option<Value>,
    pub error: Option<String>,
    /// The tail of the `tart` call's stderr.
    pub stderr: Option<String>,
    pub created_at: f64,
    pub updated_at: f64,
    /// Output lines, ANSI escapes and `\r` rewrites removed; the newest
    /// [`MAX_LOG_LINES`] are kept.
    pub logs: Vec<String>,
    /// The VM (or, for pulls, the image reference) the task acts on.
    pub vm_name: Option<String>,
    /// Pull progress in percent, from tart's output.
    pub progress: Option<f64>,
    /// Log lines dropped because of [`MAX_LOG_LINES`].
    #[serde(default)]
    pub logs_dropped: u64,
}

impl Task {
    /// A fresh pending task.
    pub fn new(id: String, action: Action, vm_name: Option<String>, now: f64) -> Task {
        Task {
            id,
            action,
            status: TaskStatus::Pending,
            command: None,
            exit_code: None,
            result: None,
            error: None,
            stderr: None,
            created_at: now,
            updated_at: now,
            logs: Vec::new(),
            vm_name,
            progress: None,
            logs_dropped: 0,
        }
    }

    /// Appends a log line, dropping the oldest beyond the limit.
    pub fn push_log(&mut self, line: String) {
        if self.logs.len() >= MAX_LOG_LINES {
            let excess = self.logs.len() + 1 - MAX_LOG_LINES;
            self.logs.drain(..excess);
            self.logs_dropped += excess as u64;
        }
        self.logs.push(line);
    }

    /// Ends the task as failed.
    pub fn fail(&mut self, error: impl Into<String>) {
        self.status = TaskStatus::Failed;
        self.error = Some(error.into());
    }

    /// Records the tail of a stderr capture (empty → `None`).
    pub fn set_stderr(&mut self, stderr: &str) {
        let trimmed = stderr.trim_end();
        self.stderr =
            (!trimmed.is_empty()).then(|| tail(trimmed, MAX_STDERR_TAIL_BYTES).to_string());
    }
}

/// The last `max` bytes of `s`, cut at a character boundary.
pub fn tail(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}
