//! The console listener: its own socket on 127.0.0.1, because a tiny_http upgraded
//! stream can be neither split between two threads nor given a timeout (DESIGN.md
//! fact 5), and a console needs both.
//!
//! Each connection gets a thread that runs the WebSocket handshake under the same Host
//! and Origin rules as the main listener (`util::host`), redeems the ticket in the
//! path, authenticates with the VM's VNC server, offers the browser RFB with security
//! None, and then becomes the browser→VNC half of the proxy.
//!
//! Threading: one accept thread (joined at shutdown); per connection one thread, plus
//! the proxy's second. Counters are atomics; the registry of open consoles is a mutex
//! held only to insert, remove or shut sockets down.

use std::collections::VecDeque;
use std::net::{IpAddr, Shutdown, TcpStream};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tungstenite::protocol::WebSocket;
use tungstenite::protocol::frame::coding::CloseCode;

use super::proxy::{self, BrowserStream, SharedWrite, WsBytes};
use super::rfb;
use super::tickets::{Refused, Ticket};
use super::{
    CONSOLE_HANDSHAKE_TIMEOUT, CONSOLE_PING_INTERVAL, CONSOLE_SEND_TIMEOUT, MAX_CONSOLE_HANDSHAKES,
    MAX_CONSOLES, Shared, VNC_HANDSHAKE_TIMEOUT,
};
use crate::util::host;
use crate::util::sync::lock;
use crate::util::target::Target;

