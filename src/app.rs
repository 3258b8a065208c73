//! `App`: everything the request handlers, task jobs and WebSocket threads share.

use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};

use crossbeam_channel::{Receiver, Sender, TryRecvError};

use crate::backend::tart::{Tart, TartError};
use crate::config::Config;
use crate::core::events::EventHub;
use crate::core::inventory::Inventory;
use crate::core::tasks::TaskStore;
use crate::core::tasks::scheduler::WorkerPool;
use crate::util::sync::lock;

/// Shared server state. Lives in an `Arc` for as long as any thread uses it.
pub struct App {
    pub config: Config,
    /// The port actually bound (differs from `config.port` when that was 0).
    pub port: u16,
    pub token: String,
    pub tart: Tart,
    pub inventory: Inventory,
    pub tasks: TaskStore,
    /// The one ordered stream of VM and task changes (`/ws/events`, `/api/events`).
    pub events: Arc<EventHub>,
    pub pool: WorkerPool,
    /// Open WebSocket connections.
    pub ws_clients: AtomicUsize,
    /// The UI page with the token in it.
    pub index_html: std::sync::Arc<[u8]>,
    /// Disconnected when the server shuts down.
    shutdown: Receiver<()>,
    /// Refresh requests for the background refresher; one pending request is enough.
    refresh_requests: (Sender<()>, Receiver<()>),
    tart_version: Mutex<Option<String>>,
}

impl App {
    pub fn new(
        config: Config,
        port: u16,
        token: String,
        tart: Tart,
        tasks: TaskStore,
        pool: WorkerPool,
        shutdown: Receiver<()>,
    ) -> App {
        let index_html = crate::web::assets::index_with_token(&token).into();
        App {
            config,
            port,
            token,
            tart,
            inventory: Inventory::new(tasks.events().clone()),
            events: tasks.events().clone(),
            tasks,
            pool,
            ws_clients: AtomicUsize::new(0),
            index_html,
            shutdown,
            refresh_requests: crossbeam_channel::bounded(1),
            tart_version: Mutex::new(None),
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

    /// `tart --version`, asked once and remembered after it succeeded.
    pub fn tart_version(&self) -> Result<String, TartError> {
        if let Some(v) = lock(&self.tart_version).clone() {
            return Ok(v);
        }
        let v = self.tart.version()?;
        *lock(&self.tart_version) = Some(v.clone());
        Ok(v)
    }

    /// Asks the background refresher for a refresh soon, without waiting for it. Requests
    /// made while one is pending are merged into it.
    pub fn request_refresh(&self) {
        let _ = self.refresh_requests.0.try_send(());
    }

    /// The refresher's side of [`App::request_refresh`].
    pub fn refresh_requests(&self) -> &Receiver<()> {
        &self.refresh_requests.1
    }

    /// Refreshes the inventory, logging a failure (for background callers).
    pub fn refresh_quietly(&self) {
        if let Err(e) = self.inventory.refresh(&self.tart) {
            eprintln!("taartenfabriek: {}", e.detail);
        }
    }
}
