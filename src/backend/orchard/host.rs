//! [`OrchardHost`]: an Orchard cluster as a [`Backend`], the second implementation of
//! the seam beside the local tart CLI. Lists come from the poller's cache
//! ([`ClusterCache`]), one VM's details and address from the controller; it carries out
//! a provision (a create from an image, [`follow`](super::follow)), a stop (Orchard's
//! one-way power state) and a delete, and refuses what Orchard cannot do.
//!
//! The cluster-only reads of api-next §8 (rows with a worker and Orchard's message,
//! worker rows, health, events) are this type's own methods, used by the web side's
//! cluster handlers: the core knows the cluster only as a `Backend`.
//!
//! Threading: shared by every thread; the cache has its own lock, never held across a
//! call to the controller.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use serde::Deserialize;

use super::cache::{ClusterCache, spawn_poller};
use super::model::OrchardVm;
use super::{OrchardClient, OrchardError, follow};
use crate::backend::host::{
    Backend, Capabilities, Done, Failure, HostError, HostVersion, ListEntry, OpRequest, OpSink,
    PruneEntry, PruneOptions, VmDetails, VmExitHook, VmState,
};
use crate::util::sync::lock;

/// How long a stop may take to be confirmed by the worker (Orchard's workers sync every
/// 5 s; a guest shutdown takes seconds to a minute).
pub const STOP_TIMEOUT: Duration = Duration::from_secs(600);

/// How often a stop asks whether the worker confirmed it: a worker syncs every 5 s, so
/// a quarter second adds little to the wait and costs a small `GET`.
pub const STOP_POLL: Duration = Duration::from_millis(250);

/// An Orchard cluster, reached through its controller.
pub struct OrchardHost {
    pub client: OrchardClient,
    pub cache: Arc<ClusterCache>,
    /// The controller's last version answer (see [`Backend::known_version`]).
    version: Mutex<Option<Result<HostVersion, HostError>>>,
}

/// `GET /v1/controller/info`, as far as it is read.
#[derive(Deserialize, Default)]
#[serde(default)]
struct ControllerInfo {
    version: String,
}

impl OrchardHost {
    pub fn new(client: OrchardClient) -> OrchardHost {
        OrchardHost {
            client,
            cache: Arc::new(ClusterCache::default()),
            version: Mutex::new(None),
        }
    }

    /// Starts the thread that keeps the cache current until `shutdown` disconnects.
    pub fn spawn_poller(&self, shutdown: Receiver<()>) -> JoinHandle<()> {
        spawn_poller(self.client.clone(), self.cache.clone(), shutdown)
    }

    /// The VM as the controller has it now, its absence worded for the cluster.
    pub fn fetch(&self, name: &str) -> Result<OrchardVm, HostError> {
        self.client.get_vm(name).map_err(|e| host_error(e, name))
    }

    /// The VM's startup-script output (Orchard's events), oldest first.
    pub fn events(&self, name: &str) -> Result<Vec<String>, HostError> {
        self.client.events(name).map_err(|e| host_error(e, name))
    }

    /// Carries out `request` (the cache is refreshed by the caller).
    fn carry_out(&self, request: OpRequest, sink: &mut dyn OpSink) -> Result<Done, Failure> {
        match request {
            OpRequest::Provision(p) => {
                follow::create(&self.client, &self.cache, &p, sink).map(|machine| {
                    Done::Provisioned {
                        backend: self.kind(),
                        machine,
                    }
                })
            }
            OpRequest::Stop { name } => self.stop(&name, sink).map(|()| Done::Ok),
            OpRequest::Delete { name } => {
                sink.note(format!(
                    "DELETE {}/v1/vms/{name}",
                    self.client.endpoint.url()
                ));
                self.client
                    .delete_vm(&name)
                    .map(|()| Done::Ok)
                    .map_err(|e| Failure::Failed(e.to_string()))
            }
            other => Err(Failure::Failed(cannot(&other))),
        }
    }

