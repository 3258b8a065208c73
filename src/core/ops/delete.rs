//! `delete_vm`: delete a local VM or a cached image, or a cluster's VM. A local VM that
//! runs now is refused (409), asked afresh: one stopped a moment ago elsewhere is
//! deleted. A cluster deletes a VM in any state; it must exist (404).

use serde_json::{Value, json};

use super::{Operation, Refusal, admitted, find_vm, still_running};
use crate::backend::host::{Done, OpRequest};
use crate::core::inventory::Change;
use crate::core::tasks::Action;
use crate::core::{Core, Host};

/// Deletes the VM or image `name` on host `on`.
pub struct Delete {
    pub name: String,
    pub on: Host,
}

impl Operation for Delete {
    const ACTION: Action = Action::DeleteVm;

    fn target(&self) -> Option<&str> {
        Some(&self.name)
    }

    fn host(&self) -> Host {
        self.on
    }

    fn check(&self, core: &Core) -> Result<(), Refusal> {
        if self.on == Host::Cluster {
            return admitted(core, self.on, &self.request());
        }
        let vm = find_vm(core, &self.name)?;
        if vm.status == "running" && still_running(core, &self.name) {
            return Err(Refusal::Conflict(format!(
                "VM {:?} is running; stop it first",
                self.name
            )));
        }
        Ok(())
    }

    fn request(&self) -> OpRequest {
        OpRequest::Delete {
            name: self.name.clone(),
        }
    }

    /// The local row goes; a cluster's host read its lists again already.
    fn effect(&self, core: &Core, _done: &Done) {
        if self.on == Host::Local {
            core.inventory.apply(&self.name, Change::Deleted);
        }
    }

    /// "VM x deleted", or "Image x deleted" for a cached image: a VM name never holds a
    /// `/` (validate.rs) and an image reference always does.
    fn result(&self, _done: &Done) -> Value {
        if self.on == Host::Cluster {
            let name = &self.name;
            return json!({"message": format!("VM {name:?} deleted from the cluster"), "name": name});
        }
        let what = if self.name.contains('/') {
            "Image"
        } else {
            "VM"
        };
        json!({ "message": format!("{what} {} deleted", self.name) })
    }
}
