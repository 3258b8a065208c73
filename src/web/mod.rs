//! The HTTP side: worker threads that take requests from tiny_http, the guard, the
//! router, and the conversion of replies and errors into responses.
//!
//! Threading: [`HTTP_WORKERS`] threads call `recv()` on the shared tiny_http server; each
//! request is answered by the thread that took it. A handler panic is caught and becomes
//! a 500 for that request only.

pub mod assets;
pub mod body;
pub mod cluster;
pub mod error;
pub mod events;
pub mod guard;
pub mod handlers;
pub mod lifecycle;
pub mod nudge;
pub mod openapi;
pub mod reply;
pub mod request;
pub mod routes;
pub mod start;
pub mod state;
pub mod tasks;
pub mod waits;
pub mod ws;

use std::io::Read;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::Sender;
use serde_json::Value;

use crate::limits::{HTTP_WORKERS, MAX_BODY_BYTES, MAX_DRAINABLE_BODY_BYTES};
use crate::util::target::Target;
use crate::web::error::Error;
use reply::{Reply, Routed};
use request::Head;
use state::Web;

/// Starts the request workers. Each ends when `recv` fails; an accept failure is
/// reported once on `fatal` (tiny_http stops accepting for good after one, fact 4).
/// Every request is reported to `nudger` (see [`nudge`]).
pub fn spawn_http_workers(
    server: Arc<tiny_http::Server>,
    app: Arc<Web>,
    fatal: Sender<String>,
    nudger: nudge::Nudger,
) -> Vec<JoinHandle<()>> {
    (0..HTTP_WORKERS)
        .map(|i| {
            let (server, app, fatal) = (server.clone(), app.clone(), fatal.clone());
            let nudger = nudger.clone();
            std::thread::Builder::new()
                .name(format!("http-{i}"))
                .spawn(move || {
                    loop {
                        match server.recv() {
                            Ok(rq) => {
                                nudger.request_from(rq.remote_addr());
                                dispatch(&app, rq);
                            }
                            Err(e) => {
                                if !app.core.shutting_down() {
                                    let _ = fatal.send(format!("the HTTP accept loop died: {e}"));
                                }
                                break;
                            }
                        }
                    }
                })
                .expect("cannot start an HTTP worker thread")
        })
        .collect()
}

/// Answers a request on this worker, or on a thread of its own when reading its body may
/// block ([`body_may_block`]).
///
/// Reading a body, and tiny_http's drain of an unread one when the request is dropped
/// (DESIGN.md fact 2), block until the client sends it or goes away: no read timeout is
/// possible (fact 3). On the shared workers, [`HTTP_WORKERS`] connections that announce a
/// body and never send it would stall the whole API (pinned by `tests/security_limits.rs`).
/// On its own thread such a request costs what an idle connection costs anyway: one
/// thread, until the client sends or closes.
fn dispatch(app: &Arc<Web>, rq: tiny_http::Request) {
    if !body_may_block(&rq) {
        return handle(app, rq);
    }
    let app = app.clone();
    let spawned = std::thread::Builder::new()
        .name("http-body".into())
        .spawn(move || handle(&app, rq));
    if let Err(e) = spawned {
        // The request was moved into the closure that failed to start and is dropped with
        // it, which makes tiny_http answer 500.
        eprintln!("taartenfabriek: cannot start a thread for a request body: {e}");
    }
}

/// Bodies tiny_http has not read yet. It reads a body of up to
/// [`TINY_HTTP_BUFFERED_BODY`] bytes on the connection's own thread before handing the
/// request over (unless the client asked for `100-continue`), so a usual `-d '{}'` costs
/// no thread; longer, chunked or `Expect`ed bodies are read by whoever handles the request.
fn body_may_block(rq: &tiny_http::Request) -> bool {
    let has = |name: &'static str| rq.headers().iter().any(|h| h.field.equiv(name));
    match rq.body_length() {
        Some(0) => false,
        Some(n) => n > TINY_HTTP_BUFFERED_BODY || has("Expect"),
        None => has("Transfer-Encoding"),
    }
}

/// The body size up to which tiny_http 0.12 reads a body before the request reaches us
/// (`request::new_request`).
const TINY_HTTP_BUFFERED_BODY: usize = 1024;

