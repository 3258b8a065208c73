//! Operations: everything the API can ask a VM host to do, one file each. An operation
//! is a value implementing [`Operation`]; it declares its task's action and target, the
//! names it locks, its lane, its checks (404/409 from the VM's *current* state), the
//! [`OpRequest`] it asks of the backend, its effect on the inventory and its result.
//! [`submit`] is the one way to run one: check, queue, and — on a task worker — run,
//! apply the effect, and end the task.
//!
//! Threading: [`submit`] runs on an HTTP worker and only reads cached or cheaply
//! re-read state (a bounded wait for the refresher at most); the operation's run and
//! effect happen on a scheduler lane, never holding the store's lock across a backend
//! call.

pub mod create;
pub mod delete;
pub mod provision;
pub mod prune;
pub mod pull;
pub mod registry;
pub mod rename;
pub mod settings;
pub mod start;
pub mod stop;
pub mod suspend;

use std::sync::Arc;

use serde_json::Value;

use crate::backend::host::{Done, Failure, HostError, OpRequest, VmState};
use crate::core::tasks::queue::queue;
use crate::core::tasks::scheduler::{Keys, Lane, QueueFull};
use crate::core::tasks::sink::TaskSink;
use crate::core::tasks::{Action, Task};
use crate::core::{Core, Host};
use crate::limits::FRESH_CHECK_WAIT;

/// One operation, declared. Implementors are plain values holding the checked request.
pub trait Operation: Send + 'static {
    /// The task's action (its wire name).
    const ACTION: Action;

    /// What the task acts on (a VM, or an image reference for a pull); `None` for
    /// host-wide operations (prune, registries).
    fn target(&self) -> Option<&str>;

    /// The host it runs on: the local one by default.
    fn host(&self) -> Host {
        Host::Local
    }

    /// The names the job holds while it waits and runs: by default its target, on its
    /// host (a cluster's names never lock a local VM's).
    fn keys(&self) -> Keys {
        Keys::One(self.host().key(self.target().unwrap_or_default()))
    }

    /// The workers it runs on: short calls by default.
    fn lane(&self) -> Lane {
        Lane::Quick
    }

    /// Refuses what the VM's current state does not allow (404, 409), before anything
    /// is queued; asks afresh before refusing on cached state (see [`current_state`]).
    fn check(&self, _core: &Core) -> Result<(), Refusal> {
        Ok(())
    }

    /// What the backend is asked to do.
    fn request(&self) -> OpRequest;

    /// The job: by default the one request. Operations made of several requests (a
    /// create that configures, a clone that starts) run them here in order.
    fn run(&self, core: &Core, sink: &mut TaskSink) -> Result<Done, Failure> {
        match core.host(self.host()) {
            Some(host) => host.execute(self.request(), sink),
            None => Err(Failure::Failed("no cluster is configured".into())),
        }
    }

    /// Its effect on the inventory after success, applied before the task completes,
    /// so a client that sees the task end sees the effect too: by default a refresh.
    fn effect(&self, core: &Core, _done: &Done) {
        core.refresh_quietly();
    }

    /// The task's `result` after success.
    fn result(&self, done: &Done) -> Value;

    /// Whether a failure may have changed the host all the same (a clone that made the
    /// folder, a `set` that saved the config before its disk step failed): then the
    /// rows are refreshed before the task fails, so a client that sees the failure sees
    /// what is left. Otherwise the refresh the queue asks for after every job is enough.
    fn failure_changes_host(&self) -> bool {
        false
    }
}

/// Why an operation was not queued: the HTTP status is chosen in one place
/// (`web::error`).
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// 404: no such VM (or source).
    NotFound(String),
    /// 409: the VM's current state does not allow it.
    Conflict(String),
    /// 400: the request names something this operation cannot act on (an image to run).
    Unsuitable(String),
    /// 422: a field's value contradicts the VM's current state (a disk that would
    /// shrink).
    Invalid {
        field: &'static str,
        message: String,
        input: Value,
    },
    /// 429: too many tasks are waiting.
    QueueFull,
    /// 502: the host could not be asked (a cluster's controller down or refusing).
    HostFailed(String),
}

impl From<QueueFull> for Refusal {
    fn from(_: QueueFull) -> Refusal {
        Refusal::QueueFull
    }
}

/// Checks `op`, then queues it as a new task; answers the task as it is now (pending).
pub fn submit<O: Operation>(core: &Arc<Core>, op: O) -> Result<Task, Refusal> {
    op.check(core)?;
    let action = O::ACTION;
    let target = op.target().map(str::to_string);
    let (keys, lane) = (op.keys(), op.lane());
    let cancellable = action.cancellable_while_running();
    let task = queue(
        core,
        action,
        target.as_deref(),
        keys,
        lane,
        cancellable,
        op.host() == Host::Local,
        move |core, id| run(core, id, &op),
    )?;
    Ok(task)
}

