//! Route handlers: plain functions from the request's parts to a reply. They validate
//! input before anything runs (SECURITY.md promise 6) and never block on a long `tart`
//! action: those become tasks and answer 202 at once.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::reply::{Body, Reply, Routed};
use super::request::Head;
use super::state::Web;
use crate::backend::host::HostError;
use crate::console::{TICKET_LIFETIME, VncTarget};
use crate::core::Host;
use crate::core::ops::delete::Delete;
use crate::core::ops::pull::Pull;
use crate::core::ops::stop::Stop;
use crate::core::ops::{self, Operation};
use crate::core::tasks::Action;
use crate::core::tasks::model::TaskStatus;
use crate::core::validate;
use crate::core::vm::Vm;
use crate::limits::{
    FRESH_CHECK_WAIT, GRACEFUL_STOP_TIMEOUT, MAX_GRACEFUL_STOP_TIMEOUT, REFRESH_ROUTE_WAIT,
};
use crate::util::target::Target;
use crate::web::error::Error;

pub fn index() -> Reply {
    super::assets::index()
}

/// `GET /console?vm=<name>`: the console page, allowed to open WebSockets to the
/// console listener besides its own origin.
pub fn console_page(app: &Web) -> Reply {
    let page = super::assets::CONSOLE.as_bytes();
    Reply {
        connect_src: Some(format!("ws://127.0.0.1:{}", app.consoles.port())),
        ..Reply::page("text/html; charset=utf-8", Body::Static(page))
    }
}

/// `GET /api/tart/version`: the host's version as the refresher thread last learned it
/// for the binary installed now; when that binary is new, one bounded wait for the
/// refresher to ask it ([`FRESH_CHECK_WAIT`]), never a `tart` call on this worker.
pub fn tart_version(app: &Web) -> Result<Reply, Error> {
    let backend = &app.core.backend;
    let known = backend.known_version().or_else(|| {
        app.core.fresh_inventory(FRESH_CHECK_WAIT);
        backend.known_version()
    });
    let version = known.ok_or_else(|| {
        Error::Unavailable("tart has not answered --version yet; try again shortly".into())
    })??;
    let mut answer = json!({ "version": version.version });
    // Only for a tart this server cannot drive well: `supported` and why.
    if !version.warnings.is_empty() {
        answer["supported"] = json!(false);
        answer["warnings"] = json!(version.warnings);
    }
    Ok(Reply::json(200, &answer))
}

pub fn list_vms(app: &Web) -> Reply {
    Reply::json_bytes(200, Body::Shared(app.core.inventory.json()))
}

/// Asks the refresher thread for a fresh list and waits for it at most
/// [`REFRESH_ROUTE_WAIT`]: on failure 502 with the reason and the last good list; when
/// it takes longer (a slow or hung `tart`), the cached list marked `X-Refreshing: true`
/// while the refresh goes on. No `tart` runs on this worker.
pub fn refresh_vms(app: &Web) -> Reply {
    let inventory = &app.core.inventory;
    match app.core.fresh_inventory(REFRESH_ROUTE_WAIT) {
        Some(Ok(())) => Reply::json_bytes(200, Body::Shared(inventory.json())),
        Some(Err(detail)) => {
            let vms: Value =
                serde_json::from_slice(&inventory.json()).unwrap_or(Value::Array(Vec::new()));
            Reply::json(502, &json!({ "detail": detail, "vms": vms }))
        }
        None => Reply {
            refreshing: true,
            ..Reply::json_bytes(200, Body::Shared(inventory.json()))
        },
    }
}

/// A VM from the inventory; an unknown name waits (at most [`FRESH_CHECK_WAIT`]) for one
/// fresh refresh before the 404, so a VM made with the CLI a moment ago is found.
///
/// A name that is neither a valid VM name nor an OCI reference cannot be one tart would
/// list, so it gets its 404 without running `tart` (SECURITY.md promise 6).
pub(crate) fn find_vm(app: &Web, name: &str) -> Result<Vm, Error> {
    if validate::vm_name(name).is_err() && validate::oci_reference(name).is_err() {
        return Err(Error::NotFound(format!("VM {name:?} not found")));
    }
    Ok(ops::find_vm(&app.core, name)?)
}

/// A VM name taken from a path: one that breaks the name rule names no VM that can
/// exist, hence a 404 (api-next.md §1), saying which rule.
pub(crate) fn path_name(name: &str) -> Result<(), Error> {
    validate::vm_name(name)
        .map_err(|why| Error::NotFound(format!("no VM is named {name:?}: {why}")))
}

