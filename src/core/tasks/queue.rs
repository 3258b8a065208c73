//! Queueing a job as a task, the one way every action does it: the task is created, its
//! job runs on the scheduler's lane under its keys, a panic in the job fails the task
//! instead of the worker, a job that starts while the server shuts down does nothing,
//! and a job on the local host asks for a refresh afterwards (it confirms the effect the
//! job already put in the cached list, and picks up anything else). A task whose job the queue refuses is
//! discarded, so it never reaches the journal.

use std::sync::Arc;

use super::model::{Action, Task};
use super::scheduler::{Keys, Lane, QueueFull};
use crate::core::Core;

/// Creates a task for `action` on `vm_name` and queues `job(core, task_id)` on `lane`
/// holding `keys`; `cancellable` says whether the running job may be cancelled,
/// `refresh_after` whether the local inventory is refreshed after it.
#[allow(clippy::too_many_arguments)] // one call site, each argument a plain fact of the job
pub fn queue(
    app: &Arc<Core>,
    action: Action,
    vm_name: Option<&str>,
    keys: Keys,
    lane: Lane,
    cancellable: bool,
    refresh_after: bool,
    job: impl FnOnce(&Arc<Core>, &str) + Send + 'static,
) -> Result<Task, QueueFull> {
    let task = app.tasks.create(action, vm_name.map(str::to_string));
    let (job_app, id) = (app.clone(), task.id.clone());
    let job = Box::new(move || {
        if job_app.shutting_down() {
            job_app
                .tasks
                .update(&id, |t| t.fail("the server is shutting down"));
            return;
        }
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&job_app, &id)));
        if outcome.is_err() {
            job_app
                .tasks
                .update(&id, |t| t.fail("internal error while running the task"));
        }
        if refresh_after {
            job_app.request_refresh();
        }
    });
    if let Err(full) = app.scheduler.submit(&task.id, keys, lane, cancellable, job) {
        app.tasks.discard(&task.id);
        return Err(full);
    }
    // Queued: from now on the task is journaled (a refused one never is).
    app.tasks.accept(&task.id);
    Ok(task)
}
