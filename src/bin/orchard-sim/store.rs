//! The controller's state: VMs (with each one's place in the fake worker's progression and
//! its events), workers (with their heartbeat switch), the store version, and the watch
//! subscribers.
//!
//! Threading: one `Mutex<State>` shared by the request threads and the ticker. Watchers
//! get lines through bounded channels filled with `try_send` under the lock, so nothing
//! under the lock ever blocks; a watcher that falls `WATCH_BACKLOG` lines behind is
//! dropped, as a client that stopped reading would be.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{Receiver, Sender, bounded};

use crate::model::{Event, Vm, Worker};

/// Lines a watch subscriber may fall behind before it is dropped: a VM writes a handful
/// of times in its life, so only a reader that stopped reading reaches this.
pub const WATCH_BACKLOG: usize = 256;

/// Where a VM is in the fake worker's progression (Orchard's worker `fsm.go`, reduced to
/// what the controller can observe).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Not placed on a worker yet (`status: pending`, `scheduled: false`).
    Waiting,
    Pulling,
    Cloning,
    Configuring,
    /// `tart run` started: `status: running`, the running condition not reported yet.
    Booting,
    Running,
    Stopping,
    Stopped,
    Failed,
}

/// A VM with what only the simulator knows about it.
pub struct Entry {
    pub vm: Vm,
    pub stage: Stage,
    /// When `stage` began; a stage lasts `State::phase`.
    pub since: Instant,
    /// Creation order, the order in which the scheduler looks at unscheduled VMs.
    pub seq: u64,
    pub events: Vec<Event>,
}

/// A worker with its heartbeat switch.
pub struct WorkerEntry {
    pub worker: Worker,
    /// False once a test made the worker stop sending heartbeats.
    pub heartbeat: bool,
    /// When `last_seen` was last set.
    pub seen: SystemTime,
}

/// Everything the controller holds.
pub struct State {
    pub vms: BTreeMap<String, Entry>,
    pub workers: BTreeMap<String, WorkerEntry>,
    watchers: HashMap<String, Vec<Sender<String>>>,
    version: u64,
    seq: u64,
    /// `optimize-utilization` (busiest worker first) or `distribute-load`.
    pub scheduler_profile: String,
    pub fail_images: Vec<String>,
    pub phase: Duration,
    pub offline_after: Duration,
}

/// The state shared between request threads and the ticker.
#[derive(Clone)]
pub struct Store(Arc<Mutex<State>>);

impl Store {
    pub fn new(phase: Duration, offline_after: Duration, fail_images: Vec<String>) -> Store {
        Store(Arc::new(Mutex::new(State {
            vms: BTreeMap::new(),
            workers: BTreeMap::new(),
            watchers: HashMap::new(),
            version: 0,
            seq: 0,
            scheduler_profile: "optimize-utilization".into(),
            fail_images,
            phase,
            offline_after,
        })))
    }

    /// The state, locked. A panic elsewhere leaves the data usable for a simulator.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl State {
    /// Adds a new VM (name checked free by the caller) and tells its watchers `ADDED`.
    pub fn insert(&mut self, mut vm: Vm) {
        self.version += 1;
        self.seq += 1;
        vm.version = self.version;
        self.notify(&vm.name.clone(), "ADDED", &vm);
        self.vms.insert(
            vm.name.clone(),
            Entry {
                vm,
                stage: Stage::Waiting,
                since: Instant::now(),
                seq: self.seq,
                events: Vec::new(),
            },
        );
    }

    /// Records a write to VM `name`: a new store version and a `MODIFIED` line.
    pub fn touch(&mut self, name: &str) {
        self.version += 1;
        let version = self.version;
        let Some(e) = self.vms.get_mut(name) else {
            return;
        };
        e.vm.version = version;
        let vm = e.vm.clone();
        self.notify(name, "MODIFIED", &vm);
    }

    /// Moves VM `name` to `stage` with `message`, as one write.
    pub fn advance(&mut self, name: &str, stage: Stage, message: &str) {
        if let Some(e) = self.vms.get_mut(name) {
            e.stage = stage;
            e.since = Instant::now();
            e.vm.status_message = message.into();
            self.touch(name);
        }
    }

    /// Removes VM `name` and its events at once; watchers see `DELETED` with a zero VM.
    pub fn remove(&mut self, name: &str) -> bool {
        if self.vms.remove(name).is_none() {
            return false;
        }
        self.version += 1;
        self.notify(name, "DELETED", &Vm::zero());
        true
    }

    /// Subscribes to VM `name` (existing or not): the first line is `ADDED` with the
    /// current object when the VM exists.
    pub fn watch(&mut self, name: &str) -> Receiver<String> {
        let (tx, rx) = bounded(WATCH_BACKLOG);
        if let Some(e) = self.vms.get(name) {
            let _ = tx.try_send(line("ADDED", &e.vm));
        }
        self.watchers.entry(name.into()).or_default().push(tx);
        rx
    }

    /// How many watch streams VM `name` has; one whose client left counts until the
    /// next line for the VM finds it gone. Lets a test know a watcher is subscribed.
    pub fn watcher_count(&self, name: &str) -> usize {
        self.watchers.get(name).map_or(0, Vec::len)
    }

    fn notify(&mut self, name: &str, kind: &str, vm: &Vm) {
        if let Some(subs) = self.watchers.get_mut(name) {
            let text = line(kind, vm);
            subs.retain(|tx| tx.try_send(text.clone()).is_ok());
        }
    }

    /// Whether worker `w` has been silent longer than the offline timeout.
    pub fn offline(&self, w: &WorkerEntry) -> bool {
        SystemTime::now()
            .duration_since(w.seen)
            .is_ok_and(|age| age > self.offline_after)
    }
}

/// One NDJSON watch line, without its newline; the object keeps the struct's key order.
fn line(kind: &str, vm: &Vm) -> String {
    let object = serde_json::to_string(vm).expect("serializable");
    format!("{{\"type\":\"{kind}\",\"object\":{object}}}")
}
