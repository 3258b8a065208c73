//! `set_vm`: one change of a stopped VM's settings (CPU, memory, display, disk, a new
//! MAC). Refused: a VM that is not stopped (409: a change on a running VM alters the
//! live disk; on a suspended one a new MAC breaks the restore) and a disk that would
//! shrink (422).

use serde_json::{Value, json};

use super::{Operation, Refusal, must_be_stopped};
use crate::backend::host::{Done, OpRequest, SetChanges};
use crate::core::Core;
use crate::core::tasks::Action;

/// Changes `name`'s settings.
pub struct Settings {
    pub name: String,
    pub changes: SetChanges,
}

impl Operation for Settings {
    const ACTION: Action = Action::SetVm;

    fn target(&self) -> Option<&str> {
        Some(&self.name)
    }

    fn check(&self, core: &Core) -> Result<(), Refusal> {
        must_be_stopped(core, &self.name, "change")?;
        if let (Some(wanted), Some(have)) = (self.changes.disk_gb, core.backend.disk_gb(&self.name))
            && wanted < have
        {
            return Err(Refusal::Invalid {
                field: "disk_size",
                message: format!("Value error, the disk can only grow: it has {have} GB"),
                input: json!(wanted),
            });
        }
        Ok(())
    }

    fn request(&self) -> OpRequest {
        OpRequest::Configure {
            name: self.name.clone(),
            changes: self.changes.clone(),
        }
    }

    fn result(&self, _done: &Done) -> Value {
        let changes = &self.changes;
        let mut changed = Vec::new();
        if let Some(cpu) = changes.cpu {
            changed.push(format!("{cpu} CPUs"));
        }
        if let Some(mib) = changes.memory_mib {
            changed.push(format!("{} GB memory", mib / 1024));
        }
        if let Some(display) = &changes.display {
            changed.push(format!("display {display}"));
        }
        if let Some(gb) = changes.disk_gb {
            changed.push(format!("{gb} GB disk"));
        }
        if changes.random_mac {
            changed.push("a new MAC address".into());
        }
        json!({
            "message": format!("VM {} now has {}", self.name, changed.join(", ")),
            "name": self.name,
        })
    }

    fn failure_changes_host(&self) -> bool {
        true
    }
}
