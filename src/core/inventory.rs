//! The VM inventory: what `tart list` says, enriched with each VM's settings (read from
//! its `config.json`, or `tart get` cached per VM where that fails; see `tart::home`) and
//! `tart ip` (for running VMs), kept in memory and serialized once per change so that
//! `GET /api/vms` costs almost nothing.
//!
//! Threading: refreshes are single-flight: a caller waits for the refresh in progress
//! only if it started after the caller arrived, else it runs one itself. `tart` runs
//! with no lock held; the state lock is taken only to read or swap results. The
//! serialized list has its own `RwLock`, so the hot `GET /api/vms` path never queues
//! behind another reader: with 16 HTTP workers on 2 cores, a worker preempted while
//! holding a plain mutex makes the others wait out its time slice.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use serde::Serialize;
use serde_json::Value;

use super::events::EventHub;
use super::vm::Vm;
use crate::backend::host::{Backend, Capabilities, HostError, ListEntry, VmDetails};
use crate::limits::REFRESH_PARALLELISM;
use crate::util::sync::lock;

/// A VM as it is published: its fields and the `actions` allowed on it now.
#[derive(Serialize)]
pub struct Row<'a> {
    #[serde(flatten)]
    vm: &'a Vm,
    actions: Vec<&'static str>,
}

impl<'a> Row<'a> {
    /// `vm` with its actions on a host that can do `host`, as `GET /api/vms` lists it.
    pub fn new(vm: &'a Vm, host: Capabilities) -> Row<'a> {
        Row {
            vm,
            actions: super::vm_actions::actions(vm, host),
        }
    }
}

/// A VM's configuration (`api-spec.md`, "VM config").
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VmConfig {
    pub name: String,
    pub cpu: Option<u64>,
    pub memory: Option<String>,
    pub disk_size: Option<String>,
    pub raw: Value,
}

/// What a finished action did to a VM (see [`Inventory::apply`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Started {
        ip: Option<String>,
    },
    Stopped,
    Deleted,
    /// Its configuration may have changed (see [`Inventory::invalidate`]).
    Invalidated,
}

impl Change {
    fn apply_to(&self, vms: &mut Vec<Vm>, name: &str) {
        match self {
            Change::Deleted => vms.retain(|vm| vm.name != name),
            Change::Started { ip } => set_state(vms, name, "running", ip.clone()),
            Change::Stopped => set_state(vms, name, "stopped", None),
            Change::Invalidated => {}
        }
    }
}

fn set_state(vms: &mut [Vm], name: &str, state: &'static str, ip: Option<String>) {
    if let Some(vm) = vms.iter_mut().find(|vm| vm.name == name) {
        vm.status = state;
        vm.state = Some(state.to_string());
        vm.ip_address = ip;
    }
}

/// Why a refresh failed; the inventory kept its last good state.
#[derive(Debug, Clone)]
pub struct RefreshFailed {
    pub detail: String,
}

struct State {
    vms: Vec<Vm>,
    details: HashMap<String, VmDetails>,
    /// Names whose cached details must be fetched again (a task changed them).
    stale: HashSet<String>,
    last_error: Option<String>,
    /// When the newest finished refresh started.
    last_refresh_started: Option<Instant>,
    /// Changes applied while a refresh is running: its `tart list` may predate them, so
    /// they are applied again to its result.
    changes_during_refresh: Option<Vec<(String, Change)>>,
}

/// The cached inventory.
pub struct Inventory {
    state: Mutex<State>,
    /// `vms` serialized; written only under the `state` lock, read without it.
    json: RwLock<Arc<[u8]>>,
    refresh_gate: Mutex<()>,
    /// Where changes to the list are told (`vm` events).
    events: Arc<EventHub>,
    /// What the host can do at all: rows never offer more.
    host: Capabilities,
}