/// Runs `op` for task `id` on a task worker and ends the task. The local inventory's
/// rows are invalidated and refreshed for local operations only; a cluster's host keeps
/// its own lists current (`Backend::execute` ends with a read of them).
fn run(core: &Arc<Core>, id: &str, op: &impl Operation) {
    let local = op.host() == Host::Local;
    let keys = op.keys();
    let names = if local { keys.names() } else { Vec::new() };
    for name in &names {
        core.inventory.invalidate(name);
    }
    core.tasks.update(id, |t| {
        t.status = crate::core::tasks::model::TaskStatus::Running
    });
    let mut sink = TaskSink::new(core, id);
    let outcome = op.run(core, &mut sink);
    match outcome {
        Ok(done) => {
            op.effect(core, &done);
            let result = op.result(&done);
            core.tasks.update(id, |t| t.complete(result));
        }
        Err(failure) => {
            for name in &names {
                core.inventory.invalidate(name);
            }
            if local && op.failure_changes_host() {
                core.refresh_quietly();
            }
            core.tasks.update(id, |t| match failure {
                Failure::Cancelled => t.cancel(),
                Failure::Failed(why) => t.fail(why),
            });
        }
    }
}

/// Asks host `on` whether it would carry out `request` now (`Backend::admits`): for
/// the rules of a host the core does not know. 404 when the VM is not there, 409 with
/// the host's reason, 502 when the host could not be asked.
pub fn admitted(core: &Core, on: Host, request: &OpRequest) -> Result<(), Refusal> {
    let host = core
        .host(on)
        .ok_or_else(|| Refusal::NotFound("no cluster is configured".into()))?;
    host.admits(request).map_err(|e| match e {
        HostError::NotFound(m) => Refusal::NotFound(m),
        HostError::Refused(m) => Refusal::Conflict(m),
        HostError::Unavailable(m) | HostError::Failed(m) => Refusal::HostFailed(m),
    })
}

/// The local VM `name`'s state now: read afresh by the backend (for tart, the lock on
/// `config.json` and `state.vzvmsave`), so a state cached before a change made outside
/// the server never causes a wrong refusal. When the backend cannot tell (a VM made a
/// moment ago, another home), the inventory is refreshed (a bounded wait,
/// [`FRESH_CHECK_WAIT`]) and asked. `None`: no such local VM.
pub fn current_state(core: &Core, name: &str) -> Option<VmState> {
    if let Some(state) = core.backend.state_now(name) {
        return Some(state);
    }
    core.fresh_inventory(FRESH_CHECK_WAIT);
    let vm = core.inventory.vm(name)?;
    if vm.source.as_deref() == Some("oci") {
        return None;
    }
    Some(match (vm.status, vm.state.as_deref()) {
        ("running", _) => VmState::Running,
        (_, Some("suspended")) => VmState::Suspended,
        _ => VmState::Stopped,
    })
}

/// The local VM's current state, or a 404.
pub fn local_state(core: &Core, name: &str) -> Result<VmState, Refusal> {
    current_state(core, name).ok_or_else(|| not_found(name))
}

/// The 404 of a VM that is not there.
pub fn not_found(name: &str) -> Refusal {
    Refusal::NotFound(format!("VM {name:?} not found"))
}

/// A 409 unless `name` is free: a new name must be, because clone and create silently
/// replace a VM (even a running one) and rename refuses. Taken when the backend sees
/// anything by that name, or the inventory lists it (after one fresh look).
pub fn must_be_free(core: &Core, name: &str) -> Result<(), Refusal> {
    let taken = core.backend.name_in_use(name) || core.inventory.vm(name).is_some() || {
        core.fresh_inventory(FRESH_CHECK_WAIT);
        core.inventory.vm(name).is_some()
    };
    if taken {
        return Err(Refusal::Conflict(format!(
            "a VM named {name:?} already exists; tart would replace it, so pick another name"
        )));
    }
    Ok(())
}

/// A 409 unless the local VM `name` is stopped now (`doing` names the operation).
/// A suspended VM may be renamed: its snapshot moves with it.
pub fn must_be_stopped(core: &Core, name: &str, doing: &str) -> Result<(), Refusal> {
    match local_state(core, name)? {
        VmState::Stopped => Ok(()),
        VmState::Suspended if doing == "rename" => Ok(()),
        VmState::Running => Err(Refusal::Conflict(format!(
            "VM {name:?} is running; stop it to {doing} it"
        ))),
        VmState::Suspended => Err(Refusal::Conflict(format!(
            "VM {name:?} is suspended; resume and stop it to {doing} it"
        ))),
    }
}

/// A VM from the inventory; an unknown name waits (at most [`FRESH_CHECK_WAIT`]) for
/// one fresh refresh before the 404, so a VM made with the CLI a moment ago is found.
pub fn find_vm(core: &Core, name: &str) -> Result<crate::core::vm::Vm, Refusal> {
    if let Some(vm) = core.inventory.vm(name) {
        return Ok(vm);
    }
    core.fresh_inventory(FRESH_CHECK_WAIT);
    core.inventory.vm(name).ok_or_else(|| not_found(name))
}

/// Whether `name` still runs, asked afresh before a 409 that the cached list suggests:
/// a VM stopped with the CLI or by its guest a moment ago must not be refused.
pub fn still_running(core: &Core, name: &str) -> bool {
    if let Some(state) = core.backend.state_now(name) {
        if state != VmState::Running {
            core.inventory
                .apply(name, crate::core::inventory::Change::Stopped);
            core.request_refresh();
        }
        return state == VmState::Running;
    }
    core.fresh_inventory(FRESH_CHECK_WAIT);
    core.inventory
        .vm(name)
        .is_some_and(|vm| vm.status == "running")
}
