//! [`TaskSink`]: where a backend reports an operation's progress — straight into its
//! task (status, argv, cleaned log lines, stage, progress, exit code, stderr tail), with
//! the task's cancel switch and the server's shutdown signal.
//!
//! Threading: lives on the task worker that runs the operation; each report is one short
//! store update (the store's lock is never held across a backend call).

use crate::backend::host::{Cancel, OpSink};
use crate::core::Core;
use crate::core::tasks::model::TaskStatus;

/// Reports into task `id`.
pub struct TaskSink<'a> {
    core: &'a Core,
    id: &'a str,
    cancel: Option<Cancel>,
}

impl<'a> TaskSink<'a> {
    pub fn new(core: &'a Core, id: &'a str) -> TaskSink<'a> {
        TaskSink {
            core,
            id,
            cancel: core.scheduler.cancel_handle(id),
        }
    }
}

impl OpSink for TaskSink<'_> {
    fn command(&mut self, argv: Vec<String>) {
        self.core.tasks.update(self.id, |t| {
            t.status = TaskStatus::Running;
            t.command = Some(argv);
            t.exit_code = None;
        });
    }

    fn lines(&mut self, lines: Vec<String>, skipped: u64) {
        if lines.is_empty() && skipped == 0 {
            return;
        }
        // One store lock per batch, whatever the number of lines.
        self.core
            .tasks
            .update(self.id, |t| t.push_logs(lines, skipped));
    }

    fn note(&mut self, line: String) {
        self.core.tasks.update(self.id, |t| t.push_log(line));
    }

    fn progress(&mut self, percent: Option<f64>) {
        self.core.tasks.update(self.id, |t| t.progress = percent);
    }

    fn stage(&mut self, stage: Option<&str>) {
        self.core
            .tasks
            .update(self.id, |t| t.stage = stage.map(str::to_string));
    }

    fn exited(&mut self, code: Option<i32>, stderr: &str) {
        self.core.tasks.update(self.id, |t| {
            t.exit_code = code;
            t.set_stderr(stderr);
        });
    }

    fn cancel(&self) -> Option<&Cancel> {
        self.cancel.as_ref()
    }

    fn shutting_down(&self) -> bool {
        self.core.shutting_down()
    }
}