impl Inventory {
    /// `vm` as a row of this inventory's host (with its `actions`).
    pub fn row<'a>(&self, vm: &'a Vm) -> Row<'a> {
        Row::new(vm, self.host)
    }

    /// An empty inventory that tells `events` about every change to its list.
    pub fn new(events: Arc<EventHub>, host: Capabilities) -> Inventory {
        Inventory {
            host,
            state: Mutex::new(State {
                vms: Vec::new(),
                details: HashMap::new(),
                stale: HashSet::new(),
                last_error: None,
                last_refresh_started: None,
                changes_during_refresh: None,
            }),
            json: RwLock::new(Arc::from(&b"[]"[..])),
            refresh_gate: Mutex::new(()),
            events,
        }
    }

    /// The cached list, serialized.
    pub fn json(&self) -> Arc<[u8]> {
        self.json
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// One cached VM.
    pub fn vm(&self, name: &str) -> Option<Vm> {
        lock(&self.state)
            .vms
            .iter()
            .find(|vm| vm.name == name)
            .cloned()
    }

    /// Records in the cached list what a finished action did to a VM, so that a client
    /// that sees the task end also sees its effect; the next refresh confirms it.
    pub fn apply(&self, name: &str, change: Change) {
        let mut state = lock(&self.state);
        if let Some(changes) = state.changes_during_refresh.as_mut() {
            changes.push((name.to_string(), change.clone()));
        }
        change.apply_to(&mut state.vms, name);
        self.publish(&state.vms);
    }

    /// Serializes `vms` for `GET /api/vms` and tells the event hub, which emits an event
    /// per VM that differs. Called with the state lock held, so lists reach the hub in
    /// the order they were made (`core::events::hub`).
    fn publish(&self, vms: &[Vm]) {
        let each: Vec<(String, String)> = vms
            .iter()
            .map(|vm| {
                let json = serde_json::to_string(&Row::new(vm, self.host))
                    .expect("a Vm always serializes");
                (vm.name.clone(), json)
            })
            .collect();
        let mut list =
            String::with_capacity(each.iter().map(|(_, j)| j.len() + 1).sum::<usize>() + 2);
        list.push('[');
        for (i, (_, json)) in each.iter().enumerate() {
            if i > 0 {
                list.push(',');
            }
            list.push_str(json);
        }
        list.push(']');
        *self
            .json
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::from(list.into_bytes());
        self.events.set_vms(each);
    }

    /// Marks a VM's cached configuration as outdated (a task changed the VM).
    pub fn invalidate(&self, name: &str) {
        let mut state = lock(&self.state);
        state.stale.insert(name.to_string());
        if let Some(changes) = state.changes_during_refresh.as_mut() {
            changes.push((name.to_string(), Change::Invalidated));
        }
    }

    /// Refreshes from `tart` unless a refresh that started after this call arrived has
    /// already finished, and returns the list.
    pub fn refresh(&self, host: &dyn Backend) -> Result<Arc<[u8]>, RefreshFailed> {
        let arrived = Instant::now();
        let _gate = lock(&self.refresh_gate);
        {
            let state = lock(&self.state);
            if state.last_refresh_started.is_some_and(|t| t > arrived) {
                return match &state.last_error {
                    None => Ok(self.json()),
                    Some(e) => Err(RefreshFailed { detail: e.clone() }),
                };
            }
        }
        let started = Instant::now();
        let result = self.refresh_now(host);
        let mut state = lock(&self.state);
        state.last_refresh_started = Some(started);
        match result {
            Ok(()) => {
                state.last_error = None;
                Ok(self.json())
            }
            Err(e) => {
                let detail = format!("refresh failed, showing the last good inventory: {e}");
                state.last_error = Some(detail.clone());
                Err(RefreshFailed { detail })
            }
        }
    }

    fn refresh_now(&self, host: &dyn Backend) -> Result<(), HostError> {
        lock(&self.state).changes_during_refresh = Some(Vec::new());
        let result = self.list_and_enrich(host);
        lock(&self.state).changes_during_refresh = None;
        result
    }

    fn list_and_enrich(&self, host: &dyn Backend) -> Result<(), HostError> {
        let entries = host.list()?;
        let (mut details, stale) = {
            let state = lock(&self.state);
            (state.details.clone(), state.stale.clone())
        };
        let is_local = |e: &ListEntry| e.source.as_deref() != Some("oci");
        // Settings come from each VM's config.json, fresh on every refresh, when the home
        // we see holds what tart listed; else, or where a file cannot be read, from
        // `tart get` (cached).
        let local: HashSet<&str> = entries
            .iter()
            .filter(|e| is_local(e))
            .map(|e| e.name.as_str())
            .collect();
        let mut files = host.details_from_files(&local);
        let mut from_files = HashMap::new();
        let mut jobs = Vec::new();
        for entry in &entries {
            if !is_local(entry) {
                continue;
            }
            if let Some(settings) = files.remove(&entry.name) {
                // A task changed this VM: its cached `tart get` (the config endpoint's)
                // is outdated, and this refresh does not fetch it again.
                if stale.contains(&entry.name) {
                    details.remove(&entry.name);
                }
                from_files.insert(entry.name.clone(), settings);
            } else if !details.contains_key(&entry.name) || stale.contains(&entry.name) {
                jobs.push(Query::Get(entry.name.clone()));
            }
            if entry.state.as_deref() == Some("running") {
                jobs.push(Query::Ip(entry.name.clone()));
            }
        }
        let answers = run_parallel(host, jobs);
        let mut ips = HashMap::new();
        for answer in answers {
            match answer {
                Answer::Get(name, Ok(d)) => {
                    details.insert(name, d);
                }
                // The VM may have vanished between list and get; it keeps null fields.
                Answer::Get(name, Err(_)) => {
                    details.remove(&name);
                }
                Answer::Ip(name, ip) => {
                    ips.insert(name, ip);
                }
            }
        }
        let names: HashSet<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        details.retain(|name, _| names.contains(name.as_str()));
        let vms: Vec<Vm> = entries
            .iter()
            .map(|e| {
                build_vm(
                    host.kind(),
                    e,
                    if is_local(e) {
                        from_files.get(&e.name).or_else(|| details.get(&e.name))
                    } else {
                        None
                    },
                    ips.remove(&e.name).flatten(),
                )
            })
            .collect();
        let mut state = lock(&self.state);
        let mut vms = vms;
        let changed_meanwhile = state.changes_during_refresh.take().unwrap_or_default();
        for (name, change) in &changed_meanwhile {
            change.apply_to(&mut vms, name);
        }
        self.publish(&vms);
        state.vms = vms;
        state.details = details;
        // Fetched now, unless a task changed the VM after this refresh began.
        state.stale.retain(|n| {
            !names.contains(n.as_str())
                || changed_meanwhile
                    .iter()
                    .any(|(name, c)| name == n && *c == Change::Invalidated)
        });
        Ok(())
    }

    /// The configuration of a local VM from the cache, unless `force` or outdated:
    /// `None` means ask the host ([`Inventory::config`]). Cheap.
    pub fn cached_config(&self, name: &str, force: bool) -> Option<VmConfig> {
        let state = lock(&self.state);
        if force || state.stale.contains(name) {
            return None;
        }
        state.details.get(name).map(|d| config_of(name, d.clone()))
    }

    /// The configuration of a local VM asked of the host (`tart get`), kept for
    /// [`Inventory::cached_config`].
    pub fn config(&self, host: &dyn Backend, name: &str) -> Result<VmConfig, HostError> {
        let details = host.details(name)?;
        let mut state = lock(&self.state);
        state.details.insert(name.to_string(), details.clone());
        state.stale.remove(name);
        Ok(config_of(name, details))
    }
}

