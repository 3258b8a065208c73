//! The worker pool that runs task jobs: [`TASK_WORKERS`] threads, at most
//! [`MAX_QUEUED_TASKS`] jobs waiting, and jobs that share a key (a VM name) run one at a
//! time in submission order while jobs on other keys run in parallel.
//!
//! Threading: a job for a busy key waits in that key's queue, not in a worker, so a VM
//! with a long start cannot tie up more than one worker. The key map's lock is never
//! held while a job runs.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};

use crate::limits::{MAX_QUEUED_TASKS, TASK_WORKERS};
use crate::util::sync::lock;

/// A unit of work.
pub type Job = Box<dyn FnOnce() + Send + 'static>;

/// Returned when [`MAX_QUEUED_TASKS`] jobs are already waiting.
#[derive(Debug)]
pub struct QueueFull;

struct Keyed {
    key: String,
    job: Job,
}

struct Shared {
    /// Keys with a job queued or running, and the jobs waiting behind it.
    busy: Mutex<HashMap<String, VecDeque<Job>>>,
    waiting: AtomicUsize,
    tx: Mutex<Option<Sender<Keyed>>>,
}

/// Runs jobs on a fixed set of threads.
pub struct WorkerPool {
    shared: Arc<Shared>,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

impl WorkerPool {
    /// Starts the workers.
    pub fn spawn_workers() -> WorkerPool {
        let (tx, rx) = crossbeam_channel::unbounded::<Keyed>();
        let shared = Arc::new(Shared {
            busy: Mutex::new(HashMap::new()),
            waiting: AtomicUsize::new(0),
            tx: Mutex::new(Some(tx)),
        });
        let workers = (0..TASK_WORKERS)
            .map(|i| {
                let (shared, rx) = (shared.clone(), rx.clone());
                std::thread::Builder::new()
                    .name(format!("task-worker-{i}"))
                    .spawn(move || work(&shared, &rx))
                    .expect("cannot start a task worker thread")
            })
            .collect();
        WorkerPool {
            shared,
            workers: Mutex::new(workers),
        }
    }

    /// Queues `job` behind every earlier job with the same `key`.
    pub fn submit(&self, key: &str, job: Job) -> Result<(), QueueFull> {
        let shared = &self.shared;
        if shared.waiting.fetch_add(1, Ordering::SeqCst) >= MAX_QUEUED_TASKS {
            shared.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(QueueFull);
        }
        let mut busy = lock(&shared.busy);
        match busy.get_mut(key) {
            Some(queue) => queue.push_back(job),
            None => {
                busy.insert(key.to_string(), VecDeque::new());
                dispatch(
                    shared,
                    Keyed {
                        key: key.to_string(),
                        job,
                    },
                );
            }
        }
        Ok(())
    }

    /// Stops taking jobs, lets the workers finish what is queued, and joins them.
    pub fn shutdown(&self) {
        lock(&self.shared.tx).take();
        let workers = std::mem::take(&mut *lock(&self.workers));
        for worker in workers {
            let _ = worker.join();
        }
    }
}

impl Drop for WorkerPool {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn dispatch(shared: &Shared, keyed: Keyed) {
    if let Some(tx) = lock(&shared.tx).as_ref() {
        let _ = tx.send(keyed);
    }
}

fn work(shared: &Shared, rx: &Receiver<Keyed>) {
    while let Ok(Keyed { key, job }) = rx.recv() {
        shared.waiting.fetch_sub(1, Ordering::SeqCst);
        // A panicking job must not take the worker down; the job itself marks its task.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
        let mut busy = lock(&shared.busy);
        let next = busy.get_mut(&key).and_then(VecDeque::pop_front);
        match next {
            Some(job) => dispatch(shared, Keyed { key, job }),
            None => {
                busy.remove(&key);
            }
        }
    }
}
