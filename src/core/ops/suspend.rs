//! `suspend_vm`: save a running macOS VM's state and stop it; a later start resumes it.
//! Refused (409) unless the VM runs now, is a macOS guest, and its current run was
//! started by this server as suspendable (or resumed a snapshot, which tart runs
//! suspendable): tart would otherwise kill the VM (`Failed to suspend the VM`).

use serde_json::{Value, json};

use super::{Operation, Refusal, local_state};
use crate::backend::host::{Done, OpRequest, VmState};
use crate::core::Core;
use crate::core::tasks::Action;
use crate::core::tasks::model::TaskStatus;

/// Suspends `name`.
pub struct Suspend {
    pub name: String,
}

impl Operation for Suspend {
    const ACTION: Action = Action::SuspendVm;

    fn target(&self) -> Option<&str> {
        Some(&self.name)
    }

    fn check(&self, core: &Core) -> Result<(), Refusal> {
        let name = &self.name;
        match local_state(core, name)? {
            VmState::Running => {}
            VmState::Suspended => {
                return Err(Refusal::Conflict(format!(
                    "VM {name:?} is already suspended"
                )));
            }
            VmState::Stopped => {
                return Err(Refusal::Conflict(format!("VM {name:?} is not running")));
            }
        }
        let os = core
            .inventory
            .vm(name)
            .and_then(|vm| vm.os)
            .or_else(|| core.backend.guest_os(name));
        if os.as_deref() != Some("darwin") || !core.backend.capabilities().suspend {
            return Err(Refusal::Conflict(format!(
                "VM {name:?} is not a macOS VM; tart can only suspend macOS VMs"
            )));
        }
        suspendable(core, name).map_err(Refusal::Conflict)
    }

    fn request(&self) -> OpRequest {
        OpRequest::Suspend {
            name: self.name.clone(),
        }
    }

    fn result(&self, _done: &Done) -> Value {
        json!({ "message": format!("VM {} suspended", self.name), "name": self.name })
    }

    fn failure_changes_host(&self) -> bool {
        true
    }
}

/// Whether the current run of `name` can be suspended: the newest start task this
/// server ran for it completed and reported its run suspendable. `Err` says why not,
/// in plain words.
fn suspendable(core: &Core, name: &str) -> Result<(), String> {
    let start = core
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
        .result
        .as_ref()
        .and_then(|r| r.get("suspendable"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if start.status == TaskStatus::Completed && suspendable {
        Ok(())
    } else {
        Err(hint)
    }
}
