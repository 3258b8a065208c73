//! Making VMs: `create_vm` (from a VM or an image, or empty: Linux, or macOS from a
//! restore image; then one change of settings) and `clone_vm` (a copy, optionally
//! started). Both refuse a taken name (409: tart would silently replace a VM of that
//! name, even a running one), a source that is not there (404) and a disk that would
//! shrink below the source's (422). They may download for hours: the transfer lane,
//! cancellable.
//!
//! Stages, as the host reports them: `pulling` (an image not cached yet) and `cloning`;
//! `downloading` and `installing` (a restore image); then `configuring` (the settings)
//! and, for a clone that starts, `starting`.

use serde_json::{Value, json};

use super::start::start_result;
use super::{Operation, Refusal, local_state, must_be_free, not_found};
use crate::backend::host::{
    Done, EmptyOs, Failure, OpRequest, OpSink, SetChanges, StartOptions, Started,
};
use crate::core::tasks::Action;
use crate::core::tasks::scheduler::{Keys, Lane};
use crate::core::tasks::sink::TaskSink;
use crate::core::{Core, validate};

/// A checked `POST /api/vms/create` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Create {
    pub name: String,
    /// A local VM or an image reference to copy; `None` makes an empty VM.
    pub source: Option<String>,
    pub empty: EmptyOs,
    pub cpu: Option<u64>,
    pub memory_gb: Option<u64>,
    /// For a copy: grow the disk to this (only when bigger than the source's).
    /// For an empty VM: its size.
    pub disk_gb: u64,
    /// Whether the body gave `disk_size` (a copy keeps its source's disk otherwise).
    pub disk_given: bool,
}

/// A copy source: a local VM (404 when missing) or an image reference. Returns its disk
/// size in GB when known.
fn source_disk(core: &Core, source: &str) -> Result<Option<u64>, Refusal> {
    if validate::vm_name(source).is_ok() {
        local_state(core, source)?;
        return Ok(core.backend.disk_gb(source));
    }
    if validate::oci_reference(source).is_ok() {
        // A cached image's size, when the inventory lists it ("50G").
        return Ok(core
            .inventory
            .vm(source)
            .and_then(|vm| vm.disk_size)
            .and_then(|s| s.trim_end_matches('G').parse::<f64>().ok())
            .map(|gb| gb as u64));
    }
    Err(not_found(source))
}

impl Create {
    /// The disk to grow a copy to: only a given size bigger than the source's.
    fn grow_to(&self, source_gb: Option<u64>) -> Option<u64> {
        (self.disk_given && self.source.is_some())
            .then_some(self.disk_gb)
            .filter(|gb| source_gb.is_none_or(|have| *gb > have))
    }
}

impl Operation for Create {
    const ACTION: Action = Action::CreateVm;

    fn target(&self) -> Option<&str> {
        Some(&self.name)
    }

    fn lane(&self) -> Lane {
        Lane::Transfer
    }

    fn check(&self, core: &Core) -> Result<(), Refusal> {
        if let Some(source) = &self.source {
            let have = source_disk(core, source)?;
            if let (true, Some(have)) = (self.disk_given, have)
                && self.disk_gb < have
            {
                return Err(Refusal::Invalid {
                    field: "disk_size",
                    message: format!(
                        "Value error, the disk can only grow: the source has {have} GB"
                    ),
                    input: json!(self.disk_gb),
                });
            }
        }
        must_be_free(core, &self.name)
    }

    fn request(&self) -> OpRequest {
        match &self.source {
            Some(source) => OpRequest::Clone {
                source: source.clone(),
                new_name: self.name.clone(),
            },
            None => OpRequest::Create {
                name: self.name.clone(),
                os: self.empty.clone(),
                disk_gb: self.disk_gb,
            },
        }
    }

    /// Make the VM, then change its settings in one step when the body asked for any.
    fn run(&self, core: &Core, sink: &mut TaskSink) -> Result<Done, Failure> {
        let source_gb = match &self.source {
            Some(source) => source_disk(core, source).ok().flatten(),
            None => None,
        };
        core.backend.execute(self.request(), sink)?;
        let changes = SetChanges {
            cpu: self.cpu,
            memory_mib: self.memory_gb.map(|gb| gb * 1024),
            disk_gb: self.grow_to(source_gb),
            ..SetChanges::default()
        };
        if !changes.is_empty() {
            sink.stage(Some("configuring"));
            let request = OpRequest::Configure {
                name: self.name.clone(),
                changes,
            };
            core.backend
                .execute(request, sink)
                .map_err(|failure| match failure {
                    Failure::Failed(why) => Failure::Failed(format!(
                        "VM {} was made, but its settings were not: {why}",
                        self.name
                    )),
                    cancelled => cancelled,
                })?;
        }
        sink.stage(None);
        Ok(Done::Ok)
    }

    fn result(&self, _done: &Done) -> Value {
        json!({ "message": format!("VM {} created", self.name), "name": self.name })
    }

    fn failure_changes_host(&self) -> bool {
        true
    }
}

/// `clone_vm`: copies `source` (a local VM or an image) to `new_name`, and starts the
/// copy when `start_after`.
pub struct Clone {
    pub source: String,
    pub new_name: String,
    pub start_after: bool,
}

impl Operation for Clone {
    const ACTION: Action = Action::CloneVm;

    fn target(&self) -> Option<&str> {
        Some(&self.new_name)
    }

    /// The source too: it must not be renamed or deleted while it is copied.
    fn keys(&self) -> Keys {
        Keys::Two(self.source.clone(), self.new_name.clone())
    }

    fn lane(&self) -> Lane {
        Lane::Transfer
    }

    fn check(&self, core: &Core) -> Result<(), Refusal> {
        source_disk(core, &self.source)?;
        must_be_free(core, &self.new_name)
    }

    fn request(&self) -> OpRequest {
        OpRequest::Clone {
            source: self.source.clone(),
            new_name: self.new_name.clone(),
        }
    }

    /// The copy, listed at once; then, when asked, its start.
    fn run(&self, core: &Core, sink: &mut TaskSink) -> Result<Done, Failure> {
        core.backend.execute(self.request(), sink)?;
        core.inventory.invalidate(&self.new_name);
        core.refresh_quietly();
        if !self.start_after {
            sink.stage(None);
            return Ok(Done::Ok);
        }
        sink.stage(Some("starting"));
        sink.progress(None);
        let request = OpRequest::Start {
            name: self.new_name.clone(),
            options: StartOptions::default(),
        };
        let done = core
            .backend
            .execute(request, sink)
            .map_err(|failure| match failure {
                Failure::Failed(why) => Failure::Failed(format!(
                    "VM {} was cloned from {}, but it did not start: {why}",
                    self.new_name, self.source
                )),
                cancelled => cancelled,
            })?;
        sink.stage(None);
        Ok(done)
    }

    fn effect(&self, core: &Core, done: &Done) {
        if let Done::Started(Started { ip, .. }) = done {
            let change = crate::core::inventory::Change::Started { ip: ip.clone() };
            core.inventory.apply(&self.new_name, change);
        }
    }

    fn result(&self, done: &Done) -> Value {
        let (source, name) = (&self.source, &self.new_name);
        match done {
            Done::Started(started) => {
                let mut result = start_result(name, Some(started));
                result["name"] = json!(name);
                result["message"] = json!(format!("VM {name} cloned from {source} and started"));
                result
            }
            _ => json!({ "message": format!("VM {name} cloned from {source}"), "name": name }),
        }
    }

    fn failure_changes_host(&self) -> bool {
        true
    }
}
