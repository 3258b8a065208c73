//! `Cluster`: the Orchard side of the inventory. It keeps the last VM and worker lists
//! read from the controller (refreshed by a poller thread every [`CLUSTER_POLL`] and
//! after every action) and the last error, so a down controller or bad credentials show
//! as a plain sentence in `/api/health` while the local side keeps working.
//!
//! Threading: one `Mutex<Cached>`, never held across a call to the controller; the
//! poller is the only thread that refreshes on a timer and ends at shutdown.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use serde_json::Value;

use crate::backend::orchard::model::{OrchardVm, OrchardWorker, worker_row};
use crate::backend::orchard::{OrchardClient, OrchardError};
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

/// The cluster backend's shared state.
pub struct Cluster {
    pub client: OrchardClient,
    cached: Mutex<Cached>,
    /// The cluster's unfinished tasks: a create's cancel switch, or `None` for the
    /// short ones (stop, delete), which cannot be cancelled.
    tasks: Mutex<HashMap<String, Option<Arc<AtomicBool>>>>,
}

/// What [`Cluster::cancel`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterCancel {
    /// Not a cluster task (or ended already).
    NotOurs,
    /// The switch is set; the task ends as cancelled at its next look (≤ 2 s).
    Requested,
    /// A stop or delete: short, not cancellable.
    NotCancellable,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Cluster {
    pub fn new(client: OrchardClient) -> Cluster {
        Cluster {
            client,
            cached: Mutex::new(Cached::default()),
            tasks: Mutex::new(HashMap::new()),
        }
    }

    /// Records a running cluster task; `cancellable` ones get a switch to watch.
    pub fn track(&self, id: &str, cancellable: bool) -> Option<Arc<AtomicBool>> {
        let switch = cancellable.then(|| Arc::new(AtomicBool::new(false)));
        lock(&self.tasks).insert(id.to_string(), switch.clone());
        switch
    }

    /// Forgets an ended task.
    pub fn untrack(&self, id: &str) {
        lock(&self.tasks).remove(id);
    }

    /// Asks task `id` to stop, if it is a cluster task that can.
    pub fn cancel(&self, id: &str) -> ClusterCancel {
        match lock(&self.tasks).get(id) {
            None => ClusterCancel::NotOurs,
            Some(None) => ClusterCancel::NotCancellable,
            Some(Some(switch)) => {
                switch.store(true, Ordering::SeqCst);
                ClusterCancel::Requested
            }
        }
    }

    /// Reads both lists from the controller; on failure keeps the last good lists and
    /// records the error.
    pub fn refresh(&self) -> Result<(), OrchardError> {
        let result = self
            .client
            .list_vms()
            .and_then(|vms| Ok((vms, self.client.list_workers()?)));
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

/// Starts the poller: a refresh now and every [`CLUSTER_POLL`] until `shutdown`
/// disconnects.
pub fn spawn_poller(cluster: Arc<Cluster>, shutdown: Receiver<()>) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("orchard-poller".into())
        .spawn(move || {
            loop {
                let _ = cluster.refresh();
                match shutdown.recv_timeout(CLUSTER_POLL) {
                    Err(RecvTimeoutError::Timeout) => {}
                    _ => return,
                }
            }
        })
        .expect("cannot start the Orchard poller thread")
}