pub fn get_vm(app: &Web, name: &str) -> Result<Reply, Error> {
    let vm = find_vm(app, name)?;
    Ok(Reply::json(200, &app.core.inventory.row(&vm)))
}

pub fn vm_config(app: &Web, name: &str, target: &Target) -> Result<Reply, Error> {
    let force = match target.param("force_refresh") {
        None => false,
        Some(v) => parse_bool(v).ok_or_else(|| {
            Error::Validation(vec![crate::web::error::FieldError {
                kind: "bool_parsing",
                loc: vec!["query".into(), "force_refresh".into()],
                msg: "Input should be a valid boolean, unable to interpret input".into(),
                input: Value::String(v.to_string()),
            }])
        })?,
    };
    if app
        .core
        .inventory
        .vm(name)
        .is_some_and(|vm| vm.source.as_deref() == Some("oci"))
    {
        return Err(Error::BadRequest(format!(
            "{name:?} is an OCI image; configuration is only available for local VMs"
        )));
    }
    path_name(name)?;
    if let Some(config) = app.core.inventory.cached_config(name, force) {
        return Ok(Reply::json(200, &config));
    }
    // A miss asks `tart get`, beside this worker and for a bounded time.
    let core = app.core.clone();
    let owned = name.to_string();
    let answer = crate::util::bounded::run(REFRESH_ROUTE_WAIT, move || {
        core.inventory.config(core.backend.as_ref(), &owned)
    });
    match answer {
        Some(Ok(config)) => Ok(Reply::json(200, &config)),
        Some(Err(HostError::NotFound(_))) => Err(Error::NotFound(format!("VM {name:?} not found"))),
        Some(Err(e)) => Err(e.into()),
        None => Err(Error::Unavailable(format!(
            "tart is slow to describe {name:?}; try again shortly"
        ))),
    }
}

/// FastAPI's boolean words.
fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" | "t" | "y" => Some(true),
        "false" | "0" | "no" | "off" | "f" | "n" => Some(false),
        _ => None,
    }
}

/// `POST /api/vms/{name}/stop`, optionally `{"graceful": true, "timeout"?: seconds}`:
/// ask the guest to shut down and fall back to `tart stop` after the timeout (default
/// [`GRACEFUL_STOP_TIMEOUT`]); without it, the seed's `tart stop --timeout 30`.
pub fn stop(app: &Arc<Web>, name: &str, body: Option<Value>) -> Result<Reply, Error> {
    path_name(name)?;
    let graceful = graceful_stop(body)?;
    accepted(
        app,
        Stop {
            name: name.to_string(),
            graceful,
            on: Host::Local,
        },
    )
}

/// The stop body: `Some(timeout)` for a graceful stop.
fn graceful_stop(body: Option<Value>) -> Result<Option<Duration>, Error> {
    let fields = match body {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(fields)) => fields,
        Some(other) => {
            return Err(Error::Validation(vec![crate::web::error::FieldError {
                kind: "model_attributes_type",
                loc: vec!["body".into()],
                msg: "Input should be a valid dictionary or object to extract fields from".into(),
                input: other,
            }]));
        }
    };
    let graceful = match fields.get("graceful") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(Error::invalid_field(
                "bool_type",
                "graceful",
                "Input should be a valid boolean",
                other.clone(),
            ));
        }
    };
    let max = MAX_GRACEFUL_STOP_TIMEOUT.as_secs();
    let timeout = match fields.get("timeout") {
        None | Some(Value::Null) => GRACEFUL_STOP_TIMEOUT,
        Some(v) => match v.as_u64().filter(|s| (1..=max).contains(s)) {
            Some(seconds) => Duration::from_secs(seconds),
            None => {
                return Err(Error::invalid_field(
                    "int_range",
                    "timeout",
                    format!("Input should be a whole number of seconds from 1 to {max}"),
                    v.clone(),
                ));
            }
        },
    };
    Ok(graceful.then_some(timeout))
}

pub fn delete(app: &Arc<Web>, name: &str) -> Result<Reply, Error> {
    if validate::vm_name(name).is_err() {
        validate::oci_reference(name).map_err(|_| {
            Error::NotFound(format!(
                "{name:?} is neither a valid VM name nor a valid OCI reference"
            ))
        })?;
    }
    accepted(
        app,
        Delete {
            name: name.to_string(),
            on: Host::Local,
        },
    )
}

