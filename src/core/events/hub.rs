//! The event hub: one ordered stream of `vm` and `task` events (`api-next.md` §5), the
//! state a fresh client's snapshot is made of, a bounded buffer of recent events for
//! resumption, and the subscribers' queues.
//!
//! Threading: one `Mutex` guards everything here, and under it we only touch memory:
//! publishing numbers the event, keeps it in the recent buffer, updates the snapshot
//! state and hands the event to every subscriber with `try_send` (never a blocking
//! send). Subscribing builds the snapshot (or the replay) and registers the queue under
//! that same lock, so a client gets a state and then every later event, with no gap and
//! no event twice. Publishers call in while holding their own lock (the task store's,
//! the inventory's), so events leave in the order the changes were made; the hub never
//! calls out, so that nesting cannot deadlock.
//!
//! Memory: every event is serialized once and shared (`Arc`) by the buffer and every
//! queue. A queue holds at most [`CLIENT_QUEUE_EVENTS`] events, all among the newest; a
//! client whose queue is full is let go (its sender dropped) and resumes from the recent
//! buffer on its own thread, or from a fresh snapshot when it fell out of it. So a slow
//! or vanished client never stalls a publisher or another client, and the events alive
//! at any time are the newest `max(RECENT_EVENTS, CLIENT_QUEUE_EVENTS)` at most, bounded
//! in bytes by [`RECENT_EVENT_BYTES`] plus the queues' share (see the consts).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use crossbeam_channel::{Receiver, Sender, TrySendError};

use crate::util::sync::lock;

/// Events kept for resumption with `since` / `Last-Event-ID` (4,096): a tab that lost
/// its connection for a few seconds while a pull logged a line per tick resumes without
/// a snapshot. Also bounded by [`RECENT_EVENT_BYTES`].
pub const RECENT_EVENTS: usize = 4_096;

/// Bytes of serialized events kept for resumption (8 MiB). A task event is at most
/// ~230 KiB ([`TASK_EVENT_LOG_LINES`] lines of at most 4 KiB, the 16 KiB stderr tail,
/// the rest); VM events are under 1 KiB, so this holds thousands of usual events and at
/// least ~35 of the largest.
pub const RECENT_EVENT_BYTES: usize = 8 * 1024 * 1024;

/// Events queued for one client (64). A client this far behind is let go and resumes
/// from the recent buffer. Each slot is a pointer to a shared event, so a client costs
/// 64 pointers here; the events themselves are among the newest 64, shared by everyone:
/// at most 64 × ~230 KiB ≈ 15 MiB beyond the buffer, whatever the number of clients.
pub const CLIENT_QUEUE_EVENTS: usize = 64;

/// Log lines a task event carries (50): the newest; the whole task stays at
/// `/api/tasks/{id}` (`api-next.md` §5).
pub const TASK_EVENT_LOG_LINES: u64 = 50;

/// One event, numbered and serialized once: `{"type": ..., "seq": N, ...}`.
#[derive(Debug)]
pub struct Event {
    pub seq: u64,
    pub json: Arc<str>,
    /// The id of the task this event says has ended (completed or failed), for
    /// waiters that need not read the JSON.
    pub ended: Option<String>,
}

/// What a subscriber gets before its queue: the events it missed, or a snapshot.
#[derive(Debug)]
pub enum Backlog {
    /// Every event after the subscriber's `since`, oldest first (possibly none).
    Replay(Vec<Arc<Event>>),
    /// `{"type": "snapshot", "seq": N, "vms": [...], "tasks": [...]}`: the state after
    /// event N; `since` was unknown, too old, or absent.
    Snapshot(Arc<Event>),
}

/// A subscription: the backlog, then every later event on `events`, in order. The
/// sender side is dropped when the client fell [`CLIENT_QUEUE_EVENTS`] behind: the
/// client then subscribes again with the last `seq` it handled.
#[derive(Debug)]
pub struct Subscription {
    pub backlog: Backlog,
    pub events: Receiver<Arc<Event>>,
}

/// What happened to a VM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VmOp {
    Added,
    Changed,
    Removed,
}

impl VmOp {
    fn word(self) -> &'static str {
        match self {
            VmOp::Added => "added",
            VmOp::Changed => "changed",
            VmOp::Removed => "removed",
        }
    }
}

struct ActiveTask {
    created_at: f64,
    json: String,
}

struct Inner {
    /// The seq of the newest event (the first event is `first_seq`).
    seq: u64,
    recent: VecDeque<Arc<Event>>,
    recent_bytes: usize,
    /// Each VM's JSON by name: what the snapshot lists and what changes are told from.
    vms: BTreeMap<String, String>,
    /// Pending and running tasks by id, trimmed as in their events.
    active: HashMap<String, ActiveTask>,
    subscribers: Vec<Sender<Arc<Event>>>,
}

/// The hub. Shared by the inventory, the task store and every event client.
pub struct EventHub {
    inner: Mutex<Inner>,
}

impl Default for EventHub {
    fn default() -> Self {
        EventHub::new()
    }
}

