//! The Task as `api-spec.md` defines it, plus the extras `vm_name` and `progress`.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::limits::{
    MAX_LOG_LINES, MAX_STDERR_TAIL_BYTES, MAX_TASK_ERROR_BYTES, MAX_TASK_LOG_BYTES,
};

/// What a task does; the wire names are the predecessor's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(clippy::enum_variant_names)] // named after the wire names: start_vm, stop_vm, …
pub enum Action {
    StartVm,
    StopVm,
    DeleteVm,
    PullVm,
    CreateVm,
    CloneVm,
    SetVm,
    RenameVm,
    SuspendVm,
    Prune,
    Login,
    Logout,
}

impl Action {
    /// Whether a running task of this action can be cancelled (`api-next.md` §4): the
    /// long ones (start, pull, clone, create, prune), whose process group is ended; the
    /// short ones run to their end. The one source of this rule: `ops::submit` tells the
    /// scheduler from it, and the task store's `cancellable` flag reads it.
    pub fn cancellable_while_running(self) -> bool {
        matches!(
            self,
            Action::StartVm | Action::PullVm | Action::CloneVm | Action::CreateVm | Action::Prune
        )
    }
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
    /// Output lines, ANSI escapes and `\r` rewrites removed; the newest are kept, at
    /// most [`MAX_LOG_LINES`] of them and [`MAX_TASK_LOG_BYTES`] in all.
    pub logs: VecDeque<String>,
    /// The VM (or, for pulls, the image reference) the task acts on.
    pub vm_name: Option<String>,
    /// Pull progress in percent, from tart's output.
    pub progress: Option<f64>,
    /// For tasks with phases (create from an IPSW: `downloading`, `installing`; clone
    /// from an image: `pulling`, `cloning`, `starting`; a create on an Orchard cluster:
    /// `pending`, `scheduled on W`, then Orchard's status messages), the current one.
    #[serde(default)]
    pub stage: Option<String>,
    /// Bytes in `logs` (not serialized; recounted when it reads 0 with lines kept, as
    /// after loading).
    #[serde(skip)]
    log_bytes: usize,
    /// Log lines dropped because of [`MAX_LOG_LINES`] or [`MAX_TASK_LOG_BYTES`].
    #[serde(default)]
    pub logs_dropped: u64,
    /// The task was cancelled (`api-next.md` §4); shown only when true.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cancelled: bool,
    /// Whether `POST /api/tasks/{id}/cancel` would cancel it now (`api-next.md` §4): a
    /// pending task always, a running one when its action is long
    /// ([`Action::cancellable_while_running`]). Kept by the task store at every change.
    #[serde(default)]
    pub cancellable: bool,
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
            logs: VecDeque::new(),
            vm_name,
            progress: None,
            stage: None,
            logs_dropped: 0,
            log_bytes: 0,
            cancelled: false,
            cancellable: true,
        }
    }

    /// What [`Task::cancellable`] should say for the task as it is now.
    pub fn can_be_cancelled(&self) -> bool {
        match self.status {
            TaskStatus::Pending => true,
            TaskStatus::Running => self.action.cancellable_while_running(),
            TaskStatus::Completed | TaskStatus::Failed => false,
        }
    }

    /// Appends a log line, dropping the oldest beyond the limits. Amortized O(1).
    pub fn push_log(&mut self, line: String) {
        self.push_logs(std::iter::once(line), 0);
    }

    /// Appends a batch of log lines, and counts `skipped` lines that were never kept
    /// (dropped before they got here); drops the oldest beyond the limits.
    pub fn push_logs(&mut self, lines: impl IntoIterator<Item = String>, skipped: u64) {
        if self.log_bytes == 0 && !self.logs.is_empty() {
            self.log_bytes = self.logs.iter().map(String::len).sum();
        }
        self.logs_dropped += skipped;
        for line in lines {
            self.log_bytes += line.len();
            self.logs.push_back(line);
            while self.logs.len() > MAX_LOG_LINES || self.log_bytes > MAX_TASK_LOG_BYTES {
                let Some(old) = self.logs.pop_front() else {
                    break;
                };
                self.log_bytes -= old.len();
                self.logs_dropped += 1;
            }
        }
    }

    /// Ends the task as completed with `result`.
    pub fn complete(&mut self, result: Value) {
        self.status = TaskStatus::Completed;
        self.result = Some(result);
    }

    /// Ends the task as cancelled: `failed`, with `error` `cancelled` (`api-next.md` §4).
    pub fn cancel(&mut self) {
        self.fail("cancelled");
        self.cancelled = true;
    }

    /// Ends the task as failed; the error is cut to its last [`MAX_TASK_ERROR_BYTES`].
    pub fn fail(&mut self, error: impl Into<String>) {
        self.status = TaskStatus::Failed;
        let error = error.into();
        self.error = Some(if error.len() > MAX_TASK_ERROR_BYTES {
            format!("…{}", tail(&error, MAX_TASK_ERROR_BYTES))
        } else {
            error
        });
    }

    /// Cuts a task to today's budgets (logs, stderr, error): for tasks loaded from a
    /// journal that an older server wrote with looser limits.
    pub fn trim_to_budgets(&mut self) {
        let logs = std::mem::take(&mut self.logs);
        self.log_bytes = 0;
        self.push_logs(logs, 0);
        if let Some(stderr) = self.stderr.take() {
            self.set_stderr(&stderr);
        }
        if let Some(error) = &self.error
            && error.len() > MAX_TASK_ERROR_BYTES
        {
            self.error = Some(format!("…{}", tail(error, MAX_TASK_ERROR_BYTES)));
        }
    }

    /// How many lines this task has logged in all (kept and dropped): the absolute index
    /// of its next line.
    pub fn log_end(&self) -> u64 {
        self.logs_dropped + self.logs.len() as u64
    }

    /// An absolute log index within the lines kept: from the oldest kept to the end.
    pub fn clamp_log_index(&self, index: u64) -> u64 {
        index.clamp(self.logs_dropped, self.log_end())
    }

    /// The task as JSON with only the log lines from absolute index `from` on (lines
    /// counted from the task's first, dropped ones included), and that index as
    /// `logs_from`. What `/ws/tasks/<id>?logs=new` sends.
    pub fn to_json_from(&self, from: u64) -> String {
        let from = self.clamp_log_index(from);
        let skip = (from - self.logs_dropped) as usize;
        let view = NewLines::new(self, LogRange(self.logs.range(skip..)), from);
        serde_json::to_string(&view).expect("a Task always serializes")
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

/// A task with part of its log: [`Task`]'s fields in its order, plus `logs_from`. The
/// test below keeps the two in step.
#[derive(Serialize)]
struct NewLines<'a> {
    id: &'a str,
    action: Action,
    status: TaskStatus,
    command: &'a Option<Vec<String>>,
    exit_code: Option<i32>,
    result: &'a Option<Value>,
    error: &'a Option<String>,
    stderr: &'a Option<String>,
    created_at: f64,
    updated_at: f64,
    logs: LogRange<'a>,
    vm_name: &'a Option<String>,
    progress: Option<f64>,
    stage: &'a Option<String>,
    logs_dropped: u64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    cancelled: bool,
    cancellable: bool,
    logs_from: u64,
}

