//! `stop_vm`: power a VM off (`{"graceful": false}`, the seed's stop), or ask its guest
//! to shut down first and power it off only after a timeout (`{"graceful": true}`).
//! Refused (404) only when no such VM is known; stopping a stopped VM completes.

use std::time::Duration;

use serde_json::{Value, json};

use super::{Operation, Refusal, find_vm};
use crate::backend::host::{Done, OpRequest};
use crate::core::Core;
use crate::core::inventory::Change;
use crate::core::tasks::Action;
use crate::core::tasks::scheduler::Lane;

/// Stops `name`; `graceful`: the guest's shutdown wait, if any.
pub struct Stop {
    pub name: String,
    pub graceful: Option<Duration>,
}

impl Operation for Stop {
    const ACTION: Action = Action::StopVm;

    fn target(&self) -> Option<&str> {
        Some(&self.name)
    }

    /// A graceful stop mostly sleeps while the guest shuts down, up to minutes: the
    /// waiting lane, so quick actions keep their workers.
    fn lane(&self) -> Lane {
        match self.graceful {
            Some(_) => Lane::BootWait,
            None => Lane::Quick,
        }
    }

    fn check(&self, core: &Core) -> Result<(), Refusal> {
        find_vm(core, &self.name).map(drop)
    }

    fn request(&self) -> OpRequest {
        let name = self.name.clone();
        match self.graceful {
            Some(timeout) => OpRequest::ShutDown { name, timeout },
            None => OpRequest::Stop { name },
        }
    }

    fn effect(&self, core: &Core, _done: &Done) {
        core.inventory.apply(&self.name, Change::Stopped);
    }

    fn result(&self, done: &Done) -> Value {
        let name = &self.name;
        match done {
            Done::ShutDown => {
                json!({ "message": format!("VM {name} shut down"), "graceful": true })
            }
            _ => json!({ "message": format!("VM {name} stopped") }),
        }
    }
}