impl EventHub {
    /// A hub whose first event is numbered after the current time in microseconds.
    ///
    /// Why not 1: a client resuming with `since` after a server restart must not be taken
    /// for one that is up to date or slightly behind. Events are far fewer than one per
    /// microsecond, so every seq of an earlier run is below this run's first (unless the
    /// clock went back), and such a `since` gets a snapshot. The numbers stay below 2^53,
    /// exact in JavaScript.
    pub fn new() -> EventHub {
        let micros = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros() as u64)
            .unwrap_or(0);
        EventHub::starting_after(micros)
    }

    /// A hub whose first event is numbered `seq + 1`.
    pub fn starting_after(seq: u64) -> EventHub {
        EventHub {
            inner: Mutex::new(Inner {
                seq,
                recent: VecDeque::new(),
                recent_bytes: 0,
                vms: BTreeMap::new(),
                active: HashMap::new(),
                subscribers: Vec::new(),
            }),
        }
    }

    /// The seq of the newest event.
    pub fn seq(&self) -> u64 {
        lock(&self.inner).seq
    }

    /// Subscribers registered now (clients let go for being slow are not counted).
    #[cfg(test)]
    pub fn subscribers(&self) -> usize {
        lock(&self.inner).subscribers.len()
    }

    /// Tells the hub the whole VM list (name, JSON) as it is now; emits `added`,
    /// `changed` and `removed` for what differs from the last list, in name order.
    pub fn set_vms(&self, vms: impl IntoIterator<Item = (String, String)>) {
        let mut inner = lock(&self.inner);
        let mut now: BTreeMap<String, String> = vms.into_iter().collect();
        let before = std::mem::take(&mut inner.vms);
        for (name, json) in &before {
            if !now.contains_key(name) {
                inner.publish_vm(VmOp::Removed, json);
            }
        }
        for (name, json) in &mut now {
            match before.get(name) {
                None => inner.publish_vm(VmOp::Added, json),
                Some(old) if old != json => inner.publish_vm(VmOp::Changed, json),
                Some(_) => {}
            }
        }
        inner.vms = now;
    }

    /// Tells the hub a task's new state: `json` is the task as its event carries it
    /// (see [`TASK_EVENT_LOG_LINES`]); a `terminal` task leaves the snapshot's list.
    pub fn task_changed(&self, id: &str, created_at: f64, terminal: bool, json: String) {
        let mut inner = lock(&self.inner);
        let seq = inner.seq + 1;
        let event = format!(r#"{{"type":"task","seq":{seq},"task":{json}}}"#);
        if terminal {
            inner.active.remove(id);
        } else {
            inner
                .active
                .insert(id.to_string(), ActiveTask { created_at, json });
        }
        inner.publish(event, terminal.then(|| id.to_string()));
    }

    /// Subscribes: the events after `since` when they are all still in the recent
    /// buffer, else a snapshot; then every later event. Under one lock (module doc).
    pub fn subscribe(&self, since: Option<u64>) -> Subscription {
        let mut inner = lock(&self.inner);
        let backlog = match since.and_then(|since| inner.replay_after(since)) {
            Some(events) => Backlog::Replay(events),
            None => Backlog::Snapshot(Arc::new(inner.snapshot())),
        };
        let (tx, rx) = crossbeam_channel::bounded(CLIENT_QUEUE_EVENTS);
        inner.subscribers.push(tx);
        Subscription {
            backlog,
            events: rx,
        }
    }
}

impl Inner {
    fn publish_vm(&mut self, op: VmOp, vm: &str) {
        let seq = self.seq + 1;
        let op = op.word();
        self.publish(
            format!(r#"{{"type":"vm","seq":{seq},"op":"{op}","vm":{vm}}}"#),
            None,
        );
    }

    /// Numbers `json` (already holding `seq + 1`), keeps it, and offers it to everyone.
    fn publish(&mut self, json: String, ended: Option<String>) {
        self.seq += 1;
        let event = Arc::new(Event {
            seq: self.seq,
            json: json.into(),
            ended,
        });
        self.recent_bytes += event.json.len();
        self.recent.push_back(event.clone());
        while self.recent.len() > RECENT_EVENTS
            || (self.recent_bytes > RECENT_EVENT_BYTES && self.recent.len() > 1)
        {
            if let Some(old) = self.recent.pop_front() {
                self.recent_bytes -= old.json.len();
            }
        }
        // A full queue: the client is behind; let it go, it resumes by itself.
        self.subscribers
            .retain(|s| match s.try_send(event.clone()) {
                Ok(()) => true,
                Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
            });
    }

    /// The events after `since`, if the buffer still holds all of them.
    fn replay_after(&self, since: u64) -> Option<Vec<Arc<Event>>> {
        if since > self.seq {
            return None; // from another run, or made up
        }
        if since == self.seq {
            return Some(Vec::new());
        }
        let oldest = self.recent.front()?.seq;
        if since + 1 < oldest {
            return None;
        }
        let skip = (since + 1 - oldest) as usize;
        Some(self.recent.iter().skip(skip).cloned().collect())
    }

    fn snapshot(&self) -> Event {
        let mut tasks: Vec<&ActiveTask> = self.active.values().collect();
        // Newest first, as `/api/tasks/active`.
        tasks.sort_by(|a, b| b.created_at.total_cmp(&a.created_at));
        let mut json = format!(r#"{{"type":"snapshot","seq":{},"vms":["#, self.seq);
        for (i, vm) in self.vms.values().enumerate() {
            if i > 0 {
                json.push(',');
            }
            json.push_str(vm);
        }
        json.push_str(r#"],"tasks":["#);
        for (i, task) in tasks.iter().enumerate() {
            if i > 0 {
                json.push(',');
            }
            json.push_str(&task.json);
        }
        json.push_str("]}");
        Event {
            seq: self.seq,
            json: json.into(),
            ended: None,
        }
    }
}

#[cfg(test)]
#[path = "hub_tests.rs"]
mod tests;
