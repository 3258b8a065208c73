//! `ClusterCache`: what the server last read of the cluster. It keeps the VM and worker
//! lists (refreshed by a poller thread every [`CLUSTER_POLL`] and after every request
//! the host carries out) and the last error, so a down controller or bad credentials
//! show as a plain sentence in `/api/health` while the local side keeps working.
//!
//! It lives in the backend, not beside the core's inventory: its rows and worker rows
//! are Orchard's JSON mapped to api-next §8 (a worker, Orchard's status message, why a
//! VM waits), which the local inventory's rows do not have; see docs/architecture.md.
//!
//! Threading: one `Mutex<Cached>`, never held across a call to the controller; the
//! poller is the only thread that refreshes on a timer and ends at shutdown.

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use serde_json::Value;

use super::model::{OrchardVm, OrchardWorker, worker_row};
use super::{OrchardClient, OrchardError};
use crate::util::sync::lock;

/// How often the VM and worker lists are read from the controller. Orchard has no list
/// watch (only per-VM watches), and its own guidance is to poll `GET /v1/vms`; 2 s keeps
/// the UI current at one small request per second on average.
pub const CLUSTER_POLL: Duration = Duration::from_secs(2);

#[derive(Default)]
struct Cached {
    vms: Vec<OrchardVm>,
    workers: Vec<OrchardWorker>,
    /// The last refresh's failure, in words; `None` after a good one.
    error: Option<String>,
    /// Whether any refresh has finished (good or bad).
    tried: bool,
}

/// The cluster's last lists and how reading them went.
#[derive(Default)]
pub struct ClusterCache {
    cached: Mutex<Cached>,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl ClusterCache {
    /// Reads both lists from the controller; on failure keeps the last good lists and
    /// records the error.
    pub fn refresh(&self, client: &OrchardClient) -> Result<(), OrchardError> {
        let result = client
            .list_vms()
            .and_then(|vms| Ok((vms, client.list_workers()?)));
        let mut c = lock(&self.cached);
        c.tried = true;
        match result {
            Ok((vms, workers)) => {
                c.vms = vms;
                c.workers = workers;
                c.error = None;
                Ok(())
            }
            Err(e) => {
                c.error = Some(e.to_string());
                Err(e)
            }
        }
    }

    /// `"ok"`, or the last error in words (`"not checked yet"` before the first try).
    pub fn health(&self) -> String {
        let c = lock(&self.cached);
        match (&c.error, c.tried) {
            (Some(e), _) => e.clone(),
            (None, true) => "ok".into(),
            (None, false) => "not checked yet".into(),
        }
    }

    /// The VM rows, by name.
    pub fn rows(&self) -> Vec<Value> {
        let c = lock(&self.cached);
        c.vms.iter().map(|v| with_pending_reason(v, &c)).collect()
    }

    /// The cached VMs, by name.
    pub fn vms(&self) -> Vec<OrchardVm> {
        lock(&self.cached).vms.clone()
    }

    /// One cached VM.
    pub fn vm(&self, name: &str) -> Option<OrchardVm> {
        lock(&self.cached)
            .vms
            .iter()
            .find(|v| v.name == name)
            .cloned()
    }

    /// The `GET /api/workers` rows.
    pub fn worker_rows(&self) -> Vec<Value> {
        let c = lock(&self.cached);
        let now = unix_now();
        c.workers
            .iter()
            .map(|w| worker_row(w, &c.vms, now))
            .collect()
    }

    /// Why a VM waits for a worker, when Orchard says nothing (its issue #394).
    pub fn pending_reason(&self, vm: &OrchardVm) -> Option<String> {
        pending_reason(vm, &lock(&self.cached))
    }
}

fn with_pending_reason(v: &OrchardVm, c: &Cached) -> Value {
    let mut row = v.row();
    if let Some(why) = pending_reason(v, c) {
        row["status_message"] = Value::String(why);
    }
    row
}

/// Orchard leaves `status_message` empty while no worker takes a VM; say why, from what
/// the server can see: no worker online, none of the VM's kind, or none with room.
fn pending_reason(v: &OrchardVm, c: &Cached) -> Option<String> {
    if v.status != "pending" || !v.worker.is_empty() || !v.status_message.is_empty() {
        return None;
    }
    let now = unix_now();
    let rows: Vec<Value> = c
        .workers
        .iter()
        .map(|w| worker_row(w, &c.vms, now))
        .collect();
    let usable: Vec<&Value> = rows
        .iter()
        .filter(|r| r["online"] == true && r["paused"] == false)
        .collect();
    Some(if usable.is_empty() {
        "waiting for a worker: no worker is online and accepting VMs".into()
    } else if !c.workers.iter().any(|w| {
        (v.arch.is_empty() || w.arch == v.arch) && (v.runtime.is_empty() || w.runtime == v.runtime)
    }) {
        format!(
            "waiting for a worker: no worker runs {}/{} VMs",
            v.arch, v.runtime
        )
    } else {
        "waiting for a worker with free resources (all online workers are full)".into()
    })
}

/// Starts the poller: a refresh of `cache` from `client` now and every
/// [`CLUSTER_POLL`] until `shutdown` disconnects.
pub fn spawn_poller(
    client: OrchardClient,
    cache: Arc<ClusterCache>,
    shutdown: Receiver<()>,
) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("orchard-poller".into())
        .spawn(move || {
            loop {
                let _ = cache.refresh(&client);
                match shutdown.recv_timeout(CLUSTER_POLL) {
                    Err(RecvTimeoutError::Timeout) => {}
                    _ => return,
                }
            }
        })
        .expect("cannot start the Orchard poller thread")
}
