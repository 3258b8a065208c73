//! The one route table: every route's method, path pattern, guard area and handler.
//! Routing, the 404/405 answers and the area the guard checks are all derived from it,
//! so a new route is one line and cannot forget its authentication.
//!
//! Patterns match *decoded* path segments (DESIGN.md fact 6): `{name}` is one segment,
//! `{*asset}` is any path the embedded asset table knows. A GET route answers HEAD too.

use std::sync::Arc;

use serde_json::Value;
use tiny_http::Method;

use super::assets;
use super::cluster as cl;
use super::error::Error;
use super::events;
use super::guard::Area;
use super::handlers as h;
use super::lifecycle as lc;
use super::reply::{Reply, Routed, Transport};
use super::request::Head;
use super::state::Web;
use super::tasks;

/// What a handler gets besides the shared state.
pub struct Call<'a> {
    pub head: &'a Head,
    /// The values of the pattern's `{...}` segments, in order.
    pub params: Vec<&'a str>,
    /// The parsed JSON body of a POST (`None` when empty).
    pub body: Option<Value>,
}

impl Call<'_> {
    /// The `i`-th `{...}` segment of the pattern.
    pub fn param(&self, i: usize) -> &str {
        self.params[i]
    }
}

type Handler = fn(&Arc<Web>, Call) -> Result<Routed, Error>;

/// One line of the table.
pub struct Route {
    pub method: Method,
    pub pattern: &'static str,
    pub area: Area,
    pub handler: Handler,
}

const fn route(method: Method, pattern: &'static str, area: Area, handler: Handler) -> Route {
    Route {
        method,
        pattern,
        area,
        handler,
    }
}

use Area::{Api, Ui, WebSocket as Ws};
use Method::{Get, Post};

