//! One `tart` call as a step of a task, shared by every job body (the first edition's
//! actions and the lifecycle operations): the argv recorded, the cleaned lines streamed
//! into the task's logs (and, through a line reader, its progress or stage), the task's
//! cancel switch honoured, then the exit code and the stderr tail.
//!
//! Threading: runs on a task worker; the store's lock is taken per batch of lines and
//! never held across the `tart` call.

use std::time::Duration;

use crate::backend::tart::Line;
use crate::backend::tart::Outcome;
use crate::backend::tart::parse::{clean_line, progress};
use crate::core::Core;
use crate::core::tasks::Task;
use crate::core::tasks::model::TaskStatus;

/// How a step reads tart's output lines into its task.
pub type OnLine<'a> = &'a dyn Fn(&mut Task, &str);

/// Runs one `tart` call for task `id`: records the argv, streams the cleaned lines into
/// the logs (and through `on_line`, for progress and stages), then the exit code and
/// stderr. `input` goes to tart's stdin. `None` when tart could not be started; the task
/// has then failed already.
pub fn step(
    app: &Core,
    id: &str,
    args: &[String],
    input: Option<&[u8]>,
    timeout: Duration,
    on_line: Option<OnLine>,
) -> Option<Outcome> {
    let argv = app.tart.runner().argv(args);
    app.tasks.update(id, |t| {
        t.status = TaskStatus::Running;
        t.command = Some(argv);
        t.exit_code = None;
    });
    let mut on_output = |lines: &[Line]| {
        app.tasks.update(id, |t| {
            for line in lines {
                let text = clean_line(&line.text);
                if let Some(read) = on_line {
                    read(t, &text);
                }
                t.push_log(text);
            }
        });
    };
    let cancel = app.scheduler.cancel_handle(id);
    let runner = app.tart.runner();
    match runner.run_cancellable(args, input, timeout, cancel.as_ref(), &mut on_output) {
        Ok(outcome) => {
            app.tasks.update(id, |t| {
                t.exit_code = outcome.exit_code;
                t.set_stderr(&outcome.stderr);
            });
            Some(outcome)
        }
        Err(e) => {
            app.tasks.update(id, |t| t.fail(e.to_string()));
            None
        }
    }
}

/// Reads `NN%` lines into the task's progress.
pub fn track_progress(task: &mut Task, line: &str) {
    if let Some(p) = progress(line) {
        task.progress = Some(p);
    }
}
