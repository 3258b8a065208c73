//! The background refresher: warns about an old tart and refreshes the inventory at
//! start, then refreshes every `refresh_interval`, and whenever someone asks for it. Requests made while one is
//! pending are merged into it, so many finished tasks cost one refresh, not one each.
//!
//! Threading: one thread, [`spawn_refresher`]; it holds the only long-running call to
//! the backend's list, so no request worker has to.

use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};

use crate::core::Core;

/// The request side of the refresher.
pub struct Refresher {
    /// One pending request is enough.
    requests: (Sender<()>, Receiver<()>),
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
        }
    }

    /// Asks for a refresh soon, without waiting for it.
    pub fn request(&self) {
        let _ = self.requests.0.try_send(());
    }
}

/// Starts the refresher thread; it ends at shutdown.
pub fn spawn_refresher(core: Arc<Core>) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("inventory-refresh".into())
        .spawn(move || {
            warn_about_old_tart(&core);
            core.refresh_quietly();
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
                    recv(ticker) -> _ => core.refresh_quietly(),
                    recv(requests) -> _ => core.refresh_quietly(),
                    recv(shutdown) -> _ => return,
                }
            }
        })
        .expect("cannot start the refresh thread")
}

/// At start: says on stderr when the installed tart is one this server cannot drive well
/// (see `backend::tart::version`); the same words are in `GET /api/tart/version`.
fn warn_about_old_tart(core: &Core) {
    if let Ok(version) = core.tart_version() {
        for warning in crate::backend::tart::version::warnings(&version) {
            eprintln!("taartenfabriek: warning: {warning}");
        }
    }
}
