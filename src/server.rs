//! The embeddable server: [`Server::start`] binds, loads the token and task history,
//! starts every thread, and returns a handle that reports the address and stops
//! everything (threads joined) on [`Server::shutdown`] or drop.
//!
//! Not joined, by design: tiny_http's own connection threads (they end with their
//! connections), WebSocket client threads (they end after sending a close), and the
//! reapers of `tart run` processes, which must keep waiting on VMs that outlive us.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};

use crate::backend::host::Backend;
use crate::backend::orchard::{Endpoint, OrchardClient, OrchardHost};
use crate::backend::tart::{CliRunner, LocalTart, Tart, watch};
use crate::config::Config;
use crate::console::Consoles;
use crate::core::Core;
use crate::core::events::EventHub;
use crate::core::refresher::spawn_refresher;
use crate::core::tasks::scheduler::Scheduler;
use crate::core::tasks::{TaskStore, journal};
use crate::util::data_dir::{self, DataDirLock, LockError, ServerInfo};
use crate::web::state::Web;

/// Why the server could not start.
#[derive(Debug)]
pub enum StartError {
    /// A non-loopback address without `allow_non_loopback`.
    Exposure(String),
    /// The data folder or token could not be set up.
    DataDir(io::Error),
    /// Another server serves this data folder (it holds `<data-dir>/lock`).
    InUse(PathBuf),
    /// The address could not be bound.
    Bind(io::Error),
    /// Another program listens on this address's port already.
    PortInUse(SocketAddr),
    /// The Orchard settings are unusable (a bad URL, a name without a token).
    Orchard(String),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Exposure(m) => f.write_str(m),
            StartError::DataDir(e) => write!(f, "cannot set up the data folder: {e}"),
            StartError::InUse(dir) => write!(
                f,
                "another taartenfabriek is already serving the data folder {} \
                 (it holds {}); stop it, or pass another --data-dir",
                dir.display(),
                dir.join("lock").display()
            ),
            StartError::Bind(e) => write!(f, "cannot listen: {e}"),
            StartError::PortInUse(addr) => write!(
                f,
                "port {} on {} is in use by another program; pick another with --port N \
                 (--port 0 takes any free one), or stop that program",
                addr.port(),
                addr.ip()
            ),
            StartError::Orchard(m) => write!(f, "Orchard: {m}"),
        }
    }
}

impl std::error::Error for StartError {}

/// A running server.
pub struct Server {
    app: Arc<Web>,
    addr: SocketAddr,
    http: Arc<tiny_http::Server>,
    threads: Vec<JoinHandle<()>>,
    journal: Option<journal::JournalWriter>,
    shutdown: Option<Sender<()>>,
    fatal: Receiver<String>,
    /// Held for the server's life: one server per data folder.
    lock: Option<DataDirLock>,
}

