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
//! The cure from outside: open a connection to ourselves and close our side at once. If
//! the pool has no idle thread, it starts one for it, which finishes that empty
//! connection in a moment and then takes the queue's front: each nudge frees at most one
//! queued connection. How many are queued cannot be seen (a freed one and an empty queue
//! answer a nudge alike), so a round sends a fixed number of nudges, and more while they
//! go unanswered (queued themselves). Small rounds follow the first request of a new
//! connection (connections are being opened, so some may be stuck) at most every
//! [`NUDGE_MIN_GAP`]; requests on kept-alive connections trigger none. A larger round runs every
//! [`NUDGE_BACKSTOP`], for connections that starve while nothing else happens. A nudge
//! that finds an idle thread costs one connect and close on loopback (~0.1 ms).
//!
//! The nudges are also the server's liveness probe. When tiny_http's accept thread dies
//! (it panics when cloning an accepted socket fails, e.g. on `EMFILE`), it drops the
//! listener but no error reaches `recv()`: the process would live on, deaf. A refused
//! nudge means nothing listens any more; it is reported on `fatal`, so the binary exits
//! non-zero with a clear line and a supervisor can restart it.

use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::io::Read;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use crate::util::sync::lock;

/// Least time between two nudges (20 ms): a burst of requests costs one nudge per gap.
const NUDGE_MIN_GAP: Duration = Duration::from_millis(20);

/// A nudge at least this often (1 s), for a starved connection that arrives alone.
const NUDGE_BACKSTOP: Duration = Duration::from_secs(1);

/// How long a nudge may take to connect (1 s); on loopback it takes microseconds.
const NUDGE_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// How long a round waits for its nudge to be answered before it takes the nudge to be
/// queued and opens another (5 ms; an answered nudge takes a thread start, ~0.1 ms). A
/// slow answer costs one extra nudge, which is harmless.
const NUDGE_ANSWER_WAIT: Duration = Duration::from_millis(5);

/// Nudges in a round after a new connection's first request (2).
const NUDGES_AFTER_ACTIVITY: usize = 2;

/// Nudges in a backstop round (4). A burst of 200 idle connections left up to ~25
/// queued here, freed within seconds at this rate. Each nudge also wakes an idle pool
/// thread, which resets its 5 s idle timeout: after a burst closes, about five times this
/// many idle threads linger instead of exiting (measured: 4 nudges/s → ~20 threads).
const NUDGES_PER_BACKSTOP: usize = 4;

/// Most nudges in one round (1,024), should something keep them from being answered.
const MAX_NUDGES_PER_ROUND: usize = 1024;

/// Slots of the table of recently seen client addresses (1,024).
const RECENT_SLOTS: usize = 1024;

/// Client addresses remembered exactly in one generation (4,096); a full generation
/// ends early, which costs at most one needless round per live connection.
const MAX_KNOWN_CLIENTS: usize = 4096;

/// How long a generation of remembered addresses lasts (10 s). A connection is known for
/// one to two generations after its last miss of the fast table; after that a new one
/// from the same address and port (ports are reused, on macOS at random from 16,384)
/// counts as new again.
const KNOWN_CLIENTS_GENERATION: Duration = Duration::from_secs(10);

/// Asks for a nudge; cheap and non-blocking, called for every request.
#[derive(Clone)]
pub struct Nudger {
    tx: Sender<()>,
    clients: Arc<KnownClients>,
}

/// The client addresses (hashed) of connections seen so far.
struct KnownClients {
    /// One address per slot: the fast path, a single atomic load per request.
    recent: [AtomicU64; RECENT_SLOTS],
    /// Every address seen lately, for requests whose slot another connection took.
    /// Without it, two kept-alive connections sharing a slot (likely among 32:
    /// 1 - e^(-32·31/2048)) each looked new at every request, and under load the rounds
    /// ran 50 times a second.
    seen: Mutex<Generations>,
}

struct Generations {
    current: HashSet<u64>,
    previous: HashSet<u64>,
    started: Instant,
}

impl Nudger {
    /// Notes a request from `client`: if it opens a new connection, a round follows soon.
    /// On the hot path: one atomic load per request on a kept-alive connection.
    pub fn request_from(&self, client: Option<&SocketAddr>) {
        if client.is_some_and(|c| self.clients.is_new(c)) {
            let _ = self.tx.try_send(());
        }
    }
}

impl KnownClients {
    fn new() -> KnownClients {
        KnownClients {
            recent: std::array::from_fn(|_| AtomicU64::new(0)),
            seen: Mutex::new(Generations {
                current: HashSet::new(),
                previous: HashSet::new(),
                started: Instant::now(),
            }),
        }
    }

    /// Whether `client` was not seen lately (then it is now).
    fn is_new(&self, client: &SocketAddr) -> bool {
        let mut hasher = std::hash::DefaultHasher::new();
        client.hash(&mut hasher);
        let key = hasher.finish() | 1; // never 0, the empty slot
        let slot = &self.recent[key as usize % RECENT_SLOTS];
        if slot.load(Ordering::Relaxed) == key {
            return false;
        }
        slot.store(key, Ordering::Relaxed);
        let mut seen = lock(&self.seen);
        if seen.current.len() >= MAX_KNOWN_CLIENTS {
            self.start_generation(&mut seen);
        }
        let known = seen.previous.contains(&key);
        seen.current.insert(key) && !known
    }

