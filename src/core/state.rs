//! `Core`: the domain state every request handler, task job and background thread
//! shares — the backend, the inventory, the tasks and their scheduler, and the shutdown
//! signal. It knows nothing of HTTP: the web layer keeps its own state (token, port,
//! page, WebSocket count) in `web::Web`, which holds an `Arc<Core>`.

use std::sync::Arc;

use crossbeam_channel::{Receiver, TryRecvError};

use crate::backend::host::Backend;
use crate::config::Config;
use crate::core::events::EventHub;
use crate::core::inventory::Inventory;
use crate::core::refresher::Refresher;
use crate::core::tasks::TaskStore;
use crate::core::tasks::scheduler::Scheduler;

/// Shared domain state. Lives in an `Arc` for as long as any thread uses it.
pub struct Core {
    pub config: Config,
    /// The local VM host (the tart CLI).
    pub backend: Arc<dyn Backend>,
    /// A second host, a cluster (an Orchard controller with `--orchard`); operations
    /// say which of the two they run on ([`Host`]).
    pub cluster: Option<Arc<dyn Backend>>,
    pub inventory: Inventory,
    pub tasks: TaskStore,
    /// The one ordered stream of VM and task changes (`/ws/events`, `/api/events`).
    pub events: Arc<EventHub>,
    pub scheduler: Arc<Scheduler>,
    pub refresher: Refresher,
    /// Disconnected when the server shuts down.
    shutdown: Receiver<()>,
}

impl Core {
    pub fn new(
        config: Config,
        backend: Arc<dyn Backend>,
        tasks: TaskStore,
        scheduler: Arc<Scheduler>,
        shutdown: Receiver<()>,
    ) -> Core {
        Core {
            config,
            inventory: Inventory::new(tasks.events().clone(), backend.capabilities()),
            backend,
            events: tasks.events().clone(),
            tasks,
            scheduler,
            refresher: Refresher::new(),
            cluster: None,
            shutdown,
        }
    }

    /// The host `on` names; `None` for a cluster when none is configured.
    pub fn host(&self, on: Host) -> Option<&dyn Backend> {
        match on {
            Host::Local => Some(self.backend.as_ref()),
            Host::Cluster => self.cluster.as_deref(),
        }
    }

    /// True once shutdown began.
    pub fn shutting_down(&self) -> bool {
        self.shutdown.try_recv() == Err(TryRecvError::Disconnected)
    }

    /// A receiver that disconnects at shutdown, for `select!`.
    pub fn shutdown_signal(&self) -> &Receiver<()> {
        &self.shutdown
    }

    /// A VM this server started stopped (`saved`: it left a saved state, a suspend):
    /// shown at once as stopped unless saved, then confirmed by a refresh.
    pub fn vm_exited(&self, name: &str, saved: bool) {
        if !saved {
            self.inventory
                .apply(name, crate::core::inventory::Change::Stopped);
        }
        self.inventory.invalidate(name);
        self.request_refresh();
    }

    /// Asks the background refresher for a refresh soon, without waiting for it.
    pub fn request_refresh(&self) {
        self.refresher.request();
    }

    /// Refreshes the inventory, logging a failure (for background callers).
    pub fn refresh_quietly(&self) {
        let _ = self.refresh_reporting();
    }

    /// Refreshes the inventory on this thread, logging a failure, and says how it went.
    pub fn refresh_reporting(&self) -> Result<(), String> {
        self.inventory
            .refresh(self.backend.as_ref())
            .map(drop)
            .map_err(|e| {
                // tart's stderr is in it: capped and escaped on its way to ours.
                eprintln!(
                    "taartenfabriek: {}",
                    crate::util::terminal::echo_safe(&e.detail)
                );
                e.detail
            })
    }

    /// Asks the refresher thread for a refresh that starts after this call and waits
    /// for it at most `timeout` (see `Refresher::refresh_and_wait`): how HTTP workers
    /// get fresh state without running `tart` themselves.
    pub fn fresh_inventory(&self, timeout: std::time::Duration) -> Option<Result<(), String>> {
        self.refresher.refresh_and_wait(timeout)
    }

    /// Cancels task `id` (`api-next.md` §4), on either host: a waiting task is taken out
    /// of its queue and never runs; a running pull, clone, create, prune or start has
    /// its switch fired (a local one's process group ends; a cluster create deletes its
    /// VM). Either ends `failed` with `error` `cancelled` and `cancelled: true`.
    /// `Err` says why not: no such task, ended already, or short (stop, delete,
    /// settings, rename, suspend, login) and running.
    pub fn cancel_task(&self, id: &str) -> Result<(), CancelRefused> {
        use crate::core::tasks::scheduler::Cancelled;
        let task = self.tasks.get(id).ok_or(CancelRefused::NotFound)?;
        if task.status.is_terminal() {
            return Err(CancelRefused::Ended);
        }
        match self.scheduler.cancel(id) {
            Cancelled::WasWaiting => {
                self.tasks.update(id, |t| t.cancel());
                Ok(())
            }
            // Its job ends the task as cancelled once its process group is gone.
            Cancelled::WasRunning => Ok(()),
            Cancelled::NotCancellable => Err(CancelRefused::NotCancellable),
            // Between its job's end and the task's: it ends by itself in a moment.
            Cancelled::Unknown => Err(CancelRefused::Ended),
        }
    }
}

/// Which host an operation runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host {
    /// This machine's tart ([`Core::backend`]).
    Local,
    /// The cluster ([`Core::cluster`]).
    Cluster,
}

impl Host {
    /// The scheduler key of VM `name` on this host. A cluster's names are its own (a
    /// cluster VM and a local one may share a name), so they are prefixed with
    /// `cluster://`, which no local VM name (never a `/`) or image reference (never
    /// `://`) holds; local names stay as they are.
    pub fn key(self, name: &str) -> String {
        match self {
            Host::Local => name.to_string(),
            Host::Cluster => format!("cluster://{name}"),
        }
    }
}

/// Why [`Core::cancel_task`] refused (404, 409, 409 for the HTTP endpoint).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelRefused {
    NotFound,
    Ended,
    NotCancellable,
}

impl std::fmt::Display for CancelRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CancelRefused::NotFound => "Task not found",
            CancelRefused::Ended => "the task has already ended",
            CancelRefused::NotCancellable => {
                "this task is short and cannot be cancelled while it runs"
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Host;
    use crate::core::validate;

    #[test]
    fn a_cluster_key_is_never_a_local_name_or_an_image_reference() {
        for name in ["a", "build-1", "ghcr.io/x/y:1"] {
            let key = Host::Cluster.key(name);
            assert!(validate::vm_name(&key).is_err(), "{key}");
            assert!(validate::oci_reference(&key).is_err(), "{key}");
        }
        assert_eq!(Host::Local.key("a"), "a");
    }
}
