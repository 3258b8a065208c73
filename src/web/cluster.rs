//! Handlers for the Orchard cluster (api-next §8): the merged VM list, per-VM routes
//! with `?backend=orchard`, create on the cluster, `GET /api/workers`, and the
//! per-backend health. A broken controller answers its own routes with a 502 naming the
//! problem and never touches the local ones.
//!
//! Reads that only the cluster answers (details with Orchard's fields, events, config)
//! ask the controller through `OrchardHost`; the list and workers come from the
//! poller's cache. Actions are operations like the local ones (`core::ops`, on
//! `Host::Cluster`): checked by the host, queued on the scheduler, cancellable there.

use std::sync::Arc;

use serde_json::{Value, json};

use super::error::{Error, FieldError};
use super::handlers::accepted;
use super::reply::Reply;
use super::state::Web;
use crate::backend::host::{HostError, Provision as Spec};
use crate::backend::orchard::OrchardHost;
use crate::backend::orchard::model::OrchardVm;
use crate::core::Host;
use crate::core::ops::delete::Delete;
use crate::core::ops::provision::Provision;
use crate::core::ops::stop::Stop;
use crate::core::validate;
use crate::util::target::Target;

/// Longest Orchard VM name accepted: Orchard's planned rule (`internal/simplename`) is 63.
pub const MAX_CLUSTER_NAME: usize = 63;

/// True when the request addresses the cluster: `?backend=orchard`, or no `backend`
/// with `--no-local` (then the cluster is the only backend).
pub fn wants_cluster(web: &Web, target: &Target) -> bool {
    match target.param("backend") {
        Some(b) => b == "orchard",
        None => web.core.config.no_local && web.cluster.is_some(),
    }
}

fn cluster(web: &Web) -> Result<&Arc<OrchardHost>, Error> {
    web.cluster.as_ref().ok_or_else(|| {
        Error::NotFound("no Orchard cluster is configured (start with --orchard URL)".into())
    })
}

/// A failed read of the cluster: 404 for a VM it does not have, else 502.
fn cluster_error(e: HostError) -> Error {
    match e {
        HostError::NotFound(m) => Error::NotFound(m),
        other => Error::Cluster(other.to_string()),
    }
}

/// `GET /api/health`: the local side's answer plus `backends`.
pub fn health(web: &Web) -> Reply {
    let mut backends = serde_json::Map::new();
    backends.insert(
        "tart".into(),
        json!(if web.core.config.no_local {
            "disabled"
        } else {
            "ok"
        }),
    );
    if let Some(c) = &web.cluster {
        backends.insert("orchard".into(), json!(c.cache.health()));
    }
    Reply::json(
        200,
        &json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION"), "backends": backends }),
    )
}

/// `GET /api/vms`: the local rows (unless `--no-local`) then the cluster's.
pub fn list_vms(web: &Web) -> Reply {
    let Some(c) = &web.cluster else {
        return super::handlers::list_vms(web);
    };
    let local = web.core.inventory.json();
    let mut rows: Vec<Value> = if web.core.config.no_local {
        Vec::new()
    } else {
        serde_json::from_slice(&local).unwrap_or_default()
    };
    rows.extend(c.cache.rows());
    Reply::json(200, &rows)
}

/// `GET /api/workers`.
pub fn workers(web: &Web) -> Reply {
    let rows = web
        .cluster
        .as_ref()
        .map(|c| c.cache.worker_rows())
        .unwrap_or_default();
    Reply::json(200, &rows)
}

/// The VM as the controller has it now (not the cache).
fn fetch(c: &OrchardHost, name: &str) -> Result<OrchardVm, Error> {
    c.fetch(name).map_err(cluster_error)
}

/// `GET /api/vms/{name}?backend=orchard`: the row, with Orchard's details.
pub fn get_vm(web: &Web, name: &str) -> Result<Reply, Error> {
    let c = cluster(web)?;
    let vm = fetch(c, name)?;
    let mut row = vm.row();
    if let Some(why) = c.cache.pending_reason(&vm) {
        row["status_message"] = json!(why);
    }
    // The address is on the worker's NAT network: shown, but not reachable from here.
    if vm.row_status() == "running" {
        row["ip_on_worker"] = json!(c.client.ip(name).ok().flatten());
    }
    row["orchard"] = json!({
        "os": vm.os, "arch": vm.arch, "runtime": vm.runtime,
        "generation": vm.generation, "observed_generation": vm.observed_generation,
        "conditions": vm.conditions.iter().map(|c| json!({"type": c.kind, "state": c.state})).collect::<Vec<_>>(),
        "local_name": vm.local_name, "image_fqn": vm.image_fqn, "started_at": vm.started_at,
        "controller": c.client.endpoint.url(),
    });
    Ok(Reply::json(200, &row))
}

/// `GET /api/vms/{name}/config?backend=orchard`: the sizes Orchard assigned.
pub fn vm_config(web: &Web, name: &str) -> Result<Reply, Error> {
    let c = cluster(web)?;
    let vm = fetch(c, name)?;
    let row = vm.row();
    Ok(Reply::json(
        200,
        &json!({"name": name, "cpu": row["cpu"], "memory": row["memory"], "disk_size": row["disk_size"], "raw": row}),
    ))
}