/// Accepts until shutdown; each connection on a thread of its own.
pub fn accept_loop(listener: std::net::TcpListener, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        if shared.handshaking.fetch_add(1, Ordering::SeqCst) >= MAX_CONSOLE_HANDSHAKES {
            shared.handshaking.fetch_sub(1, Ordering::SeqCst);
            continue; // dropped: too many half-open consoles
        }
        let conn_shared = shared.clone();
        let spawned = std::thread::Builder::new()
            .name("console".into())
            .spawn(move || serve(stream, &conn_shared));
        if spawned.is_err() {
            shared.handshaking.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Decrements the half-open count once, however the handshake ends.
struct Handshaking<'a>(&'a Shared, bool);

impl Handshaking<'_> {
    fn done(&mut self) {
        if !self.1 {
            self.1 = true;
            self.0.handshaking.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl Drop for Handshaking<'_> {
    fn drop(&mut self) {
        self.done();
    }
}

fn serve(stream: TcpStream, shared: &Shared) {
    let mut handshaking = Handshaking(shared, false);
    let Some((mut ws, ticket)) = upgrade(stream, shared) else {
        return;
    };
    let registered = shared.register(&ws.get_ref().read);
    handshaking.done();
    let Some(id) = registered else {
        proxy::close_with(&mut ws, CloseCode::Again, "too many consoles are open");
        return;
    };
    connect_and_proxy(ws, &ticket, shared);
    shared.unregister(id);
}

/// The WebSocket handshake, with the guard's checks and the ticket redeemed. `None` when
/// it failed (the client got an HTTP error, or is gone).
fn upgrade(stream: TcpStream, shared: &Shared) -> Option<(WebSocket<BrowserStream>, Ticket)> {
    let write = stream.try_clone().ok()?;
    let peer = stream.peer_addr().ok().map(|a| a.ip());
    stream
        .set_read_timeout(Some(CONSOLE_HANDSHAKE_TIMEOUT))
        .ok()?;
    write.set_write_timeout(Some(CONSOLE_SEND_TIMEOUT)).ok()?;
    stream.set_nodelay(true).ok()?;
    let browser = BrowserStream {
        read: stream,
        write: SharedWrite(Arc::new(std::sync::Mutex::new(write))),
    };
    let mut ticket = None;
    #[allow(clippy::result_large_err)] // tungstenite's Callback fixes this return type
    let check = |request: &Request, response: Response| match admit(request, shared, peer) {
        Ok(t) => {
            ticket = Some(t);
            Ok(response)
        }
        Err(e) => Err(error_response(&e)),
    };
    let ws = tungstenite::accept_hdr_with_config(browser, check, Some(proxy::ws_config())).ok()?;
    Some((ws, ticket?))
}

/// Why a handshake is refused: the HTTP status and the `detail` of its JSON body, in the
/// main listener's `{"detail": ...}` shape.
struct Refusal {
    status: u16,
    detail: String,
}

impl Refusal {
    fn new(status: u16, detail: &str) -> Refusal {
        Refusal {
            status,
            detail: detail.to_string(),
        }
    }
}

impl From<host::Refused> for Refusal {
    fn from(refused: host::Refused) -> Refusal {
        Refusal::new(refused.status(), refused.detail())
    }
}

/// Host, Origin, path and ticket, in that order; capacity is checked before the ticket
/// is spent, so a full server does not burn it.
fn admit(request: &Request, shared: &Shared, peer: Option<IpAddr>) -> Result<Ticket, Refusal> {
    let values = |name| {
        request
            .headers()
            .get_all(name)
            .iter()
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
            .collect::<Vec<_>>()
    };
    let (hosts, origins) = (values("host"), values("origin"));
    host::check_host(
        hosts.iter().map(String::as_str),
        shared.port,
        shared.bound,
        peer,
    )?;
    // The page comes from the main listener, so that is the origin to expect.
    host::check_origin(
        origins.iter().map(String::as_str),
        shared.main_port,
        shared.bound,
    )?;
    let target = Target::parse(&request.uri().to_string()).unwrap_or_default();
    let ticket_id = match target.parts().as_slice() {
        ["console", id] => id.to_string(),
        _ => return Err(Refusal::new(404, "Not Found")),
    };
    if lock(&shared.open).len() >= MAX_CONSOLES {
        return Err(Refusal::new(503, "too many consoles are open"));
    }
    shared.tickets.redeem(&ticket_id).map_err(|why| match why {
        Refused::Expired => Refusal::new(403, "this console ticket has expired"),
        _ => Refusal::new(403, "unknown or already used console ticket"),
    })
}

fn error_response(refusal: &Refusal) -> ErrorResponse {
    let body = serde_json::json!({ "detail": refusal.detail });
    let mut response = ErrorResponse::new(Some(body.to_string()));
    *response.status_mut() =
        tungstenite::http::StatusCode::from_u16(refusal.status).unwrap_or_default();
    response.headers_mut().insert(
        "Content-Type",
        tungstenite::http::HeaderValue::from_static("application/json"),
    );
    response
}

/// Authenticates with the VM's VNC server, does the browser's side of the security
/// handshake, and proxies until either side goes.
fn connect_and_proxy(mut ws: WebSocket<BrowserStream>, ticket: &Ticket, shared: &Shared) {
    let vnc = rfb::connect(&ticket.target, VNC_HANDSHAKE_TIMEOUT);
    let mut bytes = WsBytes {
        ws: &mut ws,
        pending: VecDeque::new(),
    };
    let vnc = match vnc {
        Ok(vnc) => vnc,
        Err(e) => {
            let reason = format!("no screen for VM {:?}: {e}", ticket.vm);
            let _ = rfb::refuse(&mut bytes, &reason);
            proxy::close_with(&mut ws, CloseCode::Normal, "");
            return;
        }
    };
    let accepted = rfb::offer_none(&mut bytes);
    let early: Vec<u8> = bytes.pending.into_iter().collect();
    let ready = matches!(accepted, Ok(true))
        && !shared.stopping.load(Ordering::SeqCst)
        && ws
            .get_ref()
            .read
            .set_read_timeout(Some(CONSOLE_PING_INTERVAL))
            .is_ok();
    if !ready {
        proxy::close_with(&mut ws, CloseCode::Protocol, "RFB handshake failed");
        let _ = vnc.shutdown(Shutdown::Both);
        return;
    }
    proxy::run(ws, vnc, early);
}
