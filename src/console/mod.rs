//! The VM's screen in the browser (api-next.md §7): tickets, a WebSocket listener of
//! its own, the RFB handshake with tart's VNC server, and the byte proxy between them.
//!
//! A console starts with `POST /api/vms/{name}/console`, which takes the VNC URL that
//! `tart run --vnc-experimental` printed for the running VM and issues a single-use
//! ticket ([`Consoles::issue`]). The page opens `ws://127.0.0.1:<port>/console/<ticket>`
//! on this module's listener; the server authenticates with tart's VNC server itself
//! and offers the browser security type None, so the password never reaches the page.
//! After that the bytes pass through untouched.
//!
//! Threading: [`Consoles`] owns the accept thread and joins it on shutdown; connection
//! threads are not joined (like the task WebSocket threads), but shutdown shuts their
//! sockets, which ends them. Limits below bound threads, memory and time.

pub mod des;
mod listener;
mod proxy;
pub mod rfb;
mod tickets;

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

pub use rfb::{RfbError, VncTarget};
pub use tickets::{MAX_LIVE_TICKETS, Refused, TICKET_LIFETIME};

use crate::util::sync::lock;

/// Consoles open at once (8). Each holds two threads and two sockets; a person watches
/// one or two screens.
pub const MAX_CONSOLES: usize = 8;

/// Connections still in their WebSocket or RFB handshake at once (16); more are dropped
/// on accept, so idle half-open sockets cannot pile up threads.
pub const MAX_CONSOLE_HANDSHAKES: usize = 16;

/// How long the browser may take over each step of its handshake (10 s).
pub const CONSOLE_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a write to the browser may block before the console is closed (10 s), as
/// for the main listener's clients: a page that stops reading cannot hold the VNC side.
pub const CONSOLE_SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// How long connecting and authenticating with tart's VNC server may take (10 s); it is
/// on 127.0.0.1 and answers in milliseconds when it is there at all.
pub const VNC_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Interval between pings on a console without traffic from the browser (20 s), so a
/// vanished page is noticed and the idle limit checked.
pub const CONSOLE_PING_INTERVAL: Duration = Duration::from_secs(20);

/// A console without any input or update request from the browser for this long is
/// closed (30 min): the page asks for updates continuously while it shows a changing
/// screen, so silence means a forgotten tab on a still screen, which can reconnect.
pub const CONSOLE_IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Largest WebSocket message or frame accepted from the browser (64 KiB). RFB client
/// messages are tiny; only clipboard text is larger, and the page cuts it below this.
pub const CONSOLE_MAX_MESSAGE: usize = 64 * 1024;

/// Bytes read from tart's VNC server per WebSocket message, and the read buffer of the
/// browser socket (64 KiB): large enough for big updates to go in few frames.
pub const CONSOLE_READ_CHUNK: usize = 64 * 1024;

/// State the listener's threads share.
struct Shared {
    tickets: tickets::TicketStore,
    /// The console listener's port (the Host header names it).
    port: u16,
    /// The main listener's port (the page's Origin names it).
    main_port: u16,
    /// The main listener's bound address, for the guard's rules.
    bound: IpAddr,
    stopping: AtomicBool,
    handshaking: AtomicUsize,
    /// Browser sockets of open consoles, to shut at shutdown.
    open: Mutex<HashMap<u64, TcpStream>>,
    next_id: AtomicUsize,
}

impl Shared {
    /// Records an open console; `None` when [`MAX_CONSOLES`] are open.
    fn register(&self, socket: &TcpStream) -> Option<u64> {
        let clone = socket.try_clone().ok()?;
        let mut open = lock(&self.open);
        if open.len() >= MAX_CONSOLES || self.stopping.load(Ordering::SeqCst) {
            return None;
        }
        let id = self.next_id.fetch_add(1, Ordering::SeqCst) as u64;
        open.insert(id, clone);
        Some(id)
    }

    fn unregister(&self, id: u64) {
        lock(&self.open).remove(&id);
    }
}

/// The console service: ticket issuing and the listener.
pub struct Consoles {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Consoles {
    /// Binds 127.0.0.1 on an OS-chosen port and starts accepting. `main_port` and
    /// `bound` describe the main listener, whose pages open consoles.
    pub fn start(main_port: u16, bound: IpAddr) -> io::Result<Consoles> {
        let listener = crate::util::net::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
        let shared = Arc::new(Shared {
            tickets: tickets::TicketStore::default(),
            port: listener.local_addr()?.port(),
            main_port,
            bound,
            stopping: AtomicBool::new(false),
            handshaking: AtomicUsize::new(0),
            open: Mutex::new(HashMap::new()),
            next_id: AtomicUsize::new(0),
        });
        let accept_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("console-accept".into())
            .spawn(move || listener::accept_loop(listener, accept_shared))?;
        Ok(Consoles {
            shared,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// The console listener's port.
    pub fn port(&self) -> u16 {
        self.shared.port
    }

    /// Consoles open now.
    pub fn open_count(&self) -> usize {
        lock(&self.shared.open).len()
    }

    /// A ticket for `vm`'s screen at `target`, as the WebSocket URL that redeems it.
    pub fn issue(&self, vm: &str, target: VncTarget) -> Result<String, Refused> {
        let ticket = self.shared.tickets.issue(vm, target)?;
        Ok(format!(
            "ws://127.0.0.1:{}/console/{ticket}",
            self.shared.port
        ))
    }

    /// Stops accepting, closes every open console and joins the accept thread.
    pub fn shutdown(&self) {
        if self.shared.stopping.swap(true, Ordering::SeqCst) {
            return;
        }
        for socket in lock(&self.shared.open).values() {
            let _ = socket.shutdown(Shutdown::Both);
        }
        // Wake the blocking accept; it sees `stopping` and returns.
        let _ = TcpStream::connect_timeout(
            &SocketAddr::from((Ipv4Addr::LOCALHOST, self.shared.port)),
            Duration::from_secs(1),
        );
        if let Some(thread) = lock(&self.thread).take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Consoles {
    fn drop(&mut self) {
        self.shutdown();
    }
}
