//! The event stream (`api-next.md` §5) over its two transports: `GET /ws/events` (a
//! WebSocket, for the UI) and `GET /api/events` (Server-Sent Events, for `curl -N`).
//! Both send a snapshot or the events after `since` / `Last-Event-ID`, then every event
//! in `seq` order.
//!
//! Threading: one thread per client, push-only as `/ws/tasks` (the upgraded stream can
//! be neither split nor given a read timeout, DESIGN.md fact 5), selecting over the
//! client's hub queue, a keep-alive ticker and the shutdown signal. Writes are bounded by
//! the socket's send timeout, inherited from the listener. When the hub lets the client
//! go for falling behind, the thread subscribes again after the last event it sent, so
//! the client sees every event once (or a fresh snapshot if it fell out of the buffer).
//! The request worker that routed the request returns at once: a stream never holds an
//! HTTP worker. WebSockets count against [`MAX_WS_CLIENTS`], SSE streams against
//! [`MAX_SSE_STREAMS`]; beyond, 503.

use std::io::{self, BufWriter, Write};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crossbeam_channel::{Receiver, select};
use tungstenite::Message;
use tungstenite::protocol::frame::coding::CloseCode;

use super::error::Error;
use super::reply::{Reply, Transport};
use super::request::Head;
use super::state::Web;
use super::ws;
use crate::core::events::{Backlog, Event, EventHub};
use crate::limits::{MAX_SSE_STREAMS, MAX_WS_CLIENTS, WS_PING_INTERVAL};

/// Events written before a flush (64): a client that is behind gets its backlog in a few
/// large writes instead of one system call per event.
const EVENTS_PER_FLUSH: usize = 64;

/// Where to resume: `?since=N` on either transport, or SSE's `Last-Event-ID` header
/// (which wins: the browser sends it on its own reconnects). 422 for a non-number.
pub fn since(head: &Head) -> Result<Option<u64>, Error> {
    let given = head
        .header("last-event-id")
        .map(|v| ("Last-Event-ID", v))
        .or_else(|| head.target.param("since").map(|v| ("since", v)));
    match given {
        None => Ok(None),
        Some((_, v)) if v.trim().is_empty() => Ok(None),
        Some((name, v)) => v.trim().parse::<u64>().map(Some).map_err(|_| {
            Error::invalid_query(
                "int_parsing",
                name,
                "Input should be a valid integer, unable to parse string as an integer",
                v,
            )
        }),
    }
}

/// Takes a stream slot, upgrades the request, and starts the client's thread; 503 when
/// the transport's slots are all taken.
pub fn open(
    app: &Arc<Web>,
    rq: tiny_http::Request,
    head: &Head,
    transport: Transport,
    since: Option<u64>,
) {
    let (count, max, what) = match transport {
        Transport::WebSocket => (&app.ws_clients, MAX_WS_CLIENTS, "WebSocket clients"),
        Transport::Sse => (&app.sse_streams, MAX_SSE_STREAMS, "event streams"),
    };
    if count.fetch_add(1, Ordering::SeqCst) >= max {
        count.fetch_sub(1, Ordering::SeqCst);
        let reply = Reply::error(&Error::Unavailable(format!("too many {what}")));
        let _ = rq.respond(reply.into_response());
        return;
    }
    let slot = Slot {
        app: app.clone(),
        transport,
    };
    let hub = app.core.events.clone();
    let shutdown = app.core.shutdown_signal().clone();
    let spawned = match transport {
        Transport::WebSocket => {
            let socket = ws::accept(rq, head);
            std::thread::Builder::new()
                .name("ws-events".into())
                .spawn(move || {
                    let _slot = slot;
                    follow(&mut WsSink(socket), &hub, since, &shutdown);
                })
        }
        Transport::Sse => {
            let response = tiny_http::Response::empty(200)
                .with_header(header("Content-Type", "text/event-stream; charset=utf-8"))
                .with_header(header("Cache-Control", "no-store"))
                .with_header(header("X-Content-Type-Options", "nosniff"));
            // tiny_http buffers a streamed body into 8 KiB chunks and never flushes in
            // between, so an event could wait for the next ones. The raw stream it hands
            // over after writing the head lets us flush each event; the body then ends
            // when the connection closes, as HTTP/1.1 allows without a length.
            let stream = rq.upgrade("text/event-stream", response);
            std::thread::Builder::new()
                .name("sse-events".into())
                .spawn(move || {
                    let _slot = slot;
                    let mut sink = SseSink(BufWriter::new(stream));
                    follow(&mut sink, &hub, since, &shutdown);
                })
        }
    };
    if let Err(e) = spawned {
        eprintln!("taartenfabriek: cannot start an event stream thread: {e}");
    }
}

