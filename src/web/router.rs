//! Routing: a plain `match` on the method and the decoded path segments. Known paths
//! with the wrong method get 405, everything else 404, both in FastAPI's words.

use std::sync::Arc;

use serde_json::Value;
use tiny_http::Method;

use super::assets;
use super::guard::Area;
use super::handlers as h;
use super::reply::Routed;
use super::request::Head;
use super::state::Web;
use crate::web::error::Error;

/// Routes a request that passed the guard. `body` is the parsed JSON body of a POST.
pub fn route(
    app: &Arc<Web>,
    head: &Head,
    area: Area,
    body: Option<Value>,
) -> Result<Routed, Error> {
    use Method::{Get, Head as HeadMethod, Post};
    let parts = head.target.parts();
    let get = matches!(head.method, Get | HeadMethod);
    let post = head.method == Post;
    let reply = match (area, parts.as_slice()) {
        (Area::Api, ["api", "health"]) if get => h::health(),
        (Area::Api, ["api", "tart", "version"]) if get => h::tart_version(app)?,
        (Area::Api, ["api", "vms"]) if get => h::list_vms(app),
        (Area::Api, ["api", "vms", "refresh"]) if post => h::refresh_vms(app),
        (Area::Api, ["api", "vms", "pull"]) if post => h::pull(app, body)?,
        (Area::Api, ["api", "vms", name]) if get => h::get_vm(app, name)?,
        (Area::Api, ["api", "vms", name, "config"]) if get => {
            h::vm_config(app, name, &head.target)?
        }
        (Area::Api, ["api", "vms", name, "start"]) if post => h::start(app, name)?,
        (Area::Api, ["api", "vms", name, "stop"]) if post => h::stop(app, name)?,
        (Area::Api, ["api", "vms", name, "delete"]) if post => h::delete(app, name)?,
        (Area::Api, ["api", "tasks"]) if get => h::list_tasks(app),
        (Area::Api, ["api", "tasks", id]) if get => h::get_task(app, id)?,
        (Area::WebSocket, ["ws", "tasks", id]) if get => return h::websocket(app, head, id),
        #[cfg(debug_assertions)]
        (Area::Api, ["api", "_debug", "panic"]) if post => h::debug_panic(app),
        (Area::Ui, []) if get => h::index(app),
        (Area::Ui, parts) if get => assets::asset(parts).ok_or_else(Error::route_not_found)?,
        (_, parts) if is_known(parts) => return Err(Error::MethodNotAllowed),
        _ => return Err(Error::route_not_found()),
    };
    Ok(Routed::Reply(reply))
}

/// True if some method is routed for this path.
fn is_known(parts: &[&str]) -> bool {
    matches!(
        parts,
        ["api", "health"]
            | ["api", "tart", "version"]
            | ["api", "vms"]
            | ["api", "vms", _]
            | ["api", "vms", _, "config" | "start" | "stop" | "delete"]
            | ["api", "tasks"]
            | ["api", "tasks", _]
            | ["ws", "tasks", _]
            | []
    ) || assets::asset(parts).is_some()
}