fn handle(app: &Arc<Web>, mut rq: tiny_http::Request) {
    let head = Head::from_request(&rq);
    // An upgrade request's body is the raw socket, never read and never drained by
    // tiny_http: dropping it costs nothing.
    let declared = if head.wants_upgrade() {
        0
    } else {
        rq.body_length().unwrap_or(0)
    };
    let routed = catch_unwind(AssertUnwindSafe(|| answer(app, &head, &mut rq)))
        .unwrap_or_else(|_| Err(Error::Internal("internal server error".into())));
    let reply = match routed {
        Ok(Routed::Reply(reply)) => reply,
        Ok(Routed::WebSocket(task_id)) => return ws::upgrade(app, rq, &head, &task_id),
        Ok(Routed::Events(transport, since)) => {
            return events::open(app, rq, &head, transport, since);
        }
        Ok(Routed::Wait(wait)) => return app.waits.park(rq, &wait.id, wait.timeout),
        Err(e) => Reply::error(&e),
    };
    if declared > MAX_DRAINABLE_BODY_BYTES {
        abandon_connection(rq, reply);
    } else {
        // An unread body is drained by tiny_http when `rq` is dropped, after the answer
        // was sent: on this thread (one of its own for such bodies, see `dispatch`),
        // until the body has come or the client closes. Then the connection is freed.
        let _ = rq.respond(reply.into_response());
    }
}

/// Answers a request that declared an absurd body and lets go of its connection without
/// dropping the body reader. When a client closes before sending its whole body,
/// tiny_http's drain allocates a zeroed buffer of the missing size (DESIGN.md fact 2):
/// mapped lazily, so harmless up to [`MAX_DRAINABLE_BODY_BYTES`], but an allocation of
/// many GiB can fail and abort the process. So beyond that cap the connection's two
/// descriptors and tiny_http's thread for it stay until the server exits: a known limit
/// in the README, pinned by `tests/robust_connections.rs`.
fn abandon_connection(rq: tiny_http::Request, reply: Reply) {
    let response = reply.into_response();
    let stream = rq.upgrade("close", response);
    std::mem::forget(stream);
}

/// Guard, body, route.
fn answer(app: &Arc<Web>, head: &Head, rq: &mut tiny_http::Request) -> Result<Routed, Error> {
    if Target::parse(rq.url()).is_none() {
        return Err(Error::BadRequest("malformed request path".into()));
    }
    // The area comes from the decoded segments, as routing does: `/%61pi/health` is the
    // API and needs the token.
    let area = routes::area_of(&head.target.parts());
    guard::check(head, area, app.port, app.host, &app.token)?;
    let body = if head.method == tiny_http::Method::Post {
        read_json_body(head, rq)?
    } else {
        None
    };
    routes::dispatch(app, head, body)
}

/// Reads a mutating request's body: at most [`MAX_BODY_BYTES`] (413), JSON content type
/// whenever a body or a content type is present (415), valid JSON (422). `None` for an
/// empty body.
fn read_json_body(head: &Head, rq: &mut tiny_http::Request) -> Result<Option<Value>, Error> {
    // For `Connection: upgrade`, tiny_http hands over the raw socket as the body, which
    // ends only when the client closes: reading it would hold this worker for as long
    // as the client likes (red team finding 2). Only WebSocket handshakes upgrade, and
    // they are GETs.
    if head.wants_upgrade() {
        return Err(Error::BadRequest(
            "Connection: upgrade is only for WebSocket handshakes".into(),
        ));
    }
    if rq.body_length().is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(Error::PayloadTooLarge);
    }
    let mut bytes = Vec::new();
    rq.as_reader()
        .take(MAX_BODY_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|_| Error::BadRequest("could not read the request body".into()))?;
    if bytes.len() > MAX_BODY_BYTES {
        return Err(Error::PayloadTooLarge);
    }
    let content_type = head.header("content-type");
    if (!bytes.is_empty() || content_type.is_some()) && !content_type.is_some_and(is_json) {
        return Err(Error::UnsupportedMediaType);
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
        Error::Validation(vec![crate::web::error::FieldError {
            kind: "json_invalid",
            loc: vec!["body".into(), e.column().to_string()],
            msg: "JSON decode error".into(),
            input: Value::Object(Default::default()),
        }])
    })
}

fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/json")
}