/// The API's view of a VM's settings.
fn config_of(name: &str, details: VmDetails) -> VmConfig {
    VmConfig {
        name: name.to_string(),
        cpu: details.cpu,
        memory: details.memory_mib.map(memory_label),
        disk_size: details.disk_gb.map(disk_label),
        raw: details.raw,
    }
}

enum Query {
    Get(String),
    Ip(String),
}

enum Answer {
    Get(String, Result<VmDetails, HostError>),
    Ip(String, Option<String>),
}

/// Runs the per-VM queries on up to [`REFRESH_PARALLELISM`] threads.
fn run_parallel(host: &dyn Backend, jobs: Vec<Query>) -> Vec<Answer> {
    if jobs.is_empty() {
        return Vec::new();
    }
    let next = AtomicUsize::new(0);
    let answers = Mutex::new(Vec::with_capacity(jobs.len()));
    std::thread::scope(|scope| {
        for _ in 0..jobs.len().min(REFRESH_PARALLELISM) {
            scope.spawn(|| {
                while let Some(job) = jobs.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let answer = match job {
                        Query::Get(name) => Answer::Get(name.clone(), host.details(name)),
                        Query::Ip(name) => Answer::Ip(name.clone(), host.ip(name).ok().flatten()),
                    };
                    lock(&answers).push(answer);
                }
            });
        }
    });
    answers
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn build_vm(
    host_kind: &'static str,
    entry: &ListEntry,
    details: Option<&VmDetails>,
    ip: Option<String>,
) -> Vm {
    let state = entry
        .state
        .clone()
        .or_else(|| details.and_then(|d| d.state.clone()));
    let status = match state.as_deref() {
        Some("running") => "running",
        Some("stopped") => "stopped",
        _ => "unknown",
    };
    Vm {
        backend: host_kind,
        name: entry.name.clone(),
        status,
        state,
        ip_address: if status == "running" { ip } else { None },
        source: entry.source.clone(),
        os: details.and_then(|d| d.os.clone()),
        cpu: details.and_then(|d| d.cpu),
        memory: details.and_then(|d| d.memory_mib).map(memory_label),
        // tart's own `Disk` when `list` has it (2.6.1+): the files' apparent size is wrong
        // for ASIF disks, and newer tart counts those by their virtual size.
        disk_size: entry
            .disk_gb
            .or_else(|| details.and_then(|d| d.disk_gb))
            .map(disk_label),
        display: details.and_then(|d| d.display.clone()),
        disk_format: details.and_then(|d| d.disk_format.clone()),
        size_on_disk_gb: entry.size_gb,
        accessed: entry.accessed.clone(),
    }
}

/// Memory in MiB as the API shows it: whole GiB as `NG`, otherwise `NM`.
pub fn memory_label(mib: u64) -> String {
    if mib >= 1024 && mib.is_multiple_of(1024) {
        format!("{}G", mib / 1024)
    } else {
        format!("{mib}M")
    }
}

/// Disk in tart's GB as the API shows it: `50G`.
pub fn disk_label(gb: u64) -> String {
    format!("{gb}G")
}

#[cfg(test)]
#[path = "inventory_tests.rs"]
mod tests;