/// Every route. Order matters only where patterns overlap: the first match wins.
static ROUTES: &[Route] = &[
    route(Get, "/api/health", Api, |w, _| Ok(cl::health(w).into())),
    route(Get, "/api/openapi.json", Api, |_, _| {
        Ok(super::openapi::document().into())
    }),
    route(Get, "/api/tart/version", Api, |w, _| {
        h::tart_version(w).map(Into::into)
    }),
    route(Get, "/api/vms", Api, |w, _| Ok(cl::list_vms(w).into())),
    route(Get, "/api/workers", Api, |w, _| Ok(cl::workers(w).into())),
    route(Post, "/api/vms/refresh", Api, |w, _| {
        if w.core.config.no_local {
            // Nothing local to list; the cluster is polled on its own.
            return Ok(Reply::json(200, &Value::Array(Vec::new())).into());
        }
        Ok(h::refresh_vms(w).into())
    }),
    route(Post, "/api/vms/pull", Api, |w, c| {
        h::pull(w, c.body).map(Into::into)
    }),
    route(Post, "/api/vms/create", Api, |w, c| {
        if cl::on_cluster(c.body.as_ref())? {
            return cl::create(w, c.body.as_ref().expect("checked")).map(Into::into);
        }
        lc::create(w, c.body).map(Into::into)
    }),
    route(Get, "/api/vms/categorized", Api, |w, _| {
        Ok(lc::categorized(w).into())
    }),
    route(Get, "/api/vms/available-images", Api, |w, _| {
        Ok(lc::available_images(w).into())
    }),
    route(Post, "/api/vms/{name}/clone", Api, |w, c| {
        lc::clone(w, c.params[0], c.body).map(Into::into)
    }),
    route(Post, "/api/vms/{name}/settings", Api, |w, c| {
        lc::settings(w, c.params[0], c.body).map(Into::into)
    }),
    route(Post, "/api/vms/{name}/rename", Api, |w, c| {
        lc::rename(w, c.params[0], c.body).map(Into::into)
    }),
    route(Post, "/api/vms/{name}/suspend", Api, |w, c| {
        lc::suspend(w, c.params[0], c.body).map(Into::into)
    }),
    route(Post, "/api/prune/preview", Api, |w, c| {
        lc::prune_preview(w, c.body).map(Into::into)
    }),
    route(Post, "/api/prune", Api, |w, c| {
        lc::prune(w, c.body).map(Into::into)
    }),
    route(Post, "/api/registries/login", Api, |w, c| {
        lc::login(w, c.body).map(Into::into)
    }),
    route(Post, "/api/registries/logout", Api, |w, c| {
        lc::logout(w, c.body).map(Into::into)
    }),
    route(Get, "/api/tasks/active", Api, |w, _| {
        Ok(lc::active_tasks(w).into())
    }),
    route(Get, "/api/vms/{name}", Api, |w, c| {
        if cl::wants_cluster(w, &c.head.target) {
            return cl::get_vm(w, c.param(0)).map(Into::into);
        }
        h::get_vm(w, c.param(0)).map(Into::into)
    }),
    route(Get, "/api/vms/{name}/events", Api, |w, c| {
        cl::events(w, c.param(0)).map(Into::into)
    }),
    route(Get, "/api/vms/{name}/config", Api, |w, c| {
        if cl::wants_cluster(w, &c.head.target) {
            return cl::vm_config(w, c.param(0)).map(Into::into);
        }
        h::vm_config(w, c.param(0), &c.head.target).map(Into::into)
    }),
    route(Post, "/api/vms/{name}/start", Api, |w, c| {
        if cl::wants_cluster(w, &c.head.target) {
            return cl::start(w, c.param(0)).map(Into::into);
        }
        let name = c.param(0).to_string();
        crate::web::start::start(w, &name, c.body).map(Into::into)
    }),
    route(Post, "/api/vms/{name}/stop", Api, |w, c| {
        if cl::wants_cluster(w, &c.head.target) {
            return cl::stop(w, c.param(0)).map(Into::into);
        }
        let name = c.param(0).to_string();
        h::stop(w, &name, c.body).map(Into::into)
    }),
    route(Post, "/api/vms/{name}/delete", Api, |w, c| {
        if cl::wants_cluster(w, &c.head.target) {
            return cl::delete(w, c.param(0)).map(Into::into);
        }
        h::delete(w, c.param(0)).map(Into::into)
    }),
    route(Post, "/api/vms/{name}/console", Api, |w, c| {
        h::console(w, c.param(0)).map(Into::into)
    }),
    route(Get, "/api/tasks", Api, |w, c| {
        tasks::list(w, &c.head.target).map(Into::into)
    }),
    route(Get, "/api/tasks/{id}", Api, |w, c| {
        h::get_task(w, c.param(0)).map(Into::into)
    }),
    route(Get, "/api/tasks/{id}/wait", Api, |w, c| {
        Ok(match tasks::wait(w, c.param(0), &c.head.target)? {
            Ok(reply) => reply.into(),
            Err(wait) => Routed::Wait(wait),
        })
    }),
    route(Post, "/api/tasks/{id}/cancel", Api, |w, c| {
        tasks::cancel(w, c.param(0)).map(Into::into)
    }),
    route(Get, "/api/events", Api, |_, c| {
        Ok(Routed::Events(Transport::Sse, events::since(c.head)?))
    }),
    route(Get, "/ws/tasks/{id}", Ws, |w, c| {
        h::websocket(w, c.head, c.param(0))
    }),
    route(Get, "/ws/events", Ws, |_, c| {
        super::ws::check_handshake(c.head)?;
        Ok(Routed::Events(Transport::WebSocket, events::since(c.head)?))
    }),
    route(Get, "/", Ui, |_, _| Ok(h::index().into())),
    route(Get, "/console", Ui, |w, _| Ok(h::console_page(w).into())),
    route(Get, "/{*asset}", Ui, |_, c| {
        assets::asset(&c.params)
            .map(Into::into)
            .ok_or_else(Error::route_not_found)
    }),
];

/// Routes compiled into debug builds only (see `handlers::debug_panic`).
#[cfg(debug_assertions)]
static DEBUG_ROUTES: &[Route] = &[route(Post, "/api/_debug/panic", Api, |w, _| {
    Ok(h::debug_panic(w).into())
})];
#[cfg(not(debug_assertions))]
static DEBUG_ROUTES: &[Route] = &[];

fn all() -> impl Iterator<Item = &'static Route> {
    ROUTES.iter().chain(DEBUG_ROUTES)
}

/// Matches `segments` against `pattern`, returning the `{...}` values.
fn matches<'a>(pattern: &str, segments: &[&'a str]) -> Option<Vec<&'a str>> {
    let pattern: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
    if let [prefix @ .., last] = pattern.as_slice()
        && last.starts_with("{*")
    {
        // A rest pattern: the prefix, then at least one segment forming a known asset.
        let rest = segments.get(prefix.len()..).filter(|r| !r.is_empty())?;
        let mut params = matches(&prefix.join("/"), &segments[..prefix.len()])?;
        if rest.iter().any(|s| s.contains('/')) || assets::asset(rest).is_none() {
            return None;
        }
        params.extend_from_slice(rest);
        return Some(params);
    }
    if pattern.len() != segments.len() {
        return None;
    }
    let mut params = Vec::new();
    for (p, s) in pattern.iter().zip(segments) {
        if p.starts_with('{') {
            params.push(*s);
        } else if p != s {
            return None;
        }
    }
    Some(params)
}

