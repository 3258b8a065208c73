//! Making VMs: `create_vm` (from a VM or an image with `tart clone`, or empty with
//! `tart create --linux` / `--from-ipsw`, then one `tart set`) and `clone_vm` (a clone,
//! optionally started). The web layer has checked the body and that the new name is
//! free (tart would silently replace a VM of that name, even a running one).
//!
//! Stages: a clone from an image that is not cached yet is `pulling` (with `progress`)
//! and then `cloning`; a create from an IPSW is `downloading` and then `installing`,
//! each with its own 0–100 % `progress`, as tart prints them; `configuring` is the
//! `tart set`; `starting` the start after a clone.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::{check, complete, home, step, track_progress};
use crate::backend::tart::lifecycle::{
    SetChanges, clone_args, create_ipsw_args, create_linux_args, display_refit, set_args,
};
use crate::core::Core;
use crate::core::tasks::model::TaskStatus;
use crate::core::tasks::scheduler::{Keys, QueueFull};
use crate::core::tasks::{Action, Task};
use crate::limits::{TART_CHANGE_TIMEOUT, TART_CREATE_TIMEOUT};

/// What an empty VM runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Empty {
    Linux,
    /// macOS from `latest`, an https URL or a path to an `.ipsw`.
    Macos {
        ipsw: String,
    },
}

/// A checked `POST /api/vms/create` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateRequest {
    pub name: String,
    /// A local VM or an image reference to clone; `None` makes an empty VM.
    pub source: Option<String>,
    pub empty: Empty,
    pub cpu: Option<u64>,
    pub memory_gb: Option<u64>,
    /// For a clone: grow the disk to this (only when bigger than the source's).
    /// For an empty VM: its size (default 50).
    pub disk_gb: u64,
    pub disk_given: bool,
    /// The source's disk in GB, when known: a clone's disk only grows past it.
    pub source_disk_gb: Option<u64>,
}

/// The timeout of a long step: its own limit, and never more than `--tart-timeout`
/// (which sets the pull timeout too).
fn long(app: &Core, limit: Duration) -> Duration {
    limit.min(app.config.timeouts.pull)
}

/// Queues `create_vm`.
pub fn submit_create(app: &Arc<Core>, request: CreateRequest) -> Result<Task, QueueFull> {
    let name = request.name.clone();
    super::submit(
        app,
        Action::CreateVm,
        Some(&name),
        Keys::One(name.clone()),
        move |app, id| create(app, id, &request),
    )
}

/// Queues `clone_vm`.
pub fn submit_clone(
    app: &Arc<Core>,
    source: String,
    new_name: String,
    start_after: bool,
) -> Result<Task, QueueFull> {
    let name = new_name.clone();
    // The source too: it must not be renamed or deleted while it is copied.
    let keys = Keys::Two(source.clone(), new_name.clone());
    super::submit(app, Action::CloneVm, Some(&name), keys, move |app, id| {
        clone(app, id, &source, &new_name, start_after)
    })
}

/// Reads clone output: `pulling …`/`NN%` while an image comes, then `cloning`.
fn clone_line(task: &mut Task, line: &str) {
    if line.starts_with("pulling") {
        task.stage = Some("pulling".into());
    }
    track_progress(task, line);
}

/// Reads `create --from-ipsw` output: the download and the install phases.
fn ipsw_line(task: &mut Task, line: &str) {
    if line.starts_with("Fetching ") || line.starts_with("Looking up") {
        task.stage = Some("downloading".into());
        task.progress = Some(0.0);
    } else if line.starts_with("Using cached") {
        task.stage = Some("downloading".into());
        task.progress = Some(100.0);
    } else if line.starts_with("Installing OS") {
        task.stage = Some("installing".into());
        task.progress = Some(0.0);
    }
    track_progress(task, line);
}

