//! `create_vm` on a host that places VMs (a cluster): a VM made from an image with the
//! given resources, started headless, its startup script run. The task follows the
//! host's stages and completes once the VM runs; cancelling it while it runs removes
//! what it made (the host's business). Refused (409) when the host already has a VM of
//! that name (its rule, `Backend::admits`).

use serde_json::{Value, json};

use super::{Operation, Refusal, admitted};
use crate::backend::host::{Done, OpRequest, Provision as Spec};
use crate::core::tasks::Action;
use crate::core::tasks::scheduler::Lane;
use crate::core::{Core, Host};

/// Makes `spec.name` from `spec.image` on host `on`.
pub struct Provision {
    pub on: Host,
    pub spec: Spec,
}

impl Operation for Provision {
    const ACTION: Action = Action::CreateVm;

    fn target(&self) -> Option<&str> {
        Some(&self.spec.name)
    }

    fn host(&self) -> Host {
        self.on
    }

    /// A first pull of an image on a cluster's worker takes many minutes, and the VM
    /// may wait longer for a worker with room: the transfer lane.
    fn lane(&self) -> Lane {
        Lane::Transfer
    }

    fn check(&self, core: &Core) -> Result<(), Refusal> {
        admitted(core, self.on, &self.request())
    }

    fn request(&self) -> OpRequest {
        OpRequest::Provision(self.spec.clone())
    }

    /// None here: the host read its lists again before answering.
    fn effect(&self, _core: &Core, _done: &Done) {}

    fn result(&self, done: &Done) -> Value {
        let name = &self.spec.name;
        let (backend, machine) = match done {
            Done::Provisioned { backend, machine } => (*backend, machine.as_str()),
            _ => ("", ""),
        };
        json!({
            "message": format!("VM {name:?} is running on worker {machine}"),
            "name": name,
            "worker": machine,
            "backend": backend,
            "ip_address": Value::Null,
        })
    }
}
