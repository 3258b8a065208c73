//! `rename_vm`: rename a stopped (or suspended) VM to a free name. tart has no running
//! check, and a running VM's `tart run` keeps its old paths (its control socket and a
//! later suspend would break), so a running VM is refused (409); so is a new name that
//! is taken (tart answers exit 64 for every error).
//!
//! It holds both names while it runs, so no other job acts on the old name or makes the
//! new one meanwhile.

use serde_json::{Value, json};

use super::{Operation, Refusal, must_be_free, must_be_stopped};
use crate::backend::host::{Done, OpRequest};
use crate::core::Core;
use crate::core::tasks::Action;
use crate::core::tasks::scheduler::Keys;

/// Renames `name` to `new_name`.
pub struct Rename {
    pub name: String,
    pub new_name: String,
}

impl Operation for Rename {
    const ACTION: Action = Action::RenameVm;

    fn target(&self) -> Option<&str> {
        Some(&self.name)
    }

    fn keys(&self) -> Keys {
        Keys::Two(self.name.clone(), self.new_name.clone())
    }

    fn check(&self, core: &Core) -> Result<(), Refusal> {
        must_be_stopped(core, &self.name, "rename")?;
        must_be_free(core, &self.new_name)
    }

    fn request(&self) -> OpRequest {
        OpRequest::Rename {
            name: self.name.clone(),
            new_name: self.new_name.clone(),
        }
    }

    fn result(&self, _done: &Done) -> Value {
        let (name, new_name) = (&self.name, &self.new_name);
        json!({
            "message": format!("VM {name} renamed to {new_name}"),
            "name": new_name,
            "old_name": name,
        })
    }

    fn failure_changes_host(&self) -> bool {
        true
    }
}
