//! `suspend_vm`: `tart suspend` of a running macOS VM this server started with
//! `suspendable` (or resumed from a snapshot, which tart runs suspendable), then waiting
//! until `tart run` has saved it: the lock on `config.json` is released and
//! `state.vzvmsave` is there. `tart suspend` itself returns at once; a VM that was not
//! started suspendable would be killed (`Failed to suspend the VM`), which is why the
//! web layer refuses those with 409.

use std::sync::Arc;
use std::time::Instant;

use serde_json::json;

use super::{VmState, check, complete, current_state, step};
use crate::backend::tart::lifecycle::suspend_args;
use crate::core::Core;
use crate::core::tasks::model::TaskStatus;
use crate::core::tasks::scheduler::{Keys, QueueFull};
use crate::core::tasks::{Action, Task};
use crate::limits::{SUSPEND_POLL_INTERVAL, SUSPEND_SAVE_TIMEOUT, TART_CHANGE_TIMEOUT};

/// Whether the current run of `name` can be suspended: the newest start task this
/// server ran for it completed, and it either passed `--suspendable` or resumed a
/// snapshot (tart forces suspendable then). `Err` says why not, in plain words.
pub fn check_suspendable(app: &Core, name: &str) -> Result<(), String> {
    let start = app
        .tasks
        .newest(|t| t.action == Action::StartVm && t.vm_name.as_deref() == Some(name));
    let hint = format!(
        "VM {name} can only be suspended when this server started it with \
         {{\"suspendable\": true}}; stop it and start it that way"
    );
    let Some(start) = start else {
        return Err(format!("{hint} (it was started elsewhere)"));
    };
    let suspendable = start
        .command
        .as_ref()
        .is_some_and(|argv| argv.iter().any(|a| a == "--suspendable"));
    let resumed = start
        .logs
        .iter()
        .any(|l| l.contains("restoring VM state from a snapshot"));
    if start.status == TaskStatus::Completed && (suspendable || resumed) {
        Ok(())
    } else {
        Err(hint)
    }
}

/// Queues `suspend_vm` for `name`.
pub fn submit(app: &Arc<Core>, name: String) -> Result<Task, QueueFull> {
    let key = name.clone();
    super::submit(
        app,
        Action::SuspendVm,
        Some(&key),
        Keys::One(key.clone()),
        move |app, id| suspend(app, id, &name),
    )
}

fn suspend(app: &Arc<Core>, id: &str, name: &str) {
    let timeout = TART_CHANGE_TIMEOUT.min(app.config.timeouts.pull);
    let Some(outcome) = step(app, id, &suspend_args(name), None, timeout, None) else {
        return;
    };
    if !check(app, id, "suspend", &outcome, timeout) {
        return;
    }
    app.tasks.update(id, |t| t.stage = Some("saving".into()));
    let deadline = Instant::now() + SUSPEND_SAVE_TIMEOUT.min(app.config.timeouts.pull);
    let state = loop {
        match current_state(app, name) {
            Some(VmState::Running) if Instant::now() < deadline && !app.shutting_down() => {
                std::thread::sleep(SUSPEND_POLL_INTERVAL);
            }
            other => break other,
        }
    };
    app.inventory.invalidate(name);
    app.refresh_quietly();
    app.tasks.update(id, |t| t.stage = None);
    match state {
        Some(VmState::Suspended) => complete(
            app,
            id,
            json!({ "message": format!("VM {name} suspended"), "name": name }),
        ),
        Some(VmState::Running) => fail(
            app,
            id,
            format!("VM {name} was still running when the wait for its snapshot ended"),
        ),
        Some(VmState::Stopped) | None => fail(
            app,
            id,
            format!("VM {name} stopped without saving its state (see its tart run log)"),
        ),
    }
}

fn fail(app: &Core, id: &str, why: String) {
    app.tasks.update(id, |t| t.fail(why));
}
