//! The scheduler that runs task jobs: three lanes of worker threads, so a short action
//! never waits behind a long one, and locks on VM names, so actions on one VM happen one
//! at a time in submission order while others run in parallel.
//!
//! - Lanes: [`Lane::Quick`] (stop, delete, settings, rename, suspend: seconds),
//!   [`Lane::Transfer`] (pull, clone from an image, create from an IPSW: up to hours),
//!   [`Lane::BootWait`] (a start's wait for its VM's address: up to minutes). Each has
//!   its own workers ([`TASK_WORKERS`], [`TRANSFER_WORKERS`], [`BOOT_WAIT_WORKERS`]).
//! - Locks ([`Keys`]): one name, two names (clone and rename touch a source and a
//!   target), or the whole home (prune). A job runs when no running job holds any of its
//!   names and no earlier waiting job wants one of them (first come, first served per
//!   name); a whole-home job excludes every other job, and waits for the earlier ones.
//! - Cancellation: every job carries a [`Cancel`]. [`Scheduler::cancel`] takes a waiting
//!   job out of its queue (it never runs) or fires a running job's switch, which ends its
//!   process group.
//!
//! Threading: one `Mutex` guards the queue and the running set; it is never held while
//! a job runs or while anything blocks. At most [`MAX_QUEUED_TASKS`] jobs wait.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};

use crate::limits::{BOOT_WAIT_WORKERS, MAX_QUEUED_TASKS, TASK_WORKERS, TRANSFER_WORKERS};
use crate::process::supervisor::Cancel;
use crate::util::sync::lock;

/// A unit of work.
pub type Job = Box<dyn FnOnce() + Send + 'static>;

/// What a lane's workers receive: the task id and its job.
type Dispatched = (String, Job);

/// Returned when [`MAX_QUEUED_TASKS`] jobs are already waiting.
#[derive(Debug, PartialEq, Eq)]
pub struct QueueFull;

/// Which workers run a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    Quick,
    Transfer,
    BootWait,
}

const LANES: [Lane; 3] = [Lane::Quick, Lane::Transfer, Lane::BootWait];

impl Lane {
    fn index(self) -> usize {
        self as usize
    }

    fn workers(self) -> usize {
        match self {
            Lane::Quick => TASK_WORKERS,
            Lane::Transfer => TRANSFER_WORKERS,
            Lane::BootWait => BOOT_WAIT_WORKERS,
        }
    }
}

/// The names a job locks while it waits and runs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(dead_code)] // Two is for rename and clone (source and target); pinned by the tests.
pub enum Keys {
    One(String),
    Two(String, String),
    /// The whole home: excludes every other job (prune).
    Home,
}

impl Keys {
    fn conflicts(&self, other: &Keys) -> bool {
        match (self, other) {
            (Keys::Home, _) | (_, Keys::Home) => true,
            _ => self
                .names()
                .iter()
                .any(|a| other.names().iter().any(|b| a == b)),
        }
    }

    /// The names held (none for the whole home, which holds everything).
    pub fn names(&self) -> Vec<&String> {
        match self {
            Keys::One(a) => vec![a],
            Keys::Two(a, b) => vec![a, b],
            Keys::Home => Vec::new(),
        }
    }
}

/// What [`Scheduler::cancel`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Cancelled {
    /// The job was waiting and was taken out of its queue: it will never run.
    WasWaiting,
    /// The job is running; its cancel switch fired.
    WasRunning,
    /// The job is running and was submitted as not cancellable while it runs.
    NotCancellable,
    /// No job with that id is waiting or running.
    Unknown,
}

struct Waiting {
    id: String,
    keys: Keys,
    lane: Lane,
    cancel: Cancel,
    cancellable: bool,
    job: Job,
}

struct Running {
    keys: Keys,
    cancel: Cancel,
    cancellable: bool,
}

struct State {
    waiting: VecDeque<Waiting>,
    running: HashMap<String, Running>,
    idle: [usize; 3],
    /// One sender per lane; `None` after shutdown began.
    lanes: Option<[Sender<Dispatched>; 3]>,
}

/// Runs jobs on fixed sets of threads, one set per lane.
pub struct Scheduler {
    state: Mutex<State>,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

impl Scheduler {
    /// Starts the workers of every lane.
    pub fn spawn_workers() -> std::sync::Arc<Scheduler> {
        let channels: Vec<(Sender<Dispatched>, Receiver<Dispatched>)> = LANES
            .iter()
            .map(|_| crossbeam_channel::unbounded())
            .collect();
        let senders = [
            channels[0].0.clone(),
            channels[1].0.clone(),
            channels[2].0.clone(),
        ];
        let scheduler = std::sync::Arc::new(Scheduler {
            state: Mutex::new(State {
                waiting: VecDeque::new(),
                running: HashMap::new(),
                idle: LANES.map(Lane::workers),
                lanes: Some(senders),
            }),
            workers: Mutex::new(Vec::new()),
        });
        let mut workers = Vec::new();
        for lane in LANES {
            for i in 0..lane.workers() {
                let rx = channels[lane.index()].1.clone();
                let weak = std::sync::Arc::downgrade(&scheduler);
                workers.push(
                    std::thread::Builder::new()
                        .name(format!("task-{lane:?}-{i}").to_lowercase())
                        .spawn(move || work(&weak, lane, &rx))
                        .expect("cannot start a task worker thread"),
                );
            }
        }
        *lock(&scheduler.workers) = workers;
        scheduler
    }