impl Server {
    /// Starts a server with `config`. Port 0 picks a free port; see [`Server::addr`].
    pub fn start(config: Config) -> Result<Server, StartError> {
        if !config.host.is_loopback() && !config.allow_non_loopback {
            return Err(StartError::Exposure(format!(
                "refusing to listen on {}: anyone who can reach it controls this machine's VMs; \
                 pass --allow-non-loopback-i-know-this-exposes-my-vms to do it anyway",
                config.host
            )));
        }
        // Connections cost descriptors (two each); run out and tiny_http stops for good.
        if let Err(e) = crate::util::fd_limit::raise_to_hard_limit() {
            eprintln!("taartenfabriek: warning: cannot raise the open-files limit: {e}");
        }
        data_dir::create_private(&config.data_dir).map_err(StartError::DataDir)?;
        // Before anything touches the folder's files: a second server must change nothing.
        let lock = data_dir::lock(&config.data_dir).map_err(|e| match e {
            LockError::InUse(dir) => StartError::InUse(dir),
            LockError::Io(e) => StartError::DataDir(e),
        })?;
        let token =
            crate::util::token::load_or_create(&config.data_dir).map_err(StartError::DataDir)?;
        let wanted = SocketAddr::new(config.host, config.port);
        let listener = crate::util::net::bind(wanted).map_err(|e| match e.kind() {
            io::ErrorKind::AddrInUse => StartError::PortInUse(wanted),
            _ => StartError::Bind(e),
        })?;
        let addr = listener.local_addr().map_err(StartError::Bind)?;
        let (restored, journal_handle, journal_thread) = if config.persist_tasks {
            let (tasks, handle, thread) =
                journal::open(&config.data_dir.join("tasks.jsonl")).map_err(StartError::DataDir)?;
            (tasks, Some(handle), Some(thread))
        } else {
            (Vec::new(), None, None)
        };
        let (shutdown_tx, shutdown_rx) = crossbeam_channel::bounded::<()>(0);
        let runner = CliRunner::new(
            config.tart.clone(),
            config.tart.to_string_lossy().into_owned(),
            config.tart_env.clone(),
            shutdown_rx.clone(),
        )
        .named("tart");
        let tart = Arc::new(LocalTart::new(
            Tart::new(runner, config.timeouts.query),
            config.timeouts,
            config.data_dir.join("logs"),
        ));
        let home = tart.home().map(std::path::Path::to_path_buf);
        let host = config.host;
        let cluster = match &config.orchard {
            Some(o) => Some(Arc::new(OrchardHost::new(OrchardClient::new(
                Endpoint::parse(
                    &o.url,
                    o.account.clone(),
                    o.token.clone(),
                    o.cert.clone(),
                    o.via_curl,
                )
                .map_err(StartError::Orchard)?,
            )))),
            None => None,
        };
        let mut core = Core::new(
            config,
            tart.clone(),
            TaskStore::new(restored, journal_handle, Arc::new(EventHub::new())),
            Scheduler::spawn_workers(),
            shutdown_rx,
        );
        core.cluster = cluster.clone().map(|c| c as Arc<dyn Backend>);
        let core = Arc::new(core);
        // A VM this server started stopped (its `tart run` ended): show it at once. The
        // hook holds the core weakly: a VM may run for days after the server stopped.
        let exited = Arc::downgrade(&core);
        tart.on_vm_exit(Arc::new(move |name: &str, saved: bool| {
            if let Some(core) = exited.upgrade()
                && !core.shutting_down()
            {
                core.vm_exited(name, saved);
            }
        }));
        let (waits, waiter) = crate::web::waits::spawn_waiter(core.clone());
        // Consoles get a listener of their own on loopback (see `console`); the pages that
        // open them come from this one.
        let consoles = Consoles::start(addr.port(), host).map_err(StartError::Bind)?;
        let app = Arc::new(Web::new(
            core.clone(),
            host,
            addr.port(),
            token,
            waits,
            consoles,
            cluster.clone(),
        ));
        let http = Arc::new(
            tiny_http::Server::from_listener(listener, None)
                .map_err(|e| StartError::Bind(io::Error::other(e)))?,
        );
        let (fatal_tx, fatal_rx) = crossbeam_channel::bounded(1);
        let (nudger, nudge_thread) = crate::web::nudge::spawn_nudger(
            loopback_of(addr),
            core.shutdown_signal().clone(),
            fatal_tx.clone(),
        );
        let mut threads =
            crate::web::spawn_http_workers(http.clone(), app.clone(), fatal_tx, nudger);
        threads.push(nudge_thread);
        if let Some(c) = cluster {
            threads.push(c.spawn_poller(core.shutdown_signal().clone()));
        }
        threads.push(waiter);
        // Changes made outside the server, noticed without running tart; part of the
        // background refreshing, so off with it.
        if let (Some(home), Some(_)) = (home, core.config.refresh_interval) {
            let watcher_core = core.clone();
            threads.push(watch::spawn_home_watcher(
                home,
                move |_| watcher_core.request_refresh(),
                core.shutdown_signal().clone(),
            ));
        }
        let flushed = core.clone();
        threads.push(crate::core::tasks::store::spawn_output_flusher(
            move || flushed.tasks.flush_output(),
            core.shutdown_signal().clone(),
        ));
        threads.push(spawn_refresher(core));
        let info = ServerInfo {
            url: format!("http://{}", loopback_of(addr)),
            pid: std::process::id(),
        };
        if let Err(e) = data_dir::write_server_info(&app.core.config.data_dir, &info) {
            eprintln!(
                "taartenfabriek: warning: cannot write server.json (`taartenfabriek url` will not find this server): {e}"
            );
        }
        Ok(Server {
            app,
            addr,
            http,
            threads,
            journal: journal_thread,
            shutdown: Some(shutdown_tx),
            fatal: fatal_rx,
            lock: Some(lock),
        })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>`, with `127.0.0.1`/`[::1]` as they must appear in a Host header.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Where a browser on this machine opens the UI: the loopback URL (also for a
    /// wildcard bind) with the token in the fragment, which browsers never send.
    pub fn url_with_token(&self) -> String {
        format!(
            "http://{}/#token={}",
            loopback_of(self.addr),
            self.app.token
        )
    }

    /// The API token.
    pub fn token(&self) -> &str {
        &self.app.token
    }

    /// The data folder.
    pub fn data_dir(&self) -> PathBuf {
        self.app.core.config.data_dir.clone()
    }

    /// Cancels task `id` (`api-next.md` §4): a waiting task never runs, a running pull,
    /// clone, create, prune or start has its process group ended; either ends `failed`
    /// with `cancelled`. `Err` says why not: no such task, ended already, or short and
    /// running. Over HTTP: `POST /api/tasks/{id}/cancel`.
    pub fn cancel_task(&self, id: &str) -> Result<(), String> {
        self.app.core.cancel_task(id).map_err(|e| e.to_string())
    }

    /// Blocks until the server can no longer serve (tiny_http's accept loop died), and
    /// says why. Binaries use this to exit loudly instead of hanging deaf.
    pub fn wait(&self) -> String {
        self.fatal
            .recv()
            .unwrap_or_else(|_| "the server stopped".to_string())
    }

    /// Stops accepting, cancels running `tart` calls (a started VM keeps running), lets
    /// the workers finish, and joins every thread the server owns.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let Some(shutdown) = self.shutdown.take() else {
            return;
        };
        drop(shutdown);
        for _ in 0..self.threads.len() {
            self.http.unblock();
        }
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
        self.app.consoles.shutdown();
        // Jobs end quickly: their tart calls were cancelled. Their last updates are
        // journaled before the journal closes.
        self.app.core.scheduler.shutdown();
        if let Some(mut journal) = self.journal.take() {
            journal.close();
        }
        data_dir::remove_server_info(&self.app.core.config.data_dir);
        self.lock.take();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Where this process reaches its own listener: loopback for a wildcard bind.
fn loopback_of(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => {
            SocketAddr::from(([127, 0, 0, 1], addr.port()))
        }
        ip if ip.is_unspecified() => SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, addr.port())),
        _ => addr,
    }
}
