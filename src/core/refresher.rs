//! The background refresher: warns about an old tart and refreshes the inventory at
//! start, then every `refresh_interval`, and whenever someone asks for it. Requests
//! made while one is pending are merged into it, so many finished tasks cost one
//! refresh, not one each.
//!
//! Threading: one thread, [`spawn_refresher`], makes the list calls, so no HTTP worker
//! has to: a request that needs fresh state asks and waits a bounded time
//! ([`Refresher::refresh_and_wait`], at most [`MAX_FRESH_WAITERS`] at once), then
//! answers with what it has.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use crate::core::Core;
use crate::limits::MAX_FRESH_WAITERS;
use crate::util::sync::lock;

/// The request side of the refresher, and what waiters wait on.
pub struct Refresher {
    /// One pending request is enough.
    requests: (Sender<()>, Receiver<()>),
    progress: Mutex<Progress>,
    finished: Condvar,
    /// Callers waiting in [`Refresher::refresh_and_wait`] now.
    waiters: AtomicUsize,
}

#[derive(Default)]
struct Progress {
    /// Refreshes the refresher thread has started, and finished.
    started: u64,
    finished: u64,
    /// How the newest finished one went (`Err` holds the detail).
    last: Option<Result<(), String>>,
}

impl Default for Refresher {
    fn default() -> Self {
        Refresher::new()
    }
}

impl Refresher {
    pub fn new() -> Refresher {
        Refresher {
            requests: crossbeam_channel::bounded(1),
            progress: Mutex::new(Progress::default()),
            finished: Condvar::new(),
            waiters: AtomicUsize::new(0),
        }
    }

    /// Asks for a refresh soon, without waiting for it.
    pub fn request(&self) {
        let _ = self.requests.0.try_send(());
    }

    /// Asks for a refresh and waits at most `timeout` for one that started after this
    /// call to finish: `Some(Ok)`, `Some(Err(detail))`, or `None` if none finished in
    /// time — or at once when [`MAX_FRESH_WAITERS`] callers already wait, so the rest of
    /// the HTTP workers stay free for the routes that answer at once.
    pub fn refresh_and_wait(&self, timeout: Duration) -> Option<Result<(), String>> {
        struct Waiter<'a>(&'a AtomicUsize);
        impl Drop for Waiter<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        if self.waiters.fetch_add(1, Ordering::SeqCst) >= MAX_FRESH_WAITERS {
            self.waiters.fetch_sub(1, Ordering::SeqCst);
            self.request();
            return None;
        }
        let _waiter = Waiter(&self.waiters);
        let deadline = Instant::now() + timeout;
        let mut progress = lock(&self.progress);
        // The refresh running now may have listed before the caller's reason to ask:
        // wait for the next one.
        let wanted = progress.started + 1;
        self.request();
        while progress.finished < wanted {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            progress = self
                .finished
                .wait_timeout(progress, left)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
        progress.last.clone()
    }

    /// One refresh on the refresher thread, counted for [`Refresher::refresh_and_wait`].
    fn refresh(&self, core: &Core) {
        let number = {
            let mut progress = lock(&self.progress);
            progress.started += 1;
            progress.started
        };
        // The host's version first, so `GET /api/tart/version`, which waits for this
        // refresh when the binary changed, finds it after; a stat of the binary when it
        // is unchanged, `tart --version` when it is new.
        let _ = core.backend.version();
        let result = core.refresh_reporting();
        let mut progress = lock(&self.progress);
        progress.finished = number;
        progress.last = Some(result);
        self.finished.notify_all();
    }
}

/// Starts the refresher thread; it ends at shutdown.
pub fn spawn_refresher(core: Arc<Core>) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("inventory-refresh".into())
        .spawn(move || {
            warn_about_old_tart(&core);
            core.refresher.refresh(&core);
            let ticker = match core.config.refresh_interval {
                Some(interval) => crossbeam_channel::tick(interval),
                None => crossbeam_channel::never(),
            };
            let (requests, shutdown) = (
                core.refresher.requests.1.clone(),
                core.shutdown_signal().clone(),
            );
            loop {
                crossbeam_channel::select! {
                    recv(ticker) -> _ => core.refresher.refresh(&core),
                    recv(requests) -> _ => core.refresher.refresh(&core),
                    recv(shutdown) -> _ => return,
                }
            }
        })
        .expect("cannot start the refresh thread")
}

/// At start: says on stderr when the installed host is one this server cannot drive
/// well; the same words are in `GET /api/tart/version`.
fn warn_about_old_tart(core: &Core) {
    if let Ok(version) = core.backend.version() {
        for warning in version.warnings {
            eprintln!("taartenfabriek: warning: {warning}");
        }
    }
}
