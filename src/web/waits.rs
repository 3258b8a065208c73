//! `GET /api/tasks/{id}/wait`: requests parked until their task ends or their timeout
//! passes, off the HTTP workers.
//!
//! A wait can last minutes; holding one of the [`HTTP_WORKERS`] for each would let a
//! handful of waiters starve the API. So the worker hands the request to one waiter
//! thread and returns at once. The waiter follows the event hub (a `task` event that
//! ends a task names it, see `Event::ended`) and the nearest deadline, and answers a
//! wait on a short-lived thread of its own, so a client that does not read its answer
//! cannot hold the waiter up. At most [`MAX_TASK_WAITS`] requests are parked; the next
//! gets 503. Each parked request costs its `Request` (and the connection thread tiny_http
//! keeps for every open connection anyway), no thread of ours.
//!
//! [`HTTP_WORKERS`]: crate::limits::HTTP_WORKERS

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, select};

use super::error::Error;
use super::reply::{Body, Reply};
use crate::core::Core;
use crate::limits::MAX_TASK_WAITS;

/// A request waiting for its task.
struct Parked {
    rq: tiny_http::Request,
    id: String,
    deadline: Instant,
}

/// The handlers' side of the waiter thread.
pub struct Waits {
    tx: Sender<Parked>,
    parked: Arc<AtomicUsize>,
}

impl Waits {
    /// Parks `rq` until task `id` ends or `timeout` passes; answers 503 at once when
    /// [`MAX_TASK_WAITS`] are parked already.
    pub fn park(&self, rq: tiny_http::Request, id: &str, timeout: Duration) {
        if self.parked.fetch_add(1, Ordering::SeqCst) >= MAX_TASK_WAITS {
            self.parked.fetch_sub(1, Ordering::SeqCst);
            let why = Error::Unavailable("too many requests are waiting for tasks".into());
            let _ = rq.respond(Reply::error(&why).into_response());
            return;
        }
        let parked = Parked {
            rq,
            id: id.to_string(),
            deadline: Instant::now() + timeout,
        };
        if let Err(e) = self.tx.send(parked) {
            self.parked.fetch_sub(1, Ordering::SeqCst);
            let why = Error::Unavailable("the server is shutting down".into());
            let _ = e
                .into_inner()
                .rq
                .respond(Reply::error(&why).into_response());
        }
    }
}

/// Starts the waiter thread; it answers every parked request and ends at shutdown.
pub fn spawn_waiter(core: Arc<Core>) -> (Waits, JoinHandle<()>) {
    let (tx, rx) = crossbeam_channel::unbounded();
    let parked = Arc::new(AtomicUsize::new(0));
    let count = parked.clone();
    let thread = std::thread::Builder::new()
        .name("task-waits".into())
        .spawn(move || wait_loop(&core, &rx, &count))
        .expect("cannot start the task waiter thread");
    (Waits { tx, parked }, thread)
}

fn wait_loop(core: &Core, new: &Receiver<Parked>, count: &AtomicUsize) {
    let hub = &core.events;
    let shutdown = core.shutdown_signal();
    let mut subscription = hub.subscribe(Some(hub.seq()));
    let mut last = hub.seq();
    let mut waiting: Vec<Parked> = Vec::new();
    loop {
        let next = waiting.iter().map(|p| p.deadline).min();
        let events = subscription.events.clone();
        let timer = match next {
            Some(at) => crossbeam_channel::at(at),
            None => crossbeam_channel::never(),
        };
        select! {
            recv(new) -> parked => {
                let Ok(parked) = parked else { return };
                // Checked here, after the hand-over: an end published between the
                // handler's check and now is seen in the store.
                if ended(core, &parked.id) {
                    answer(core, parked, count);
                } else {
                    waiting.push(parked);
                }
            }
            recv(events) -> event => match event {
                Ok(event) => {
                    last = event.seq;
                    if let Some(id) = &event.ended {
                        take(&mut waiting, |p| &p.id == id)
                            .into_iter()
                            .for_each(|p| answer(core, p, count));
                    }
                }
                Err(_) => {
                    // Let go for being behind: look at every waiting task instead of
                    // the events missed, and follow again.
                    subscription = hub.subscribe(Some(last));
                    last = hub.seq().max(last);
                    take(&mut waiting, |p| ended(core, &p.id))
                        .into_iter()
                        .for_each(|p| answer(core, p, count));
                }
            },
            recv(timer) -> _ => {
                let now = Instant::now();
                take(&mut waiting, |p| p.deadline <= now)
                    .into_iter()
                    .for_each(|p| answer(core, p, count));
            }
            recv(shutdown) -> _ => {
                waiting.drain(..).for_each(|p| answer(core, p, count));
                new.try_iter().for_each(|p| answer(core, p, count));
                return;
            }
        }
    }
}

/// Ended, or gone (evicted): either way there is nothing more to wait for.
fn ended(core: &Core, id: &str) -> bool {
    core.tasks.status(id).is_none_or(|s| s.is_terminal())
}

/// Removes and returns the entries `pick` selects.
fn take(waiting: &mut Vec<Parked>, mut pick: impl FnMut(&Parked) -> bool) -> Vec<Parked> {
    let (taken, kept): (Vec<Parked>, Vec<Parked>) = waiting.drain(..).partition(|p| pick(p));
    *waiting = kept;
    taken
}

/// Answers a wait with the task as it is now, on a thread of its own.
fn answer(core: &Core, parked: Parked, count: &AtomicUsize) {
    count.fetch_sub(1, Ordering::SeqCst);
    let reply = match core.tasks.get_json(&parked.id) {
        Some(json) => Reply::json_bytes(200, Body::Owned(json)),
        None => Reply::error(&Error::NotFound("Task not found".into())),
    };
    let rq = parked.rq;
    let spawned = std::thread::Builder::new()
        .name("wait-answer".into())
        .spawn(move || {
            let _ = rq.respond(reply.into_response());
        });
    if let Err(e) = spawned {
        // The request went down with the closure; tiny_http answers it with a 500.
        eprintln!("taartenfabriek: cannot start a thread to answer a wait: {e}");
    }
}