fn header(name: &str, value: &str) -> tiny_http::Header {
    tiny_http::Header::from_bytes(name, value).expect("static headers are valid")
}

/// Releases a stream slot when the client's thread ends, however it ends.
struct Slot {
    app: Arc<Web>,
    transport: Transport,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let count = match self.transport {
            Transport::WebSocket => &self.app.ws_clients,
            Transport::Sse => &self.app.sse_streams,
        };
        count.fetch_sub(1, Ordering::SeqCst);
    }
}

/// How events leave: written (buffered), flushed, kept alive, closed.
trait Sink {
    fn write(&mut self, event: &Event) -> io::Result<()>;
    fn flush(&mut self) -> io::Result<()>;
    fn keep_alive(&mut self) -> io::Result<()>;
    fn close(&mut self, why: &str);
}

struct WsSink<S: io::Read + io::Write>(tungstenite::WebSocket<S>);

impl<S: io::Read + io::Write> Sink for WsSink<S> {
    fn write(&mut self, event: &Event) -> io::Result<()> {
        let text = ws::shared_text(event.json.clone());
        self.0.write(Message::Text(text)).map_err(io::Error::other)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush().map_err(io::Error::other)
    }
    fn keep_alive(&mut self) -> io::Result<()> {
        self.0
            .send(Message::Ping(Vec::new().into()))
            .map_err(io::Error::other)
    }
    fn close(&mut self, why: &str) {
        ws::close(&mut self.0, CloseCode::Away, why);
    }
}

struct SseSink<W: Write>(BufWriter<W>);

impl<W: Write> Sink for SseSink<W> {
    fn write(&mut self, event: &Event) -> io::Result<()> {
        // Compact JSON never holds a raw line break (strings escape them), so one
        // `data:` line carries the whole event.
        write!(self.0, "id: {}\ndata: ", event.seq)?;
        self.0.write_all(event.json.as_bytes())?;
        self.0.write_all(b"\n\n")
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
    fn keep_alive(&mut self) -> io::Result<()> {
        self.0.write_all(b": keep-alive\n\n")?;
        self.0.flush()
    }
    fn close(&mut self, why: &str) {
        let _ = write!(self.0, ": {why}\n\n");
        let _ = self.0.flush();
    }
}

/// Sends the backlog and then every event until the client goes or the server stops.
fn follow(sink: &mut dyn Sink, hub: &EventHub, since: Option<u64>, shutdown: &Receiver<()>) {
    let ticker = crossbeam_channel::tick(WS_PING_INTERVAL);
    let mut subscription = hub.subscribe(since);
    loop {
        // The last seq sent: where to resume if the hub lets us go.
        let mut last = match &subscription.backlog {
            Backlog::Snapshot(snapshot) => {
                if sink.write(snapshot).is_err() {
                    return;
                }
                snapshot.seq
            }
            Backlog::Replay(missed) => {
                let mut last = since.unwrap_or(0);
                for event in missed {
                    if sink.write(event).is_err() {
                        return;
                    }
                    last = event.seq;
                }
                last
            }
        };
        if sink.flush().is_err() {
            return;
        }
        let events = subscription.events.clone();
        loop {
            select! {
                recv(events) -> event => {
                    let Ok(event) = event else {
                        break; // let go for being behind: resume after `last`
                    };
                    let batch = std::iter::once(event).chain(events.try_iter().take(EVENTS_PER_FLUSH - 1));
                    for event in batch {
                        if sink.write(&event).is_err() {
                            return;
                        }
                        last = event.seq;
                    }
                    if sink.flush().is_err() {
                        return;
                    }
                }
                recv(ticker) -> _ => {
                    if sink.keep_alive().is_err() {
                        return;
                    }
                }
                recv(shutdown) -> _ => return sink.close("server shutting down"),
            }
        }
        subscription = hub.subscribe(Some(last));
    }
}
