//! The task store: every task by id, the WebSocket subscribers of each, and eviction of
//! old finished tasks.
//!
//! Threading: one `Mutex` guards the map. Under it we only touch memory: a snapshot (a
//! copy of the task) is taken once per change and put in each subscriber's one-snapshot
//! slot, replacing one it has not taken yet, with a wake-up by `try_send` (never a
//! blocking send); journal records go to the journal thread's unbounded channel.
//! Subscribing takes the snapshot and registers the slot under one lock, so a subscriber
//! sees the current state and then the newest state after every change, with no gap: a
//! slow one skips states, never lines (each snapshot holds the task's whole kept log).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crossbeam_channel::Receiver;

use super::journal::JournalHandle;
use super::model::{Action, Task, TaskStatus};
use super::snapshot::{Snapshot, Subscriber, Subscription};
use crate::core::events::EventHub;
use crate::core::events::hub::TASK_EVENT_LOG_LINES;
use crate::limits::{JOURNAL_OUTPUT_EVERY, MAX_TASKS_KEPT};
use crate::util::sync::{lock, unix_now};

/// Which tasks `GET /api/tasks` lists (`api-next.md` §4).
#[derive(Debug, Clone, PartialEq)]
pub struct TaskQuery {
    /// Only tasks on this VM (or image reference).
    pub vm: Option<String>,
    pub action: Option<Action>,
    pub status: Option<TaskStatus>,
    /// At most this many.
    pub limit: usize,
    /// Only tasks created before this one (its id), for paging.
    pub before: Option<String>,
}

impl TaskQuery {
    fn selects(&self, task: &Task) -> bool {
        self.vm
            .as_ref()
            .is_none_or(|vm| task.vm_name.as_ref() == Some(vm))
            && self.action.is_none_or(|a| task.action == a)
            && self.status.is_none_or(|s| task.status == s)
    }
}

struct Entry {
    task: Task,
    subscribers: Vec<Subscriber>,
    /// Whether the task's job was accepted and so the task is journaled. A task whose job
    /// the queue refused (429) is never written: it would come back after a restart as
    /// an "interrupted" ghost that no client ever saw, pushing real tasks out.
    journaled: bool,
    /// When this task's state last went to the journal.
    journaled_at: Instant,
    /// Changed since then (output only; status changes are journaled at once).
    unjournaled: bool,
}

struct Inner {
    tasks: HashMap<String, Entry>,
    /// Ids in creation order, for eviction and listing.
    order: VecDeque<String>,
}

/// All tasks, shared by handlers, workers and WebSocket threads.
pub struct TaskStore {
    inner: Mutex<Inner>,
    journal: Option<JournalHandle>,
    /// Where every change is told (`task` events), under the map's lock so that events
    /// leave in the order the changes were made.
    events: Arc<EventHub>,
}

impl TaskStore {
    /// A store holding `restored` tasks (oldest first), journaling to `journal` and
    /// telling `events` about every change.
    pub fn new(
        restored: Vec<Task>,
        journal: Option<JournalHandle>,
        events: Arc<EventHub>,
    ) -> TaskStore {
        let mut inner = Inner {
            tasks: HashMap::new(),
            order: VecDeque::new(),
        };
        for mut task in restored {
            task.cancellable = task.can_be_cancelled();
            inner.order.push_back(task.id.clone());
            inner.tasks.insert(
                task.id.clone(),
                Entry {
                    task,
                    subscribers: Vec::new(),
                    journaled: true,
                    journaled_at: Instant::now(),
                    unjournaled: false,
                },
            );
        }
        TaskStore {
            inner: Mutex::new(inner),
            journal,
            events,
        }
    }

    /// The hub this store tells about changes.
    pub fn events(&self) -> &Arc<EventHub> {
        &self.events
    }

    /// Creates a pending task and returns it. It is journaled from [`TaskStore::accept`]
    /// on, once its job is queued; until then it lives in memory only.
    pub fn create(&self, action: Action, vm_name: Option<String>) -> Task {
        let task = Task::new(crate::util::random::uuid_v4(), action, vm_name, unix_now());
        let mut inner = lock(&self.inner);
        self.tell(&task);
        inner.order.push_back(task.id.clone());
        inner.tasks.insert(
            task.id.clone(),
            Entry {
                task: task.clone(),
                subscribers: Vec::new(),
                journaled: false,
                journaled_at: Instant::now(),
                unjournaled: false,
            },
        );
        evict(&mut inner, self.journal.as_ref());
        task
    }