pub fn pull(app: &Arc<Web>, body: Option<Value>) -> Result<Reply, Error> {
    let reference = oci_url(body)?;
    accepted(app, Pull { reference })
}

/// `{"oci_url": "..."}`, validated as FastAPI would answer, plus the OCI grammar.
fn oci_url(body: Option<Value>) -> Result<String, Error> {
    let Some(body) = body else {
        return Err(Error::Validation(vec![crate::web::error::FieldError {
            kind: "missing",
            loc: vec!["body".into()],
            msg: "Field required".into(),
            input: Value::Null,
        }]));
    };
    let Value::Object(fields) = &body else {
        return Err(Error::Validation(vec![crate::web::error::FieldError {
            kind: "model_attributes_type",
            loc: vec!["body".into()],
            msg: "Input should be a valid dictionary or object to extract fields from".into(),
            input: body.clone(),
        }]));
    };
    match fields.get("oci_url") {
        None => Err(Error::invalid_field(
            "missing",
            "oci_url",
            "Field required",
            body.clone(),
        )),
        Some(Value::String(url)) => {
            let url = url.trim();
            validate::oci_reference(url).map_err(|why| {
                Error::invalid_field(
                    "value_error",
                    "oci_url",
                    format!("Value error, {why}"),
                    json!(url),
                )
            })?;
            Ok(url.to_string())
        }
        Some(other) => Err(Error::invalid_field(
            "string_type",
            "oci_url",
            "Input should be a valid string",
            other.clone(),
        )),
    }
}

/// Checks and queues `op`: 202 with its task, or the refusal's status.
pub(crate) fn accepted(app: &Web, op: impl Operation) -> Result<Reply, Error> {
    Ok(Reply::task_accepted(&ops::submit(&app.core, op)?))
}

pub fn get_task(app: &Web, id: &str) -> Result<Reply, Error> {
    app.core
        .tasks
        .get_json(id)
        .map(|json| Reply::json_bytes(200, Body::Owned(json)))
        .ok_or_else(|| Error::NotFound("Task not found".into()))
}

/// Checks a WebSocket upgrade before it happens: the task exists and the handshake is
/// well-formed. Answered as plain HTTP when not.
pub fn websocket(app: &Web, head: &Head, id: &str) -> Result<Routed, Error> {
    if !app.core.tasks.contains(id) {
        return Err(Error::NotFound("Task not found".into()));
    }
    super::ws::check_handshake(head)?;
    Ok(Routed::WebSocket(id.to_string()))
}

/// `POST /api/_debug/panic`, compiled into debug builds only (`cfg(debug_assertions)`;
/// `scripts/serve` and releases build without it): panics while holding the task store's
/// lock, so the security tests can prove through the real binary that a handler panic is
/// a 500 for that request alone and leaves shared state usable (SECURITY.md promise 10).
/// It sits behind the guard and the token like every API route.
#[cfg(debug_assertions)]
pub fn debug_panic(app: &Web) -> Reply {
    app.core.tasks.panic_while_locked()
}

/// `POST /api/vms/{name}/console`: a single-use WebSocket URL for the running VM's
/// screen (api-next.md §7). The VNC server and its password come from what `tart run
/// --vnc-experimental` printed for the VM's last start; the page never sees them.
pub fn console(app: &Web, name: &str) -> Result<Reply, Error> {
    let vm = find_vm(app, name)?;
    if !app.core.backend.capabilities().console {
        return Err(Error::Conflict(format!(
            "VM {name:?} has no screen this server can show: its host offers none"
        )));
    }
    if vm.status != "running" {
        return Err(Error::Conflict(format!("VM {name:?} is not running")));
    }
    let target = app
        .core
        .tasks
        .newest(|t| t.action == Action::StartVm && t.vm_name.as_deref() == Some(name))
        .filter(|t| t.status == TaskStatus::Completed)
        .and_then(|t| {
            let url = t.result?.get("vnc_url")?.as_str()?.to_string();
            VncTarget::from_url(&url)
        })
        .ok_or_else(|| {
            Error::Conflict(format!(
                "VM {name:?} has no screen to show here: it was not started with display \"vnc\" (tart run --vnc-experimental)"
            ))
        })?;
    let url = app.consoles.issue(name, target).map_err(|_| {
        Error::TooManyRequests("too many console tickets are waiting; try again shortly".into())
    })?;
    Ok(Reply::json(
        200,
        &json!({ "url": url, "expires_in": TICKET_LIFETIME.as_secs() }),
    ))
}
