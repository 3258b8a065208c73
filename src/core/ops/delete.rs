//! `delete_vm`: delete a local VM or a cached image. A VM that runs now is refused
//! (409), asked afresh: one stopped a moment ago elsewhere is deleted.

use serde_json::{Value, json};

use super::{Operation, Refusal, find_vm, still_running};
use crate::backend::host::{Done, OpRequest};
use crate::core::Core;
use crate::core::inventory::Change;
use crate::core::tasks::Action;

/// Deletes the VM or image `name`.
pub struct Delete {
    pub name: String,
}

impl Operation for Delete {
    const ACTION: Action = Action::DeleteVm;

    fn target(&self) -> Option<&str> {
        Some(&self.name)
    }

    fn check(&self, core: &Core) -> Result<(), Refusal> {
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

    fn effect(&self, core: &Core, _done: &Done) {
        core.inventory.apply(&self.name, Change::Deleted);
    }

    /// "VM x deleted", or "Image x deleted" for a cached image: a VM name never holds a
    /// `/` (validate.rs) and an image reference always does.
    fn result(&self, _done: &Done) -> Value {
        let what = if self.name.contains('/') {
            "Image"
        } else {
            "VM"
        };
        json!({ "message": format!("{what} {} deleted", self.name) })
    }
}