    /// Forgets what was seen two generations ago, when a generation is over.
    fn forget_old(&self) {
        let mut seen = lock(&self.seen);
        if seen.started.elapsed() >= KNOWN_CLIENTS_GENERATION {
            self.start_generation(&mut seen);
        }
    }

    fn start_generation(&self, seen: &mut Generations) {
        seen.previous = std::mem::take(&mut seen.current);
        seen.started = Instant::now();
        // The fast table may hold addresses of connections long closed; a live one
        // misses it once and is found in `previous`.
        for slot in &self.recent {
            slot.store(0, Ordering::Relaxed);
        }
    }
}

/// Starts the nudging thread for the server at `addr`; it ends when `shutdown` disconnects.
pub fn spawn_nudger(
    addr: SocketAddr,
    shutdown: Receiver<()>,
    fatal: Sender<String>,
) -> (Nudger, JoinHandle<()>) {
    let (tx, rx) = crossbeam_channel::bounded(1);
    let known = Arc::new(KnownClients::new());
    let clients = known.clone();
    let thread = std::thread::Builder::new()
        .name("http-pool-nudge".into())
        .spawn(move || {
            loop {
                let nudges = crossbeam_channel::select! {
                    recv(rx) -> _ => NUDGES_AFTER_ACTIVITY,
                    recv(shutdown) -> _ => return,
                    default(NUDGE_BACKSTOP) => NUDGES_PER_BACKSTOP,
                };
                clients.forget_old();
                if let Err(gone) = nudge_round(addr, nudges, &shutdown) {
                    let _ = fatal.try_send(gone);
                    return;
                }
                if shutdown
                    .recv_timeout(NUDGE_MIN_GAP)
                    .is_err_and(|e| e.is_disconnected())
                {
                    return;
                }
            }
        })
        .expect("cannot start the HTTP pool nudge thread");
    (Nudger { tx, clients: known }, thread)
}

/// Sends `at_least` nudges, and more while they go unanswered (queued behind others),
/// until the server shuts down. `Err` says why the listener is gone: a connection was
/// refused while the server was not shutting down.
fn nudge_round(addr: SocketAddr, at_least: usize, shutdown: &Receiver<()>) -> Result<(), String> {
    let stopping = || shutdown.try_recv() == Err(crossbeam_channel::TryRecvError::Disconnected);
    let mut answered_in_a_row = 0;
    for _ in 0..MAX_NUDGES_PER_ROUND {
        if stopping() {
            return Ok(());
        }
        let mut nudge = match TcpStream::connect_timeout(&addr, NUDGE_CONNECT_TIMEOUT) {
            Ok(nudge) => nudge,
            // Other failures (our own descriptors running out, a full backlog timing
            // out) say nothing about the listener: the next round tries again.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused && !stopping() => {
                return Err(format!(
                    "the HTTP listener on {addr} is gone (connections are refused); \
                     tiny_http's accept thread died"
                ));
            }
            Err(_) => return Ok(()),
        };
        // Our side is done: a pool thread that takes the connection reads EOF, ends it,
        // and so closes it, which we see as EOF (or a reset) in turn.
        let _ = nudge.shutdown(Shutdown::Write);
        let _ = nudge.set_read_timeout(Some(NUDGE_ANSWER_WAIT));
        let answered = match nudge.read(&mut [0u8; 1]) {
            Ok(_) => true,
            Err(e) => !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
        };
        answered_in_a_row = if answered { answered_in_a_row + 1 } else { 0 };
        if answered_in_a_row >= at_least {
            return Ok(());
        }
        // Queued: dropping it leaves an empty connection in the queue, which ends at
        // once when its turn comes; the next nudge frees another queued connection.
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_alive_connection_is_new_once_even_when_its_slot_is_shared() {
        let known = KnownClients::new();
        // 200 addresses in 1,024 slots share some slots for certain.
        let clients: Vec<SocketAddr> = (0..200u16)
            .map(|i| SocketAddr::from(([127, 0, 0, 1], 40_000 + i)))
            .collect();
        assert!(clients.iter().all(|c| known.is_new(c)));
        for _ in 0..3 {
            assert_eq!(clients.iter().filter(|c| known.is_new(c)).count(), 0);
        }
        // Across a new generation, live connections are still known.
        known.start_generation(&mut lock(&known.seen));
        assert_eq!(clients.iter().filter(|c| known.is_new(c)).count(), 0);
    }

    #[test]
    fn an_address_unseen_for_two_generations_is_new_again() {
        let known = KnownClients::new();
        let client = SocketAddr::from(([127, 0, 0, 1], 50_000));
        assert!(known.is_new(&client));
        known.start_generation(&mut lock(&known.seen));
        known.start_generation(&mut lock(&known.seen));
        assert!(
            known.is_new(&client),
            "its port was reused by a new connection"
        );
    }
}
