//! `stop_vm`: power a VM off (`{"graceful": false}`, the seed's stop), or ask its guest
//! to shut down first and power it off only after a timeout (`{"graceful": true}`).
//! Locally refused (404) only when no such VM is known; stopping a stopped VM completes.
//! On a cluster the host's rule decides (Orchard: only a VM that runs or waits, and
//! never back: `Backend::admits`).

use std::time::Duration;

use serde_json::{Value, json};

use super::{Operation, Refusal, admitted, find_vm};
use crate::backend::host::{Done, OpRequest};
use crate::core::inventory::Change;
use crate::core::tasks::Action;
use crate::core::tasks::scheduler::Lane;
use crate::core::{Core, Host};

/// Stops `name` on host `on`; `graceful`: the guest's shutdown wait, if any.
pub struct Stop {
    pub name: String,
    pub graceful: Option<Duration>,
    pub on: Host,
}

impl Operation for Stop {
    const ACTION: Action = Action::StopVm;

    fn target(&self) -> Option<&str> {
        Some(&self.name)
    }

    fn host(&self) -> Host {
        self.on
    }

    /// A graceful stop mostly sleeps while the guest shuts down, up to minutes, and a
    /// cluster's stop while its worker confirms it (up to minutes too): the waiting
    /// lane, so quick actions keep their workers.
    fn lane(&self) -> Lane {
        match (self.on, self.graceful) {
            (Host::Cluster, _) | (Host::Local, Some(_)) => Lane::BootWait,
            (Host::Local, None) => Lane::Quick,
        }
    }

    fn check(&self, core: &Core) -> Result<(), Refusal> {
        match self.on {
            Host::Local => find_vm(core, &self.name).map(drop),
            Host::Cluster => admitted(core, self.on, &self.request()),
        }
    }

    fn request(&self) -> OpRequest {
        let name = self.name.clone();
        match self.graceful {
            Some(timeout) => OpRequest::ShutDown { name, timeout },
            None => OpRequest::Stop { name },
        }
    }

    /// The local row shows it stopped; a cluster's host read its lists again already.
    fn effect(&self, core: &Core, _done: &Done) {
        if self.on == Host::Local {
            core.inventory.apply(&self.name, Change::Stopped);
        }
    }

    fn result(&self, done: &Done) -> Value {
        let name = &self.name;
        if self.on == Host::Cluster {
            return json!({ "message": format!("VM {name:?} stopped on the cluster"), "name": name });
        }
        match done {
            Done::ShutDown => {
                json!({ "message": format!("VM {name} shut down"), "graceful": true })
            }
            _ => json!({ "message": format!("VM {name} stopped") }),
        }
    }
}
