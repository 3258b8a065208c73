//! A workaround for a race in tiny_http 0.12's connection thread pool, which can leave a
//! freshly accepted connection unserved for as long as the other connections stay open.
//!
//! The pool hands a new connection to an idle thread if its count of idle threads is not
//! zero, else starts a new thread. But a thread woken for one connection still counts as
//! idle until it has re-taken the pool's lock; a second connection accepted in that window
//! is queued for a thread that is not coming. It waits until some connection closes. With
//! browsers, which open several keep-alive connections at once and keep them, a request
//! then hangs for minutes (seen in the UI tests: about one page load in five).
//!
//! The cure from outside: open and at once close a connection to ourselves. If the pool
//! has no idle thread, it starts one for it, which ends that empty connection in a moment
//! and then takes the queued one; if it has one, that thread takes the queue's front. A
//! nudge follows request activity (when connections are being opened) at most every
//! [`NUDGE_MIN_GAP`], plus one every [`NUDGE_BACKSTOP`] in case the starved connection is
//! the only activity.

use std::net::{SocketAddr, TcpStream};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};

/// Least time between two nudges (20 ms): a burst of requests costs one nudge per gap.
const NUDGE_MIN_GAP: Duration = Duration::from_millis(20);

/// A nudge at least this often (1 s), for a starved connection that arrives alone.
const NUDGE_BACKSTOP: Duration = Duration::from_secs(1);

/// How long a nudge may take to connect (1 s); on loopback it takes microseconds.
const NUDGE_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Asks for a nudge; cheap and non-blocking, called for every request.
#[derive(Clone)]
pub struct Nudger {
    tx: Sender<()>,
}

impl Nudger {
    /// Notes request activity: a nudge follows soon.
    pub fn activity(&self) {
        let _ = self.tx.try_send(());
    }
}

/// Starts the nudging thread for the server at `addr`; it ends when `shutdown` disconnects.
pub fn spawn_nudger(addr: SocketAddr, shutdown: Receiver<()>) -> (Nudger, JoinHandle<()>) {
    let (tx, rx) = crossbeam_channel::bounded(1);
    let thread = std::thread::Builder::new()
        .name("http-pool-nudge".into())
        .spawn(move || {
            loop {
                crossbeam_channel::select! {
                    recv(rx) -> _ => {}
                    recv(shutdown) -> _ => return,
                    default(NUDGE_BACKSTOP) => {}
                }
                // Connect and drop: tiny_http reads EOF and ends the connection at once.
                let _ = TcpStream::connect_timeout(&addr, NUDGE_CONNECT_TIMEOUT);
                if shutdown
                    .recv_timeout(NUDGE_MIN_GAP)
                    .is_err_and(|e| e.is_disconnected())
                {
                    return;
                }
            }
        })
        .expect("cannot start the HTTP pool nudge thread");
    (Nudger { tx }, thread)
}