fn method_matches(route: &Method, method: &Method) -> bool {
    route == method || (*route == Method::Get && *method == Method::Head)
}

/// The guard area of a request, from its decoded segments: the area of a route with
/// this path (any method), else of the routes under the same first segment (so an
/// unknown `/api/...` path still needs the token), else the UI's.
pub fn area_of(segments: &[&str]) -> Area {
    if let Some(route) = all().find(|r| matches(r.pattern, segments).is_some()) {
        return route.area;
    }
    let first = segments.first().copied().unwrap_or("");
    all()
        .find(|r| r.pattern.split('/').nth(1) == Some(first) && !first.is_empty())
        .map_or(Area::Ui, |r| r.area)
}

/// Routes a request that passed the guard: its handler, 405 when the path is routed
/// for other methods only, 404 otherwise. `body` is the parsed JSON body of a POST.
pub fn dispatch(web: &Arc<Web>, head: &Head, body: Option<Value>) -> Result<Routed, Error> {
    let segments = head.target.parts();
    let mut known = false;
    for route in all() {
        let Some(params) = matches(route.pattern, &segments) else {
            continue;
        };
        if method_matches(&route.method, &head.method) {
            return (route.handler)(web, Call { head, params, body });
        }
        known = true;
    }
    Err(if known {
        Error::MethodNotAllowed
    } else {
        Error::route_not_found()
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::super::openapi;
    use super::*;

    #[test]
    fn areas_come_from_the_decoded_path_and_the_table() {
        assert_eq!(area_of(&["api", "health"]), Area::Api);
        assert_eq!(area_of(&["api", "no-such-route"]), Area::Api);
        assert_eq!(area_of(&["api"]), Area::Api);
        assert_eq!(area_of(&["ws", "tasks", "x"]), Area::WebSocket);
        assert_eq!(area_of(&["ws"]), Area::WebSocket);
        assert_eq!(area_of(&[]), Area::Ui);
        assert_eq!(area_of(&["apix"]), Area::Ui);
    }

    #[test]
    fn patterns_bind_their_segments() {
        assert_eq!(
            matches("/api/vms/{name}/start", &["api", "vms", "a b", "start"]),
            Some(vec!["a b"])
        );
        assert_eq!(matches("/api/vms/{name}", &["api", "vms"]), None);
        assert_eq!(matches("/", &[]), Some(vec![]));
        assert_eq!(matches("/{*asset}", &[]), None);
        assert_eq!(matches("/{*asset}", &["no-such-file.js"]), None);
    }

    /// `(method, path)` of every route in the table that the document must describe:
    /// the API and WebSocket routes (the page and its assets are not API).
    fn table() -> BTreeSet<(String, String)> {
        // The debug routes are left out on purpose: they are not API.
        ROUTES
            .iter()
            .filter(|r| r.area != Area::Ui)
            .map(|r| (r.method.to_string().to_lowercase(), r.pattern.to_string()))
            .collect()
    }

    fn documented(doc: &Value) -> BTreeSet<(String, String)> {
        let mut out = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for method in item.as_object().expect("a path item").keys() {
                out.insert((method.clone(), path.clone()));
            }
        }
        out
    }

    #[test]
    fn every_route_of_the_table_is_in_the_openapi_document_and_no_other() {
        let doc: Value = serde_json::from_str(openapi::DOCUMENT).expect("openapi.json is JSON");
        assert_eq!(doc["openapi"], "3.1.0");
        let (table, documented) = (table(), documented(&doc));
        let missing: Vec<String> = table
            .difference(&documented)
            .map(|(m, p)| format!("  {} {p}", m.to_uppercase()))
            .collect();
        let stale: Vec<String> = documented
            .difference(&table)
            .map(|(m, p)| format!("  {} {p}", m.to_uppercase()))
            .collect();
        assert!(
            missing.is_empty() && stale.is_empty(),
            "src/web/openapi.json and the route table (src/web/routes.rs) disagree.\n\
             Add an entry under \"paths\" for each route missing from the document:\n{}\n\
             Remove each documented route the table does not have:\n{}\n",
            missing.join("\n"),
            stale.join("\n"),
        );
    }
}