    /// Sets `powerState: stopped` (Orchard never goes back) and waits until the worker
    /// confirms: it observed the new generation and the VM no longer runs.
    fn stop(&self, name: &str, sink: &mut dyn OpSink) -> Result<(), Failure> {
        let failed = |e: OrchardError| Failure::Failed(e.to_string());
        sink.note(format!(
            "PUT {}/v1/vms/{name} powerState=stopped",
            self.client.endpoint.url()
        ));
        let mut vm = self
            .client
            .set_power_state(name, "stopped")
            .map_err(failed)?;
        sink.stage(Some("stopping"));
        let deadline = Instant::now() + STOP_TIMEOUT;
        while vm.observed_generation < vm.generation || vm.condition("running") == Some(true) {
            if Instant::now() >= deadline || sink.shutting_down() {
                return Err(Failure::Failed(
                    "the worker did not confirm the stop in time; Orchard will still stop it"
                        .into(),
                ));
            }
            std::thread::sleep(STOP_POLL);
            vm = self.client.get_vm(name).map_err(failed)?;
            if vm.status == "failed" {
                return Err(Failure::Failed(format!(
                    "the VM failed while stopping: {}",
                    vm.status_message
                )));
            }
        }
        sink.note(vm.status_message);
        Ok(())
    }
}

/// A controller error about VM `name` in the seam's terms.
fn host_error(e: OrchardError, name: &str) -> HostError {
    match e {
        OrchardError::NotFound => {
            HostError::NotFound(format!("VM {name:?} not found on the Orchard cluster"))
        }
        OrchardError::Unreachable(_) => HostError::Unavailable(e.to_string()),
        other => HostError::Failed(other.to_string()),
    }
}

/// Why Orchard cannot carry out `request`: it has no API for it.
fn cannot(request: &OpRequest) -> String {
    let what = match request {
        OpRequest::Start { .. } => "start a VM again (its power state only goes one way)",
        OpRequest::ShutDown { .. } => "ask a guest to shut down",
        OpRequest::Suspend { .. } => "suspend a VM from here",
        OpRequest::Pull { .. } => "pull an image by itself",
        OpRequest::Clone { .. } => "clone a VM",
        OpRequest::Create { .. } => "create an empty VM",
        OpRequest::Configure { .. } => "change a VM's settings",
        OpRequest::Rename { .. } => "rename a VM",
        OpRequest::Prune { .. } => "prune the workers' caches",
        OpRequest::Login { .. } | OpRequest::Logout { .. } => "log in to registries",
        OpRequest::Provision(_) | OpRequest::Stop { .. } | OpRequest::Delete { .. } => "do that",
    };
    format!("an Orchard cluster cannot {what}")
}