    /// Starts journaling a task whose job was queued, with its state as it is now (its
    /// job may already have changed it).
    pub fn accept(&self, id: &str) {
        let mut inner = lock(&self.inner);
        if let Some(entry) = inner.tasks.get_mut(id) {
            entry.journaled = true;
            self.record(&entry.task);
            entry.journaled_at = Instant::now();
            entry.unjournaled = false;
        }
    }

    /// Removes a task that was never started (its job could not be queued).
    ///
    /// Event clients saw it pending, so they are told it failed before it goes.
    pub fn discard(&self, id: &str) {
        let mut inner = lock(&self.inner);
        if let Some(mut entry) = inner.tasks.remove(id) {
            entry.task.fail("not queued: too many tasks are waiting");
            self.tell(&entry.task);
            inner.order.retain(|x| x != id);
            if entry.journaled
                && let Some(journal) = &self.journal
            {
                journal.forget(id);
            }
        }
    }

    /// A copy of the task.
    pub fn get(&self, id: &str) -> Option<Task> {
        lock(&self.inner).tasks.get(id).map(|e| e.task.clone())
    }

    /// True if the task exists.
    pub fn contains(&self, id: &str) -> bool {
        lock(&self.inner).tasks.contains_key(id)
    }

    /// The task as JSON.
    pub fn get_json(&self, id: &str) -> Option<Vec<u8>> {
        let inner = lock(&self.inner);
        inner
            .tasks
            .get(id)
            .map(|e| serde_json::to_vec(&e.task).expect("a Task always serializes"))
    }

    /// The tasks `query` selects, newest first, as a JSON array; `None` when
    /// `query.before` names no task.
    pub fn query_json(&self, query: &TaskQuery) -> Option<Vec<u8>> {
        let inner = lock(&self.inner);
        let mut ids = inner.order.iter().rev();
        if let Some(before) = &query.before {
            inner.tasks.get(before)?;
            ids.by_ref().find(|id| *id == before);
        }
        let tasks: Vec<&Task> = ids
            .filter_map(|id| inner.tasks.get(id))
            .map(|e| &e.task)
            .filter(|t| query.selects(t))
            .take(query.limit)
            .collect();
        Some(serde_json::to_vec(&tasks).expect("a Task always serializes"))
    }

    /// A task's status, if it exists.
    pub fn status(&self, id: &str) -> Option<TaskStatus> {
        lock(&self.inner).tasks.get(id).map(|e| e.task.status)
    }

    /// The newest task for which `matches` holds, cloned.
    pub fn newest(&self, matches: impl Fn(&Task) -> bool) -> Option<Task> {
        let inner = lock(&self.inner);
        inner
            .order
            .iter()
            .rev()
            .filter_map(|id| inner.tasks.get(id))
            .map(|e| &e.task)
            .find(|t| matches(t))
            .cloned()
    }

    /// The pending and running tasks, newest first, as a JSON array
    /// (`GET /api/tasks/active`).
    pub fn active_json(&self) -> Vec<u8> {
        let inner = lock(&self.inner);
        let tasks: Vec<&Task> = inner
            .order
            .iter()
            .rev()
            .filter_map(|id| inner.tasks.get(id))
            .map(|e| &e.task)
            .filter(|t| !t.status.is_terminal())
            .collect();
        serde_json::to_vec(&tasks).expect("a Task always serializes")
    }