    /// Queues `job` (task `id`) on `lane`, behind every earlier job that wants one of
    /// its `keys`. While it runs, [`Scheduler::cancel`] fires its switch
    /// ([`Scheduler::cancel_handle`]) if it is `cancellable`; a waiting job can always be
    /// taken out.
    pub fn submit(
        &self,
        id: &str,
        keys: Keys,
        lane: Lane,
        cancellable: bool,
        job: Job,
    ) -> Result<(), QueueFull> {
        let cancel = Cancel::new();
        let mut state = lock(&self.state);
        if state.waiting.len() >= MAX_QUEUED_TASKS || state.lanes.is_none() {
            return Err(QueueFull);
        }
        state.waiting.push_back(Waiting {
            id: id.to_string(),
            keys,
            lane,
            cancel,
            cancellable,
            job,
        });
        pump(&mut state);
        Ok(())
    }

    /// Cancels job `id`: out of the queue if it waits, its switch fired if it runs.
    pub fn cancel(&self, id: &str) -> Cancelled {
        let mut state = lock(&self.state);
        if let Some(i) = state.waiting.iter().position(|w| w.id == id) {
            let waiting = state.waiting.remove(i).expect("the index was just found");
            waiting.cancel.cancel();
            // Jobs behind it may be free to go now.
            pump(&mut state);
            drop(state);
            drop(waiting.job); // outside the lock: a job's captures may be heavy.
            return Cancelled::WasWaiting;
        }
        match state.running.get(id) {
            Some(running) if running.cancellable => {
                running.cancel.cancel();
                Cancelled::WasRunning
            }
            Some(_) => Cancelled::NotCancellable,
            None => Cancelled::Unknown,
        }
    }

    /// The cancel switch of job `id` while it waits or runs: what its backend calls
    /// select on (`CliRunner::run_cancellable`).
    pub fn cancel_handle(&self, id: &str) -> Option<Cancel> {
        let state = lock(&self.state);
        if let Some(running) = state.running.get(id) {
            return Some(running.cancel.clone());
        }
        state
            .waiting
            .iter()
            .find(|w| w.id == id)
            .map(|w| w.cancel.clone())
    }

    /// Stops taking jobs, lets the workers finish what is queued, and joins them.
    pub fn shutdown(&self) {
        lock(&self.state).lanes.take();
        let workers = std::mem::take(&mut *lock(&self.workers));
        for worker in workers {
            let _ = worker.join();
        }
    }
}

/// Starts every waiting job that may start now, in queue order. A job that must wait
/// blocks its names for every later job, so each name is served first come, first
/// served; a waiting whole-home job blocks everything behind it.
fn pump(state: &mut State) {
    let Some(lanes) = state.lanes.clone() else {
        // Shutting down: what waits still runs, on whatever lane has room.
        return drain_on_shutdown(state);
    };
    let mut blocked: Vec<Keys> = Vec::new();
    let mut i = 0;
    while i < state.waiting.len() {
        let w = &state.waiting[i];
        let conflicts = state.running.values().any(|r| r.keys.conflicts(&w.keys))
            || blocked.iter().any(|k| k.conflicts(&w.keys));
        if conflicts || state.idle[w.lane.index()] == 0 {
            blocked.push(w.keys.clone());
            i += 1;
            continue;
        }
        let w = state.waiting.remove(i).expect("in range");
        state.idle[w.lane.index()] -= 1;
        state.running.insert(
            w.id.clone(),
            Running {
                keys: w.keys,
                cancel: w.cancel,
                cancellable: w.cancellable,
            },
        );
        let _ = lanes[w.lane.index()].send((w.id, w.job));
    }
}

/// At shutdown the lanes' senders are gone; the waiting jobs are dropped (their tasks
/// are failed by the server's shutdown, as before: the job's own check sees it).
fn drain_on_shutdown(state: &mut State) {
    state.waiting.clear();
}

fn work(scheduler: &std::sync::Weak<Scheduler>, lane: Lane, rx: &Receiver<Dispatched>) {
    while let Ok((id, job)) = rx.recv() {
        // A panicking job must not take the worker down; the job itself marks its task.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
        let Some(scheduler) = scheduler.upgrade() else {
            return;
        };
        let mut state = lock(&scheduler.state);
        state.running.remove(&id);
        state.idle[lane.index()] += 1;
        if state.lanes.is_some() {
            pump(&mut state);
        }
    }
}

#[cfg(test)]
#[path = "scheduler_tests.rs"]
mod tests;
