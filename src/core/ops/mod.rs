//! The operations that make and change VMs (api-next §2–§3): create, clone, settings,
//! rename, suspend, prune, registry login and logout. One file per operation; this file
//! holds what they share: submitting a job, running one `tart` step for a task, ending
//! the task, and the VM's *current* state for the 409 checks.
//!
//! Threading: handlers call the `submit` functions, which only queue a job; the job runs
//! on the worker pool and writes into its task through the store (never holding the
//! store's lock across a `tart` call). Jobs are keyed like the other actions so actions
//! on one VM run in order.

pub mod create;
pub mod prune;
pub mod registry;
pub mod rename;
pub mod settings;
pub mod suspend;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::backend::tart::Outcome;
use crate::backend::tart::home::tart_home;
use crate::backend::tart::prune::is_running;
use crate::core::Core;
use crate::core::tasks::model::TaskStatus;
use crate::core::tasks::queue::queue;
use crate::core::tasks::scheduler::{Keys, Lane, QueueFull};
use crate::core::tasks::{Action, Task};
use crate::limits::FRESH_CHECK_WAIT;

/// Queues `job` as the body of a new task for `action` on `vm_name`, holding `keys`
/// while it runs (one name; two for a rename; the whole home for a prune, which may
/// remove any VM or image). Fails when the queue is full (a 429).
pub fn submit(
    app: &Arc<Core>,
    action: Action,
    vm_name: Option<&str>,
    keys: Keys,
    job: impl FnOnce(&Arc<Core>, &str) + Send + 'static,
) -> Result<Task, QueueFull> {
    // Clones and creates may download for hours: the transfer lane, cancellable.
    let (lane, cancellable) = match action {
        Action::CreateVm | Action::CloneVm => (Lane::Transfer, true),
        Action::Prune => (Lane::Quick, true),
        _ => (Lane::Quick, false),
    };
    queue(app, action, vm_name, keys, lane, cancellable, job)
}

pub use crate::core::tasks::step::{step, track_progress};

/// The error of a failed step: `tart <verb> failed (exit code N): <last line>`.
pub fn failure(verb: &str, outcome: &Outcome, timeout: Duration) -> String {
    let code = outcome
        .exit_code
        .map(|c| format!(" (exit code {c})"))
        .unwrap_or_default();
    format!("tart {verb} failed{code}: {}", outcome.describe(timeout))
}

/// Fails the task with [`failure`] (or as cancelled); returns whether the step
/// succeeded.
pub fn check(app: &Core, id: &str, verb: &str, outcome: &Outcome, timeout: Duration) -> bool {
    if outcome.aborted {
        app.tasks.update(id, |t| t.cancel());
    } else if !outcome.success() {
        app.tasks
            .update(id, |t| t.fail(failure(verb, outcome, timeout)));
    }
    outcome.success()
}

/// Completes the task with `result`.
pub fn complete(app: &Core, id: &str, result: Value) {
    app.tasks.update(id, |t| {
        t.status = TaskStatus::Completed;
        t.result = Some(result);
    });
}

/// A VM's state as tart would see it now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VmState {
    Running,
    Suspended,
    Stopped,
}

/// The `$TART_HOME` our tart children use.
pub fn home(app: &Core) -> Option<PathBuf> {
    tart_home(app.tart.runner().child_env())
}

/// The local VM `name`'s state read afresh from `$TART_HOME` (tart's own test: the lock
/// on `config.json`, then `state.vzvmsave`), so a state cached before a change made
/// outside the server never causes a wrong refusal. When the home holds no such VM (a
/// `--tart` wrapper with its own home, or a VM made a moment ago), the inventory is
/// refreshed (a bounded wait, [`FRESH_CHECK_WAIT`]) and asked. `None`: no such local VM.
pub fn current_state(app: &Core, name: &str) -> Option<VmState> {
    if let Some(home) = home(app) {
        let dir = home.join("vms").join(name);
        if ["config.json", "disk.img", "nvram.bin"]
            .iter()
            .all(|f| dir.join(f).is_file())
        {
            return Some(if is_running(&dir.join("config.json")) {
                VmState::Running
            } else if dir.join("state.vzvmsave").exists() {
                VmState::Suspended
            } else {
                VmState::Stopped
            });
        }
    }
    app.fresh_inventory(FRESH_CHECK_WAIT);
    let vm = app.inventory.vm(name)?;
    if vm.source.as_deref() == Some("oci") {
        return None;
    }
    Some(match (vm.status, vm.state.as_deref()) {
        ("running", _) => VmState::Running,
        (_, Some("suspended")) => VmState::Suspended,
        _ => VmState::Stopped,
    })
}

/// Whether a local VM or any folder called `name` is in the home, or the inventory lists
/// it: a new name must be free, because clone and create silently replace a VM (even a
/// running one) and rename refuses.
pub fn name_taken(app: &Core, name: &str) -> bool {
    if home(app).is_some_and(|h| std::fs::symlink_metadata(h.join("vms").join(name)).is_ok()) {
        return true;
    }
    if app.inventory.vm(name).is_some() {
        return true;
    }
    app.fresh_inventory(FRESH_CHECK_WAIT);
    app.inventory.vm(name).is_some()
}