/// `tart clone`; true when it worked (the task has failed otherwise).
fn clone_step(app: &Core, id: &str, source: &str, new_name: &str) -> bool {
    app.tasks.update(id, |t| t.stage = Some("cloning".into()));
    let timeout = long(app, app.config.timeouts.pull);
    let Some(outcome) = step(
        app,
        id,
        &clone_args(source, new_name),
        None,
        timeout,
        Some(&clone_line),
    ) else {
        return false;
    };
    if outcome.success() {
        app.tasks.update(id, |t| {
            if t.progress.is_some() {
                t.progress = Some(100.0);
            }
            t.stage = Some("cloning".into());
        });
    }
    check(app, id, "clone", &outcome, timeout)
}

fn create(app: &Arc<Core>, id: &str, request: &CreateRequest) {
    let name = request.name.as_str();
    let made = match (&request.source, &request.empty) {
        (Some(source), _) => clone_step(app, id, source, name),
        (None, Empty::Linux) => {
            let timeout = long(app, TART_CHANGE_TIMEOUT);
            let args = create_linux_args(name, request.disk_gb);
            step(app, id, &args, None, timeout, None)
                .is_some_and(|o| check(app, id, "create", &o, timeout))
        }
        (None, Empty::Macos { ipsw }) => {
            let timeout = long(app, TART_CREATE_TIMEOUT);
            let args = create_ipsw_args(name, ipsw, request.disk_gb);
            step(app, id, &args, None, timeout, Some(&ipsw_line))
                .is_some_and(|o| check(app, id, "create", &o, timeout))
        }
    };
    app.inventory.invalidate(name);
    if !made {
        return;
    }
    let grow = request
        .disk_given
        .then_some(request.disk_gb)
        .filter(|_| request.source.is_some())
        .filter(|gb| request.source_disk_gb.is_none_or(|source| *gb > source));
    let changes = SetChanges {
        cpu: request.cpu,
        memory_mib: request.memory_gb.map(|gb| gb * 1024),
        disk_gb: grow,
        display_refit: home(app).and_then(|h| display_refit(&h, name)),
        ..SetChanges::default()
    };
    if !changes.is_empty() {
        app.tasks
            .update(id, |t| t.stage = Some("configuring".into()));
        let timeout = long(app, TART_CHANGE_TIMEOUT);
        let Some(outcome) = step(app, id, &set_args(name, &changes), None, timeout, None) else {
            return;
        };
        if !outcome.success() {
            let why = super::failure("set", &outcome, timeout);
            app.refresh_quietly();
            app.tasks.update(id, |t| {
                t.fail(format!(
                    "VM {name} was made, but its settings were not: {why}"
                ))
            });
            return;
        }
    }
    app.inventory.invalidate(name);
    app.refresh_quietly(); // the new row is listed before the task ends
    app.tasks.update(id, |t| t.stage = None);
    complete(
        app,
        id,
        json!({ "message": format!("VM {name} created"), "name": name }),
    );
}

fn clone(app: &Arc<Core>, id: &str, source: &str, new_name: &str, start_after: bool) {
    if !clone_step(app, id, source, new_name) {
        app.inventory.invalidate(new_name);
        return;
    }
    app.inventory.invalidate(new_name);
    app.refresh_quietly();
    if !start_after {
        app.tasks.update(id, |t| t.stage = None);
        return complete(
            app,
            id,
            json!({ "message": format!("VM {new_name} cloned from {source}"), "name": new_name }),
        );
    }
    app.tasks.update(id, |t| {
        t.stage = Some("starting".into());
        t.progress = None;
    });
    crate::core::tasks::actions::start(app, id, new_name);
    app.tasks.update(id, |t| {
        t.stage = None;
        match t.status {
            TaskStatus::Completed => {
                let mut result = t.result.take().unwrap_or_else(|| json!({}));
                result["name"] = json!(new_name);
                result["message"] =
                    json!(format!("VM {new_name} cloned from {source} and started"));
                t.result = Some(result);
            }
            _ => {
                let why = t.error.take().unwrap_or_default();
                t.fail(format!(
                    "VM {new_name} was cloned from {source}, but it did not start: {why}"
                ));
            }
        }
    });
}
