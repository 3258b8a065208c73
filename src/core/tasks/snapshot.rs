//! What a task's WebSocket clients receive: a [`Snapshot`] (one state of the task, its
//! JSON forms made once and shared), and a [`Subscription`] — the client's one-snapshot
//! slot, which the store replaces at every change and a client takes when it is ready,
//! so a slow client skips states and never holds a queue of copies.
//!
//! Threading: the store fills a slot under its own lock; a client's thread takes from it
//! under the slot's small lock only. JSON is made outside every lock.

use std::sync::{Arc, Mutex, OnceLock};

use crossbeam_channel::{Receiver, Sender, TrySendError};

use super::model::Task;
use crate::util::sync::lock;

/// One state of a task, shared by every subscriber. Its JSON forms are made on first use,
/// outside the store's lock, and shared by every client that sends the same bytes.
#[derive(Debug)]
pub struct Snapshot {
    pub task: Arc<Task>,
    pub terminal: bool,
    /// The whole task (a snapshot of a chatty task is ~100 KB; 100 clients would
    /// otherwise serialize and copy 10 MB).
    full: OnceLock<Arc<str>>,
    /// [`Task::to_json_from`] by first line: `?logs=new` clients that were sent the same
    /// snapshots before ask for the same lines, so one of them serializes for all. At
    /// most [`SHARED_FORMS`] first lines; clients elsewhere serialize their own.
    from_line: Mutex<Vec<(u64, SharedForm)>>,
}

/// The newest snapshot a subscriber has not taken yet: one per subscriber, so a client
/// that reads slowly costs one shared `Arc`, not a queue of copies.
type Slot = Arc<Mutex<Option<Arc<Snapshot>>>>;

/// The store's side of a subscription.
pub(super) struct Subscriber {
    slot: Slot,
    /// At most one wake-up waits: the slot holds what it is about.
    wake: Sender<()>,
}

impl Subscriber {
    pub(super) fn new() -> (Subscriber, Subscription) {
        let slot: Slot = Arc::default();
        let (wake, woken) = crossbeam_channel::bounded(1);
        let subscription = Subscription {
            slot: slot.clone(),
            woken,
        };
        (Subscriber { slot, wake }, subscription)
    }

    /// Puts `snapshot` in the slot (replacing one not taken yet) and wakes the client;
    /// false when the client has gone.
    pub(super) fn offer(&self, snapshot: &Arc<Snapshot>) -> bool {
        *lock(&self.slot) = Some(snapshot.clone());
        !matches!(self.wake.try_send(()), Err(TrySendError::Disconnected(_)))
    }
}

/// A client's side of a subscription: wait on [`Subscription::woken`], then
/// [`Subscription::take`] the newest state. When the task ended (or the store forgot
/// the client), `woken` disconnects; the final state is still in the slot.
pub struct Subscription {
    slot: Slot,
    woken: Receiver<()>,
}

impl Subscription {
    /// Ready when a newer state may be waiting; disconnected when no more will come.
    pub fn woken(&self) -> &Receiver<()> {
        &self.woken
    }

    /// The newest state not taken yet.
    pub fn take(&self) -> Option<Arc<Snapshot>> {
        lock(&self.slot).take()
    }
}

/// One JSON form of a snapshot, made once by whichever client asks first.
type SharedForm = Arc<OnceLock<Arc<str>>>;

/// First lines whose `?logs=new` form a snapshot keeps (4): clients that keep up ask for
/// one or two; each form can hold the whole log (up to ~8 MiB).
const SHARED_FORMS: usize = 4;

impl Snapshot {
    pub(super) fn new(task: &Task) -> Arc<Snapshot> {
        Arc::new(Snapshot {
            task: Arc::new(task.clone()),
            terminal: task.status.is_terminal(),
            full: OnceLock::new(),
            from_line: Mutex::new(Vec::new()),
        })
    }

