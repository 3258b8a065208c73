//! `Web`: what the HTTP and WebSocket threads share — the core, and what only the web
//! side knows (the bound port and address, the token, the count of open WebSockets and
//! event streams, the parked task waits).

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use super::waits::Waits;
use crate::backend::orchard::OrchardHost;
use crate::console::Consoles;
use crate::core::Core;

/// Shared web state. Lives in an `Arc` for as long as any request thread uses it.
pub struct Web {
    pub core: Arc<Core>,
    /// The address bound (loopback unless the config allowed another).
    pub host: IpAddr,
    /// The port actually bound (differs from the configured one when that was 0).
    pub port: u16,
    pub token: String,
    /// The VM screens in the browser: tickets and their own listener.
    pub consoles: Consoles,
    /// Open WebSocket connections.
    pub ws_clients: AtomicUsize,
    /// Open Server-Sent Events streams (`/api/events`).
    pub sse_streams: AtomicUsize,
    /// Requests parked until their task ends (`GET /api/tasks/{id}/wait`).
    pub waits: Waits,
    /// The Orchard cluster (`--orchard`), for the reads only it answers (its rows,
    /// workers, health, events); the core drives it as `core.cluster`, a `Backend`.
    pub cluster: Option<Arc<OrchardHost>>,
}

impl Web {
    pub fn new(
        core: Arc<Core>,
        host: IpAddr,
        port: u16,
        token: String,
        waits: Waits,
        consoles: Consoles,
        cluster: Option<Arc<OrchardHost>>,
    ) -> Web {
        Web {
            core,
            host,
            port,
            token,
            consoles,
            ws_clients: AtomicUsize::new(0),
            sse_streams: AtomicUsize::new(0),
            waits,
            cluster,
        }
    }
}