impl<'a> NewLines<'a> {
    fn new(task: &'a Task, logs: LogRange<'a>, logs_from: u64) -> NewLines<'a> {
        NewLines {
            id: &task.id,
            action: task.action,
            status: task.status,
            command: &task.command,
            exit_code: task.exit_code,
            result: &task.result,
            error: &task.error,
            stderr: &task.stderr,
            created_at: task.created_at,
            updated_at: task.updated_at,
            logs,
            vm_name: &task.vm_name,
            progress: task.progress,
            stage: &task.stage,
            logs_dropped: task.logs_dropped,
            cancelled: task.cancelled,
            cancellable: task.cancellable,
            logs_from,
        }
    }
}

/// Some of a task's log lines, serialized as a JSON array.
struct LogRange<'a>(std::collections::vec_deque::Iter<'a, String>);

impl Serialize for LogRange<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_lines_view_has_every_task_field() {
        let mut task = Task::new("t".into(), Action::PullVm, Some("x".into()), 1.0);
        task.push_log("a".into());
        task.push_log("b".into());
        let mut full: Value = serde_json::to_value(&task).unwrap();
        let delta: Value = serde_json::from_str(&task.to_json_from(0)).unwrap();
        full["logs_from"] = 0.into();
        assert_eq!(delta, full);
        let tail: Value = serde_json::from_str(&task.to_json_from(1)).unwrap();
        assert_eq!(tail["logs"], serde_json::json!(["b"]));
        assert_eq!(tail["logs_from"], 1);
        let none: Value = serde_json::from_str(&task.to_json_from(9)).unwrap();
        assert_eq!(none["logs"], serde_json::json!([]));
        assert_eq!(none["logs_from"], 2);
    }

    #[test]
    fn logs_are_bounded_in_bytes_and_lines_and_every_drop_is_counted() {
        let mut task = Task::new("t".into(), Action::PullVm, None, 1.0);
        let long = "x".repeat(1000);
        task.push_logs((0..200).map(|_| long.clone()), 7);
        let bytes: usize = task.logs.iter().map(String::len).sum();
        assert!(bytes <= MAX_TASK_LOG_BYTES);
        assert_eq!(task.logs.len(), MAX_TASK_LOG_BYTES / 1000);
        assert_eq!(task.log_end(), 200 + 7, "kept + dropped = everything seen");
        // After a reload (the byte count is not saved), the budget still holds.
        let mut again: Task = serde_json::from_str(&serde_json::to_string(&task).unwrap()).unwrap();
        again.push_log(long.clone());
        assert!(again.logs.iter().map(String::len).sum::<usize>() <= MAX_TASK_LOG_BYTES);
        assert_eq!(again.log_end(), 208);
    }

    #[test]
    fn new_lines_after_dropped_lines_start_at_the_oldest_kept() {
        let mut task = Task::new("t".into(), Action::PullVm, None, 1.0);
        for i in 0..MAX_LOG_LINES + 3 {
            task.push_log(i.to_string());
        }
        let v: Value = serde_json::from_str(&task.to_json_from(0)).unwrap();
        assert_eq!(v["logs_from"], 3);
        assert_eq!(v["logs"][0], "3");
        assert_eq!(task.log_end(), MAX_LOG_LINES as u64 + 3);
    }
}
