//! Watching one VM (`GET /v1/vms/{name}?watch=true`, NDJSON) on a thread of its own,
//! reconnecting after a broken or idle connection. Orchard sends no heartbeat, so an
//! idle stream is ended after `WATCH_IDLE` and opened again (the first line after a
//! reconnect is `ADDED` with the current VM, so nothing is missed).
//!
//! Threading: `spawn_watch` starts the thread; it sends each message on a bounded
//! channel and ends when the receiver is dropped (noticed at the next message or
//! reconnect) or when `stop` is set.

use std::io::{BufRead, BufReader};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, bounded};
use serde::Deserialize;

use super::client::{OrchardClient, segment};
use super::curl;
use super::endpoint::Transport;
use super::error::{OrchardError, from_status};
use super::http;
use super::model::OrchardVm;

/// How long a watch connection may stay silent before it is reopened: Orchard writes
/// only on a change and has no heartbeat, so this bounds how long a dead connection
/// goes unnoticed.
pub const WATCH_IDLE: Duration = Duration::from_secs(60);

/// Pause before reconnecting after a failure, so a down controller is not hammered.
pub const RECONNECT_DELAY: Duration = Duration::from_secs(1);

/// Messages a watch may queue for a slow reader.
const WATCH_QUEUE: usize = 64;

/// Largest NDJSON line accepted (one VM object).
const MAX_LINE_BYTES: u64 = 1 << 20;

/// What a watch reports.
#[derive(Debug, Clone)]
pub enum WatchEvent {
    /// `ADDED` or `MODIFIED`: the VM as it is now.
    Changed(Box<OrchardVm>),
    Deleted,
    /// The connection failed; the watch retries after `RECONNECT_DELAY`.
    Lost(OrchardError),
}

#[derive(Deserialize)]
struct Line {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    object: OrchardVm,
}

/// A running watch; dropping it (or setting `stop`) ends the thread soon.
pub struct Watch {
    pub events: Receiver<WatchEvent>,
    stop: Arc<AtomicBool>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Starts watching VM `name`.
pub fn spawn_watch(client: OrchardClient, name: &str) -> Watch {
    let (tx, rx) = bounded(WATCH_QUEUE);
    let stop = Arc::new(AtomicBool::new(false));
    let (flag, name) = (stop.clone(), name.to_string());
    let spawned = thread::Builder::new()
        .name("orchard-watch".into())
        .spawn(move || watch_loop(&client, &name, &tx, &flag));
    if let Err(e) = spawned {
        eprintln!("taartenfabriek: cannot start an Orchard watch thread: {e}");
    }
    Watch { events: rx, stop }
}

fn watch_loop(client: &OrchardClient, name: &str, tx: &Sender<WatchEvent>, stop: &AtomicBool) {
    let route = format!("/v1/vms/{}?watch=true", segment(name));
    while !stop.load(Ordering::SeqCst) {
        let result = match client.endpoint.transport {
            Transport::Plain => read_plain(client, &route, tx, stop),
            Transport::Curl { .. } => read_curl(client, &route, tx, stop),
        };
        match result {
            Ok(()) => {}
            Err(e) => {
                if tx.send(WatchEvent::Lost(e)).is_err() {
                    return;
                }
                thread::sleep(RECONNECT_DELAY);
            }
        }
    }
}

/// Forwards lines until the stream ends, goes idle or fails. Ok(()) = reconnect now.
fn pump(
    reader: &mut impl BufRead,
    tx: &Sender<WatchEvent>,
    stop: &AtomicBool,
) -> Result<(), OrchardError> {
    loop {
        if stop.load(Ordering::SeqCst) {
            return Ok(());
        }
        let mut line = String::new();
        match std::io::Read::take(&mut *reader, MAX_LINE_BYTES).read_line(&mut line) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Ok(());
            }
            Err(e) => return Err(OrchardError::Unreachable(e.to_string())),
        }
        if line.trim().is_empty() {
            continue;
        }
        let parsed: Line = serde_json::from_str(&line)
            .map_err(|e| OrchardError::Protocol(format!("bad watch line: {e}")))?;
        let event = match parsed.kind.as_str() {
            "DELETED" => WatchEvent::Deleted,
            _ => WatchEvent::Changed(Box::new(parsed.object)),
        };
        if tx.send(event).is_err() {
            stop.store(true, Ordering::SeqCst);
            return Ok(());
        }
    }
}

fn read_plain(
    client: &OrchardClient,
    route: &str,
    tx: &Sender<WatchEvent>,
    stop: &AtomicBool,
) -> Result<(), OrchardError> {
    let mut reader = http::send(&client.endpoint, "GET", route, None, WATCH_IDLE)?;
    let (status, headers) = match http::read_head(&mut reader) {
        Ok(h) => h,
        // Orchard writes no head until the VM exists: an idle wait is not a failure.
        Err(OrchardError::Unreachable(why)) if why == "timed out" => return Ok(()),
        Err(e) => return Err(e),
    };
    if status != 200 {
        return Err(from_status(status, b""));
    }
    let body = http::framed_body(reader, &headers, status, false);
    pump(&mut BufReader::new(body), tx, stop)
}

fn read_curl(
    client: &OrchardClient,
    route: &str,
    tx: &Sender<WatchEvent>,
    stop: &AtomicBool,
) -> Result<(), OrchardError> {
    let (status, mut stream) = curl::open_stream(&client.endpoint, route, WATCH_IDLE)?;
    if status != 200 {
        return Err(from_status(status, b""));
    }
    pump(stream.lines(), tx, stop)
}
