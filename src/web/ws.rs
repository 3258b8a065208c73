//! `/ws/tasks/<id>`: a push-only WebSocket that sends the task's current state at once,
//! then every change, then a normal close after a terminal state.
//!
//! Threading: one thread per client (at most [`MAX_WS_CLIENTS`]), selecting over the
//! task's subscriber channel, a ping ticker and the shutdown signal. When changes come
//! faster than the client takes them, only the newest snapshot is sent: each snapshot is
//! the whole task, so nothing is lost. The upgraded stream cannot be split (DESIGN.md
//! fact 5), so the thread never blocks reading; writes are bounded by the socket's send
//! timeout, inherited from the listener.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use crossbeam_channel::{Receiver, select};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tungstenite::{Message, Utf8Bytes, WebSocket};

use super::error::Error;
use super::reply::Reply;
use super::request::Head;
use super::state::Web;
use crate::core::tasks::Snapshot;
use crate::core::tasks::snapshot::Subscription;
use crate::limits::{MAX_WS_CLIENTS, MAX_WS_INCOMING_MESSAGE, WS_PING_INTERVAL};

/// Checks that a request is a WebSocket handshake we can accept (RFC 6455 §4.2.1).
pub fn check_handshake(head: &Head) -> Result<(), Error> {
    let has_token = |name: &str, token: &str| {
        head.header_values(name)
            .any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    };
    if !has_token("upgrade", "websocket") || !has_token("connection", "upgrade") {
        return Err(Error::BadRequest(
            "expected a WebSocket upgrade request".into(),
        ));
    }
    if head.header("sec-websocket-version").map(str::trim) != Some("13") {
        return Err(Error::BadRequest(
            "unsupported WebSocket version (13 is required)".into(),
        ));
    }
    match head.header("sec-websocket-key") {
        Some(key) if !key.trim().is_empty() => Ok(()),
        _ => Err(Error::BadRequest("missing Sec-WebSocket-Key".into())),
    }
}

/// Releases a client slot when the client's thread ends, however it ends.
struct ClientSlot(Arc<Web>);

impl Drop for ClientSlot {
    fn drop(&mut self) {
        self.0.ws_clients.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Upgrades the request and starts the client's thread; 503 when full.
pub fn upgrade(app: &Arc<Web>, rq: tiny_http::Request, head: &Head, task_id: &str) {
    if app.ws_clients.fetch_add(1, Ordering::SeqCst) >= MAX_WS_CLIENTS {
        app.ws_clients.fetch_sub(1, Ordering::SeqCst);
        let reply = Reply::error(&Error::Unavailable("too many WebSocket clients".into()));
        let _ = rq.respond(reply.into_response());
        return;
    }
    let slot = ClientSlot(app.clone());
    let Some((current, updates)) = app.core.tasks.subscribe(task_id) else {
        let _ = rq.respond(Reply::error(&Error::NotFound("Task not found".into())).into_response());
        return;
    };
    let socket = accept(rq, head);
    let name = format!("ws-{}", &task_id[..task_id.len().min(8)]);
    let shutdown = app.core.shutdown_signal().clone();
    let mode = match head.target.param("logs") {
        Some("new") => Mode::NewLines { next: 0 },
        _ => Mode::Full,
    };
    let spawned = std::thread::Builder::new().name(name).spawn(move || {
        let _slot = slot;
        serve_client(socket, mode, current, updates, shutdown);
    });
    if let Err(e) = spawned {
        eprintln!("taartenfabriek: cannot start a WebSocket thread: {e}");
    }
}

/// The socket tiny_http hands over after an upgrade.
pub type Upgraded = Box<dyn tiny_http::ReadWrite + Send>;

/// Answers a checked handshake (see [`check_handshake`]) with 101 and wraps the upgraded
/// stream, with small read buffers and message limits: clients only send pongs and
/// close frames.
pub fn accept(rq: tiny_http::Request, head: &Head) -> WebSocket<Upgraded> {
    let key = head
        .header("sec-websocket-key")
        .unwrap_or_default()
        .trim()
        .to_string();
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    let response = tiny_http::Response::empty(101).with_header(
        tiny_http::Header::from_bytes("Sec-WebSocket-Accept", accept)
            .expect("base64 is a valid header"),
    );
    let stream = rq.upgrade("websocket", response);
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .max_message_size(Some(MAX_WS_INCOMING_MESSAGE))
        .max_frame_size(Some(MAX_WS_INCOMING_MESSAGE));
    WebSocket::from_raw_socket(stream, Role::Server, Some(config))
}

/// What each message carries.
enum Mode {
    /// The whole task, as `api-spec.md` says: the default.
    Full,
    /// The task with only the log lines this client has not had yet, and `logs_from`,
    /// the absolute index of the first (`?logs=new`). A chatty task then costs each
    /// client its new lines instead of the whole log again at every change.
    NewLines { next: u64 },
}

impl Mode {
    fn message(&mut self, snapshot: &Snapshot) -> Message {
        match self {
            Mode::Full => Message::Text(shared_text(snapshot.json())),
            Mode::NewLines { next } => {
                let text = snapshot.json_from(*next);
                *next = snapshot.task.log_end();
                Message::Text(shared_text(text))
            }
        }
    }
}

fn serve_client<S: std::io::Read + std::io::Write>(
    mut socket: WebSocket<S>,
    mut mode: Mode,
    current: Arc<Snapshot>,
    updates: Subscription,
    shutdown: Receiver<()>,
) {
    let ticker = crossbeam_channel::tick(WS_PING_INTERVAL);
    let mut latest = current;
    loop {
        if socket.send(mode.message(&latest)).is_err() {
            return; // the client is gone or too slow to take a write in time.
        }
        if latest.terminal {
            return close(&mut socket, CloseCode::Normal, "task finished");
        }
        latest = loop {
            select! {
                recv(updates.woken()) -> woken => match (woken, updates.take()) {
                    // The newest state: a client that fell behind skips states, and
                    // each one holds the task's whole kept log, so no line is lost.
                    (_, Some(newest)) => break newest,
                    (Ok(()), None) => continue,
                    // The store let go without a final state for us: nothing more comes.
                    (Err(_), None) => return close(&mut socket, CloseCode::Normal, "task finished"),
                },
                recv(ticker) -> _ => {
                    if socket.send(Message::Ping(Vec::new().into())).is_err() {
                        return;
                    }
                }
                recv(shutdown) -> _ => return close(&mut socket, CloseCode::Away, "server shutting down"),
            }
        };
    }
}

pub fn close<S: std::io::Read + std::io::Write>(
    socket: &mut WebSocket<S>,
    code: CloseCode,
    reason: &str,
) {
    let _ = socket.close(Some(CloseFrame {
        code,
        reason: reason.to_string().into(),
    }));
    let _ = socket.flush();
}

/// A task's JSON as a text frame, without copying it: every client of a snapshot sends
/// the same bytes, so a copy per client would cost as much as the serialization saved.
pub fn shared_text(json: Arc<str>) -> Utf8Bytes {
    struct Shared(Arc<str>);
    impl AsRef<[u8]> for Shared {
        fn as_ref(&self) -> &[u8] {
            self.0.as_bytes()
        }
    }
    let bytes = tungstenite::Bytes::from_owner(Shared(json));
    // SAFETY: the bytes are those of an `Arc<str>`, which is valid UTF-8 by construction,
    // and `Bytes` never changes them.
    #[allow(unsafe_code)] // the one way tungstenite offers to send shared bytes as text.
    unsafe {
        Utf8Bytes::from_bytes_unchecked(bytes)
    }
}