impl Backend for OrchardHost {
    fn kind(&self) -> &'static str {
        "orchard"
    }

    /// Orchard offers none of these: no suspend through this server (the power state
    /// is one-way), no rename or settings after create, no disk clone, and no screen
    /// proxy yet (its port-forward WebSocket is not built).
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            suspend: false,
            rename: false,
            settings: false,
            clone: false,
            console: false,
        }
    }

    fn version(&self) -> Result<HostVersion, HostError> {
        let reply = self
            .client
            .call("GET", "/v1/controller/info", None)
            .map_err(|e| host_error(e, ""))
            .and_then(|reply| match reply.status {
                200 => serde_json::from_slice::<ControllerInfo>(&reply.body).map_err(|e| {
                    HostError::Failed(format!("bad controller info from Orchard: {e}"))
                }),
                status => Err(host_error(
                    super::error::from_status(status, &reply.body),
                    "",
                )),
            });
        let answer = reply.map(|info| HostVersion {
            version: info.version,
            warnings: Vec::new(),
        });
        *lock(&self.version) = Some(answer.clone());
        answer
    }

    fn known_version(&self) -> Option<Result<HostVersion, HostError>> {
        lock(&self.version).clone()
    }

    /// The cached VMs (the poller's last list): Orchard has no image cache to list.
    fn list(&self) -> Result<Vec<ListEntry>, HostError> {
        Ok(self
            .cache
            .vms()
            .into_iter()
            .map(|vm| ListEntry {
                state: Some(vm.row()["state"].as_str().unwrap_or_default().to_string()),
                disk_gb: (vm.disk_size > 0).then_some(vm.disk_size),
                name: vm.name,
                source: None,
                size_gb: None,
                accessed: None,
            })
            .collect())
    }

    fn details(&self, name: &str) -> Result<VmDetails, HostError> {
        let vm = self.fetch(name)?;
        let row = vm.row();
        let (cpu, memory) = (vm.effective_cpu(), vm.effective_memory());
        Ok(VmDetails {
            os: (!vm.os.is_empty()).then(|| vm.os.clone()),
            cpu: (cpu > 0).then_some(cpu),
            memory_mib: (memory > 0).then_some(memory),
            disk_gb: (vm.disk_size > 0).then_some(vm.disk_size),
            display: None,
            disk_format: None,
            state: row["state"].as_str().map(str::to_string),
            raw: row,
        })
    }

    /// No files of the cluster's VMs are on this machine.
    fn details_from_files(&self, _listed: &HashSet<&str>) -> HashMap<String, VmDetails> {
        HashMap::new()
    }

    /// The address on the worker's network (not reachable from here, api-next §8).
    fn ip(&self, name: &str) -> Result<Option<String>, HostError> {
        self.client.ip(name).map_err(|e| host_error(e, name))
    }

    /// A cluster VM's state can only be asked of the controller.
    fn state_now(&self, _name: &str) -> Option<VmState> {
        None
    }

    /// Names are unique cluster-wide; the poller's last list says which are taken.
    fn name_in_use(&self, name: &str) -> bool {
        self.cache.vm(name).is_some()
    }

    fn disk_gb(&self, name: &str) -> Option<u64> {
        self.cache
            .vm(name)
            .and_then(|vm| (vm.disk_size > 0).then_some(vm.disk_size))
    }

    fn guest_os(&self, name: &str) -> Option<String> {
        self.cache
            .vm(name)
            .and_then(|vm| (!vm.os.is_empty()).then_some(vm.os))
    }

    fn prune_preview(&self, options: &PruneOptions) -> Result<Vec<PruneEntry>, HostError> {
        Err(HostError::Refused(cannot(&OpRequest::Prune {
            options: *options,
        })))
    }

    /// The workers' image caches are not visible through Orchard's API.
    fn has_image(&self, _repository: &str, _tag: &str) -> bool {
        false
    }

    /// The cluster's VMs run under their workers, never as this server's children.
    fn on_vm_exit(&self, _hook: VmExitHook) {}

    /// A stop needs a VM that runs or waits (and is not failed); a delete one that
    /// exists; a provision a name no cluster VM has; the rest Orchard cannot do.
    fn admits(&self, request: &OpRequest) -> Result<(), HostError> {
        match request {
            OpRequest::Provision(p) if self.name_in_use(&p.name) => {
                Err(HostError::Refused(format!(
                    "a VM named {:?} already exists on the Orchard cluster",
                    p.name
                )))
            }
            OpRequest::Provision(_) => Ok(()),
            OpRequest::Stop { name } => {
                let vm = self.fetch(name)?;
                if vm.actions().contains(&"stop") {
                    return Ok(());
                }
                Err(HostError::Refused(format!(
                    "VM {name:?} cannot be stopped: it is {} with power state {}",
                    vm.status, vm.power_state
                )))
            }
            OpRequest::Delete { name } => self.fetch(name).map(drop),
            other => Err(HostError::Refused(cannot(other))),
        }
    }

    /// Carries out `request`, then reads the lists again, so the rows show its effect
    /// (or whatever a failure left) before the task ends.
    fn execute(&self, request: OpRequest, sink: &mut dyn OpSink) -> Result<Done, Failure> {
        let outcome = self.carry_out(request, sink);
        let _ = self.cache.refresh(&self.client);
        outcome
    }
}

#[cfg(test)]
#[path = "host_tests.rs"]
mod tests;