/// `GET /api/vms/{name}/events?backend=orchard`: Orchard's events (startup-script output).
pub fn events(web: &Web, name: &str) -> Result<Reply, Error> {
    let c = cluster(web)?;
    let lines = c.events(name).map_err(cluster_error)?;
    Ok(Reply::json(
        200,
        &json!({"name": name, "backend": "orchard", "lines": lines}),
    ))
}

/// `POST /api/vms/{name}/stop?backend=orchard`: the one-way power-state change.
pub fn stop(web: &Arc<Web>, name: &str) -> Result<Reply, Error> {
    cluster(web)?;
    let name = name.to_string();
    accepted(
        web,
        Stop {
            name,
            graceful: None,
            on: Host::Cluster,
        },
    )
}

/// `POST /api/vms/{name}/delete?backend=orchard`.
pub fn delete(web: &Arc<Web>, name: &str) -> Result<Reply, Error> {
    cluster(web)?;
    let name = name.to_string();
    accepted(
        web,
        Delete {
            name,
            on: Host::Cluster,
        },
    )
}

/// `POST /api/vms/{name}/start?backend=orchard`: Orchard cannot start a VM again.
pub fn start(web: &Web, name: &str) -> Result<Reply, Error> {
    let c = cluster(web)?;
    fetch(c, name)?;
    Err(Error::Conflict(format!(
        "VM {name:?} is on the Orchard cluster, which cannot start a VM again: its power \
         state only goes from running to stopped; create a new VM from the same image"
    )))
}

fn field(kind: &'static str, name: &str, msg: impl Into<String>, input: Value) -> Error {
    Error::Validation(vec![FieldError {
        kind,
        loc: vec!["body".into(), name.into()],
        msg: msg.into(),
        input,
    }])
}

/// A whole number field within `range`, if present.
fn ranged(
    body: &Value,
    key: &str,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Option<u64>, Error> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_u64() {
            Some(n) if range.contains(&n) => Ok(Some(n)),
            _ => Err(field(
                "value_error",
                key,
                format!(
                    "Value error, {key} must be a whole number from {} to {}",
                    range.start(),
                    range.end()
                ),
                v.clone(),
            )),
        },
    }
}

/// Whether a create body asks for the cluster (`"backend": "orchard"`); `"tart"` or no
/// `backend` means the local one, anything else is a 422.
pub fn on_cluster(body: Option<&Value>) -> Result<bool, Error> {
    match body.and_then(|b| b.get("backend")) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::String(b)) if b == "tart" => Ok(false),
        Some(Value::String(b)) if b == "orchard" => Ok(true),
        Some(other) => Err(field(
            "literal_error",
            "backend",
            "Input should be 'tart' or 'orchard'",
            other.clone(),
        )),
    }
}

/// `POST /api/vms/create` with `"backend": "orchard"`: `source_vm` is the image, `cpu`,
/// `memory` (GB) and `disk_size` (GB) are passed on; the VM is created headless.
pub fn create(web: &Arc<Web>, body: &Value) -> Result<Reply, Error> {
    cluster(web)?;
    let Value::Object(_) = body else {
        return Err(Error::Validation(vec![FieldError {
            kind: "model_attributes_type",
            loc: vec!["body".into()],
            msg: "Input should be a valid dictionary or object to extract fields from".into(),
            input: body.clone(),
        }]));
    };
    let name = match body.get("name") {
        Some(Value::String(n)) => n.clone(),
        Some(other) => {
            return Err(field(
                "string_type",
                "name",
                "Input should be a valid string",
                other.clone(),
            ));
        }
        None => return Err(field("missing", "name", "Field required", Value::Null)),
    };
    let ok_char = |ch: char| ch.is_ascii_alphanumeric() || matches!(ch, '-' | '_' | '.' | ':');
    if name.is_empty() || name.len() > MAX_CLUSTER_NAME || !name.chars().all(ok_char) {
        return Err(field(
            "value_error",
            "name",
            format!(
                "Value error, an Orchard VM name is 1 to {MAX_CLUSTER_NAME} letters, digits, '-', '_', '.' or ':'"
            ),
            json!(name),
        ));
    }
    let image = match body.get("source_vm") {
        Some(Value::String(s)) => s.trim().to_string(),
        None | Some(Value::Null) => {
            return Err(field(
                "missing",
                "source_vm",
                "Field required: the image a cluster VM is created from",
                Value::Null,
            ));
        }
        Some(other) => {
            return Err(field(
                "string_type",
                "source_vm",
                "Input should be a valid string",
                other.clone(),
            ));
        }
    };
    validate::oci_reference(&image).map_err(|why| {
        field(
            "value_error",
            "source_vm",
            format!("Value error, {why}"),
            json!(image),
        )
    })?;
    let cpu = ranged(body, "cpu", 1..=128)?;
    let memory = ranged(body, "memory", 1..=1024)?;
    let disk_gb = ranged(body, "disk_size", 10..=16_384)?;
    let spec = Spec {
        name,
        image,
        cpu,
        memory_mib: memory.map(|gb| gb * 1024),
        disk_gb,
        startup_script: body
            .get("startup_script")
            .and_then(Value::as_str)
            .map(str::to_string),
    };
    accepted(
        web,
        Provision {
            on: Host::Cluster,
            spec,
        },
    )
}
