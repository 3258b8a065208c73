//! Handlers for the Orchard cluster (api-next §8): the merged VM list, per-VM routes
//! with `?backend=orchard`, create on the cluster, `GET /api/workers`, and the
//! per-backend health. A broken controller answers its own routes with a 502 naming the
//! problem and never touches the local ones.
//!
//! Handlers call the controller directly only for details, events and checks before an
//! action; the list and workers come from the poller's cache (`core::cluster`).

use std::sync::Arc;

use serde_json::{Value, json};

use super::error::{Error, FieldError};
use super::reply::Reply;
use super::state::Web;
use crate::backend::orchard::OrchardError;
use crate::backend::orchard::model::OrchardVm;
use crate::core::cluster::Cluster;
use crate::core::cluster_tasks;
use crate::core::validate;
use crate::util::target::Target;

/// Longest Orchard VM name accepted: Orchard's planned rule (`internal/simplename`) is 63.
pub const MAX_CLUSTER_NAME: usize = 63;

/// True when the request addresses the cluster: `?backend=orchard`, or no `backend`
/// with `--no-local` (then the cluster is the only backend).
pub fn wants_cluster(web: &Web, target: &Target) -> bool {
    match target.param("backend") {
        Some(b) => b == "orchard",
        None => web.core.config.no_local && web.core.cluster.is_some(),
    }
}

fn cluster(web: &Web) -> Result<&Arc<Cluster>, Error> {
    web.core.cluster.as_ref().ok_or_else(|| {
        Error::NotFound("no Orchard cluster is configured (start with --orchard URL)".into())
    })
}

fn cluster_error(e: OrchardError, name: &str) -> Error {
    match e {
        OrchardError::NotFound => {
            Error::NotFound(format!("VM {name:?} not found on the Orchard cluster"))
        }
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
    if let Some(c) = &web.core.cluster {
        backends.insert("orchard".into(), json!(c.health()));
    }
    Reply::json(
        200,
        &json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION"), "backends": backends }),
    )
}

/// `GET /api/vms`: the local rows (unless `--no-local`) then the cluster's.
pub fn list_vms(web: &Web) -> Reply {
    let Some(c) = &web.core.cluster else {
        return super::handlers::list_vms(web);
    };
    let local = web.core.inventory.json();
    let mut rows: Vec<Value> = if web.core.config.no_local {
        Vec::new()
    } else {
        serde_json::from_slice(&local).unwrap_or_default()
    };
    rows.extend(c.rows());
    Reply::json(200, &rows)
}

/// `GET /api/workers`.
pub fn workers(web: &Web) -> Reply {
    let rows = web
        .core
        .cluster
        .as_ref()
        .map(|c| c.worker_rows())
        .unwrap_or_default();
    Reply::json(200, &rows)
}

/// The VM as the controller has it now (not the cache).
fn fetch(c: &Cluster, name: &str) -> Result<OrchardVm, Error> {
    c.client.get_vm(name).map_err(|e| cluster_error(e, name))
}

/// `GET /api/vms/{name}?backend=orchard`: the row, with Orchard's details.
pub fn get_vm(web: &Web, name: &str) -> Result<Reply, Error> {
    let c = cluster(web)?;
    let vm = fetch(c, name)?;
    let mut row = vm.row();
    if let Some(why) = c.pending_reason(&vm) {
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
    let lines = c.client.events(name).map_err(|e| cluster_error(e, name))?;
    Ok(Reply::json(
        200,
        &json!({"name": name, "backend": "orchard", "lines": lines}),
    ))
}

/// `POST /api/vms/{name}/stop?backend=orchard`: the one-way power-state change.
pub fn stop(web: &Arc<Web>, name: &str) -> Result<Reply, Error> {
    let c = cluster(web)?;
    let vm = fetch(c, name)?;
    if !vm.actions().contains(&"stop") {
        return Err(Error::Conflict(format!(
            "VM {name:?} cannot be stopped: it is {} with power state {}",
            vm.status, vm.power_state
        )));
    }
    Ok(Reply::task_accepted(&cluster_tasks::submit_stop(
        &web.core, name,
    )))
}

/// `POST /api/vms/{name}/delete?backend=orchard`.
pub fn delete(web: &Arc<Web>, name: &str) -> Result<Reply, Error> {
    let c = cluster(web)?;
    fetch(c, name)?;
    Ok(Reply::task_accepted(&cluster_tasks::submit_delete(
        &web.core, name,
    )))
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
    let c = cluster(web)?;
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
    let disk = ranged(body, "disk_size", 10..=16_384)?;
    if c.vm(&name).is_some() {
        return Err(Error::Conflict(format!(
            "a VM named {name:?} already exists on the Orchard cluster"
        )));
    }
    let mut spec = json!({"name": name, "image": image, "headless": true});
    if let Some(n) = cpu {
        spec["cpu"] = json!(n);
    }
    if let Some(gb) = memory {
        spec["memory"] = json!(gb * 1024);
    }
    if let Some(gb) = disk {
        spec["diskSize"] = json!(gb);
    }
    if let Some(script) = body.get("startup_script").and_then(Value::as_str) {
        spec["startup_script"] = json!({"script_content": script});
    }
    Ok(Reply::task_accepted(&cluster_tasks::submit_create(
        &web.core, &name, spec,
    )))
}