    /// Changes a task and tells its subscribers. Returns false if there is no such task.
    /// Status changes are journaled at once; other changes (log lines, progress) at most
    /// every [`JOURNAL_OUTPUT_EVERY`] (here, or by [`spawn_output_flusher`] when the task
    /// falls silent), which keeps the journal small under chatty output and still brings
    /// a task interrupted by a restart back with its log.
    pub fn update(&self, id: &str, change: impl FnOnce(&mut Task)) -> bool {
        let mut inner = lock(&self.inner);
        let Some(entry) = inner.tasks.get_mut(id) else {
            return false;
        };
        let before = entry.task.status;
        change(&mut entry.task);
        entry.task.updated_at = unix_now();
        entry.task.cancellable = entry.task.can_be_cancelled();
        if entry.journaled
            && (entry.task.status != before || entry.journaled_at.elapsed() >= JOURNAL_OUTPUT_EVERY)
        {
            self.record(&entry.task);
            entry.journaled_at = Instant::now();
            entry.unjournaled = false;
        } else if entry.journaled {
            entry.unjournaled = true;
        }
        self.tell(&entry.task);
        if !entry.subscribers.is_empty() {
            let snapshot = Snapshot::new(&entry.task);
            let terminal = snapshot.terminal;
            // A client that has not taken the last state gets this one instead: it skips
            // states, never waits, and is forgotten only when it has gone.
            entry.subscribers.retain(|s| s.offer(&snapshot));
            if terminal {
                entry.subscribers.clear();
            }
        }
        true
    }

    /// The current state of a task and a subscription to its newest state after every
    /// later change. `None` if there is no such task. After a terminal state the
    /// subscription ends.
    pub fn subscribe(&self, id: &str) -> Option<(Arc<Snapshot>, Subscription)> {
        let mut inner = lock(&self.inner);
        let entry = inner.tasks.get_mut(id)?;
        let (subscriber, subscription) = Subscriber::new();
        let current = Snapshot::new(&entry.task);
        if !current.terminal {
            entry.subscribers.push(subscriber);
        }
        Some((current, subscription))
    }

    /// Debug builds only: panics with the map's lock held, poisoning it (see
    /// `web::handlers::debug_panic`).
    #[cfg(debug_assertions)]
    pub fn panic_while_locked(&self) -> ! {
        let _inner = lock(&self.inner);
        panic!("deliberate panic from the debug-build test route, with the task lock held");
    }

    /// Publishes the task's state as a `task` event, its logs trimmed to the newest
    /// [`TASK_EVENT_LOG_LINES`] (`logs_from` says where they start).
    fn tell(&self, task: &Task) {
        let from = task.log_end().saturating_sub(TASK_EVENT_LOG_LINES);
        let terminal = task.status.is_terminal();
        self.events
            .task_changed(&task.id, task.created_at, terminal, task.to_json_from(from));
    }

    /// Journals the output of tasks that changed since their last journal line and have
    /// been quiet for [`JOURNAL_OUTPUT_EVERY`] (a task that prints and then hangs).
    pub fn flush_output(&self) {
        let mut inner = lock(&self.inner);
        for entry in inner.tasks.values_mut() {
            if entry.unjournaled && entry.journaled_at.elapsed() >= JOURNAL_OUTPUT_EVERY {
                self.record(&entry.task);
                entry.journaled_at = Instant::now();
                entry.unjournaled = false;
            }
        }
    }

    fn record(&self, task: &Task) {
        if let Some(journal) = &self.journal {
            journal.put(task);
        }
    }
}

/// Calls `flush` (a store's [`TaskStore::flush_output`]) every [`JOURNAL_OUTPUT_EVERY`]
/// until `shutdown` closes.
pub fn spawn_output_flusher(
    flush: impl Fn() + Send + 'static,
    shutdown: Receiver<()>,
) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name("journal-output".into())
        .spawn(move || {
            let ticker = crossbeam_channel::tick(JOURNAL_OUTPUT_EVERY);
            loop {
                crossbeam_channel::select! {
                    recv(ticker) -> _ => flush(),
                    recv(shutdown) -> _ => return,
                }
            }
        })
        .expect("cannot start the journal output thread")
}

/// Drops the oldest finished tasks beyond [`MAX_TASKS_KEPT`]. Unfinished tasks stay: their
/// number is bounded by the job queue.
fn evict(inner: &mut Inner, journal: Option<&JournalHandle>) {
    let mut excess = inner.tasks.len().saturating_sub(MAX_TASKS_KEPT);
    if excess == 0 {
        return;
    }
    let Inner { tasks, order } = inner;
    order.retain(|id| {
        if excess > 0 && tasks.get(id).is_some_and(|e| e.task.status.is_terminal()) {
            tasks.remove(id);
            if let Some(journal) = journal {
                journal.forget(id);
            }
            excess -= 1;
            false
        } else {
            true
        }
    });
}