    /// The whole task as JSON.
    pub fn json(&self) -> Arc<str> {
        self.full
            .get_or_init(|| {
                serde_json::to_string(&*self.task)
                    .expect("a Task always serializes")
                    .into()
            })
            .clone()
    }

    /// The task as JSON with the log lines from `from` on ([`Task::to_json_from`]).
    pub fn json_from(&self, from: u64) -> Arc<str> {
        let from = self.task.clamp_log_index(from);
        let form = {
            let mut forms = lock(&self.from_line);
            match forms.iter().find(|(f, _)| *f == from) {
                Some((_, form)) => Some(form.clone()),
                None if forms.len() < SHARED_FORMS => {
                    let form = Arc::new(OnceLock::new());
                    forms.push((from, form.clone()));
                    Some(form)
                }
                None => None,
            }
        };
        // Serialized outside the lock: clients that want other lines do not wait; those
        // that want these very bytes wait in the `OnceLock` for the one who makes them.
        let make = || self.task.to_json_from(from).into();
        match form {
            Some(form) => form.get_or_init(make).clone(),
            None => make(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::events::EventHub;
    use crate::core::tasks::TaskStore;
    use crate::core::tasks::model::Action;

    #[test]
    fn clients_at_the_same_line_share_one_serialization() {
        let store = TaskStore::new(Vec::new(), None, Arc::new(EventHub::starting_after(0)));
        let task = store.create(Action::PullVm, None);
        let (_, updates) = store.subscribe(&task.id).unwrap();
        store.update(&task.id, |t| {
            t.push_log("a".into());
            t.push_log("b".into());
        });
        let snapshot = updates.take().unwrap();
        let first = snapshot.json_from(0);
        let again = snapshot.json_from(0);
        assert_eq!(first[..].as_ptr(), again[..].as_ptr(), "shared bytes");
        assert_eq!(first[..], snapshot.task.to_json_from(0));
        let tail = snapshot.json_from(1);
        assert_eq!(tail[..], snapshot.task.to_json_from(1));
        // Past the end is the end: one shared form for every such client.
        let end = snapshot.json_from(2);
        assert_eq!(end[..].as_ptr(), snapshot.json_from(9)[..].as_ptr());
        // Beyond the shared forms, still right, just not kept.
        for from in 0..8 {
            assert_eq!(
                snapshot.json_from(from)[..],
                snapshot.task.to_json_from(from)
            );
        }
        assert!(lock(&snapshot.from_line).len() <= SHARED_FORMS);
        let full = snapshot.json();
        assert_eq!(full[..].as_ptr(), snapshot.json()[..].as_ptr());
        assert_eq!(full[..], serde_json::to_string(&*snapshot.task).unwrap());
    }

    /// A subscriber that does not read while a task prints a thousand lines is neither
    /// dropped nor buffering a thousand copies: it finds the newest state, with every
    /// line, and after the task ended, the end.
    #[test]
    fn a_slow_subscriber_skips_states_and_keeps_every_line() {
        let store = TaskStore::new(Vec::new(), None, Arc::new(EventHub::starting_after(0)));
        let task = store.create(Action::PullVm, None);
        let (first, updates) = store.subscribe(&task.id).unwrap();
        assert_eq!(first.task.logs.len(), 0);
        for i in 0..1000 {
            store.update(&task.id, |t| t.push_log(format!("line {i}")));
        }
        assert_eq!(updates.woken().try_recv(), Ok(()), "one wake-up is waiting");
        assert!(updates.woken().try_recv().is_err(), "and only one");
        let newest = updates.take().unwrap();
        assert_eq!(newest.task.logs.len(), 1000);
        assert_eq!(
            newest.task.logs.back().map(String::as_str),
            Some("line 999")
        );
        assert!(updates.take().is_none(), "taken");
        store.update(&task.id, |t| t.fail("done"));
        // The task ended: the store let go, and the final state waits in the slot.
        assert_eq!(updates.woken().try_recv(), Ok(()));
        assert!(updates.woken().recv().is_err(), "no more states will come");
        assert!(updates.take().unwrap().terminal);
    }
}
