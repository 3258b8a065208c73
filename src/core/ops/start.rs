//! `start_vm`: start a stopped or suspended VM (a suspended one resumes) with the
//! body's options, completing only on proof the VM runs (how a host proves it is its
//! own business: for tart, see `backend::tart::boot`). Waits on the boot-wait lane;
//! cancelling it stops the VM. Refused: an image (400), an unknown VM (404), a VM that
//! runs now (409, asked afresh).

use serde_json::{Value, json};

use super::{Operation, Refusal, find_vm, still_running};
use crate::backend::host::{Done, OpRequest, StartOptions, Started};
use crate::core::Core;
use crate::core::inventory::Change;
use crate::core::tasks::Action;
use crate::core::tasks::scheduler::Lane;

/// Starts `name` with `options`.
pub struct Start {
    pub name: String,
    pub options: StartOptions,
}

impl Operation for Start {
    const ACTION: Action = Action::StartVm;

    fn target(&self) -> Option<&str> {
        Some(&self.name)
    }

    fn lane(&self) -> Lane {
        Lane::BootWait
    }

    fn check(&self, core: &Core) -> Result<(), Refusal> {
        let name = &self.name;
        let vm = find_vm(core, name)?;
        if vm.source.as_deref() == Some("oci") {
            return Err(image_refusal(name));
        }
        if vm.status == "running" && still_running(core, name) {
            return Err(Refusal::Conflict(format!("VM {name:?} is already running")));
        }
        Ok(())
    }

    fn request(&self) -> OpRequest {
        OpRequest::Start {
            name: self.name.clone(),
            options: self.options.clone(),
        }
    }

    fn effect(&self, core: &Core, done: &Done) {
        let ip = started(done).and_then(|s| s.ip.clone());
        core.inventory.apply(&self.name, Change::Started { ip });
    }

    fn result(&self, done: &Done) -> Value {
        start_result(&self.name, started(done))
    }
}

/// The 400 of a start of a cached image.
pub fn image_refusal(name: &str) -> Refusal {
    Refusal::Unsuitable(format!(
        "{name:?} is an OCI image; clone it to a local VM to run it"
    ))
}

fn started(done: &Done) -> Option<&Started> {
    match done {
        Done::Started(s) => Some(s),
        _ => None,
    }
}

/// A start's result: `vnc_url` exactly as the host printed it (api-next §3).
pub fn start_result(name: &str, started: Option<&Started>) -> Value {
    json!({
        "message": format!("VM {name} started"),
        "ip_address": started.and_then(|s| s.ip.clone()),
        "vnc_url": started.and_then(|s| s.vnc_url.clone()),
        "display": started.map(|s| s.display.as_str()),
        "suspendable": started.is_some_and(|s| s.suspendable),
    })
}
