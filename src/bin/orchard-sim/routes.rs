//! Routing of the controller API under `/v1` (and the simulator's `/_sim` control API):
//! a `match` on method and path segments, the role each route needs, then the handler.
//!
//! Runs on the request's own thread; handlers lock the store only for their state change.

use tiny_http::{Method, Request};

use crate::auth::{Auth, Denied};
use crate::query::{Query, decode};
use crate::reply::{Reply, stream};
use crate::store::Store;
use crate::{control, vms, workers};

/// Handles one request to the end.
pub fn handle(mut request: Request, store: &Store, auth: &Auth) {
    let url = request.url().to_string();
    let (path, query) = url.split_once('?').unwrap_or((&url, ""));
    let query = Query::parse(query);
    let segs: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(decode)
        .collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let method = request.method().clone();
    let authorization = request
        .headers()
        .iter()
        .find(|h| h.field.equiv("Authorization"))
        .map(|h| h.value.as_str().to_string());

    if segs.first() == Some(&"_sim") {
        let reply = match reply_body(&mut request) {
            Ok(body) => control::handle(&method, &segs[1..], &body, store),
            Err(r) => r,
        };
        return reply.send(request);
    }
    if method == Method::Get && matches!(segs.as_slice(), ["v1"] | ["v1", ""]) {
        // Orchard's API root does no role check: a liveness probe.
        return Reply::empty(200).send(request);
    }
    let roles: &[&str] = match roles_for(&method, &segs) {
        Some(r) => r,
        None => return Reply::empty(404).send(request),
    };
    let granted = if roles == ["compute:write|compute:connect"] {
        auth.check(authorization.as_deref(), &["compute:write"])
            .or_else(|_| auth.check(authorization.as_deref(), &["compute:connect"]))
    } else {
        auth.check(authorization.as_deref(), roles)
    };
    match granted {
        Err(Denied::BadCredentials) => return Reply::empty(401).send(request),
        Err(Denied::MissingRoles(m)) => return Reply::message(401, &m).send(request),
        Ok(()) => {}
    }
    if method == Method::Get
        && let ["v1", "vms", name] = segs.as_slice()
        && query.get("watch") == Some("true")
    {
        let lines = store.lock().watch(name);
        return stream(request, lines);
    }
    let body = match reply_body(&mut request) {
        Ok(b) => b,
        Err(r) => return r.send(request),
    };
    let reply = match (&method, segs.as_slice()) {
        (Method::Get, ["v1", "controller", "info"]) => Reply::json(&serde_json::json!({
            "version": "0.55.0-sim",
            "commit": "orchard-sim",
            "capabilities": ["rpc-v1", "vm-state-endpoint", "rpc-v2"],
        })),
        (Method::Get, ["v1", "vms"]) => vms::list(store, query.get("filter")),
        (Method::Post, ["v1", "vms"]) => vms::create(store, &body),
        (Method::Get, ["v1", "vms", name]) => vms::get(store, name),
        (Method::Put, ["v1", "vms", name]) => vms::update(store, name, &body),
        (Method::Delete, ["v1", "vms", name]) => vms::delete(store, name),
        (Method::Get, ["v1", "vms", name, "events"]) => vms::events(store, name, &query),
        (Method::Get, ["v1", "vms", name, "ip"]) => vms::ip(store, name, query.get("wait")),
        (Method::Get, ["v1", "workers"]) => workers::list(store),
        (Method::Get, ["v1", "workers", name]) => workers::get(store, name),
        (Method::Put, ["v1", "workers", _]) => workers::update(store, &body),
        (Method::Delete, ["v1", "workers", name]) => workers::delete(store, name),
        (Method::Get, ["v1", "cluster-settings"]) => workers::settings(store),
        (Method::Put, ["v1", "cluster-settings"]) => workers::set_settings(store, &body),
        _ => Reply::empty(404),
    };
    reply.send(request);
}

fn reply_body(request: &mut Request) -> Result<Vec<u8>, Reply> {
    crate::reply::body(request)
}

/// The roles a route needs (`None`: no such route). The single pseudo-role
/// `compute:write|compute:connect` means either one.
fn roles_for(method: &Method, segs: &[&str]) -> Option<&'static [&'static str]> {
    const READ: &[&str] = &["compute:read"];
    const WRITE: &[&str] = &["compute:write"];
    const CONNECT: &[&str] = &["compute:write|compute:connect"];
    Some(match (method, segs) {
        (Method::Get, ["v1", "controller", "info"]) => &[],
        (Method::Get, ["v1", "vms", ..] | ["v1", "workers", ..]) => match segs {
            [_, "vms", _, "ip"] => CONNECT,
            _ => READ,
        },
        (
            Method::Post | Method::Put | Method::Delete,
            ["v1", "vms", ..] | ["v1", "workers", ..],
        ) => WRITE,
        (Method::Get, ["v1", "cluster-settings"]) => &["admin:read"],
        (Method::Put, ["v1", "cluster-settings"]) => &["admin:write"],
        _ => return None,
    })
}
