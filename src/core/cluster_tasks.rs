//! Tasks on the Orchard cluster: create (POST, then follow the VM through Orchard's
//! status with `stage`), stop (the one-way power state) and delete. Each runs on a
//! thread of its own, not on the tart worker pool: a create waits minutes for a worker
//! to pull an image and must not hold a slot local actions need.
//!
//! A create follows a watch stream (its own thread, reconnecting) and, between watch
//! messages, a `GET` every [`FOLLOW_POLL`], so a lost stream costs latency, not
//! correctness. The startup script's output (Orchard's events) becomes the task's log.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::RecvTimeoutError;
use serde_json::{Value, json};

use super::Core;
use super::cluster::Cluster;
use super::tasks::model::TaskStatus;
use super::tasks::{Action, Task};
use crate::backend::orchard::OrchardError;
use crate::backend::orchard::model::OrchardVm;
use crate::backend::orchard::watch::{WatchEvent, spawn_watch};

/// How long a create may wait for its VM to run: a first pull of a macOS image on a
/// worker takes many minutes; tart's own pull limit is of the same order.
pub const CREATE_TIMEOUT: Duration = Duration::from_secs(3 * 3600);

/// How long a stop may take to be confirmed by the worker (Orchard's workers sync every
/// 5 s; a guest shutdown takes seconds to a minute).
pub const STOP_TIMEOUT: Duration = Duration::from_secs(600);

/// The `GET` fallback between watch messages.
pub const FOLLOW_POLL: Duration = Duration::from_secs(2);

/// Runs `job` for a new task on a thread of its own. A `cancellable` task's job gets the
/// switch `Core::cancel_task` sets; the others get one that stays off.
fn spawn_task(
    core: &Arc<Core>,
    action: Action,
    name: &str,
    cancellable: bool,
    job: impl FnOnce(&Core, &str, &AtomicBool) + Send + 'static,
) -> Task {
    let task = core.tasks.create(action, Some(name.to_string()));
    let (core2, id) = (core.clone(), task.id.clone());
    let switch = cluster(core)
        .track(&task.id, cancellable)
        .unwrap_or_default();
    let spawned = std::thread::Builder::new()
        .name("orchard-task".into())
        .spawn(move || {
            core2.tasks.update(&id, |t| t.status = TaskStatus::Running);
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                job(&core2, &id, &switch)
            }));
            if outcome.is_err() {
                core2
                    .tasks
                    .update(&id, |t| t.fail("internal error while running the task"));
            }
            let c = cluster(&core2);
            c.untrack(&id);
            let _ = c.refresh();
        });
    if spawned.is_err() {
        core.tasks
            .update(&task.id, |t| t.fail("cannot start a thread for the task"));
    }
    // Journaled like every task that was not refused.
    core.tasks.accept(&task.id);
    task
}

fn cluster(core: &Core) -> &Arc<Cluster> {
    core.cluster
        .as_ref()
        .expect("cluster tasks run only with a cluster")
}

/// Creates VM `name` on the cluster from `spec` (an Orchard create body).
pub fn submit_create(core: &Arc<Core>, name: &str, spec: Value) -> Task {
    spawn_task(
        core,
        Action::CreateVm,
        name,
        true,
        move |core, id, cancel| create(core, id, &spec, cancel),
    )
}

/// Stops VM `name` (Orchard: `powerState: stopped`, irreversible).
pub fn submit_stop(core: &Arc<Core>, name: &str) -> Task {
    spawn_task(core, Action::StopVm, name, false, |core, id, _| {
        stop(core, id)
    })
}

/// Deletes VM `name` from the cluster.
pub fn submit_delete(core: &Arc<Core>, name: &str) -> Task {
    spawn_task(core, Action::DeleteVm, name, false, |core, id, _| {
        delete(core, id)
    })
}

fn log(core: &Core, id: &str, line: String) {
    core.tasks.update(id, |t| t.push_log(line));
}

fn create(core: &Core, id: &str, spec: &Value, cancel: &AtomicBool) {
    let c = cluster(core);
    let name = spec["name"].as_str().unwrap_or_default().to_string();
    log(
        core,
        id,
        format!("POST {}/v1/vms ({name})", c.client.endpoint.url()),
    );
    core.tasks
        .update(id, |t| t.stage = Some("submitting".into()));
    let created = match c.client.create_vm(spec) {
        Ok(vm) => vm,
        Err(e) => {
            core.tasks.update(id, |t| t.fail(e.to_string()));
            return;
        }
    };
    let _ = c.refresh();
    let watch = spawn_watch(c.client.clone(), &name);
    let deadline = Instant::now() + CREATE_TIMEOUT;
    let mut seen_events = 0;
    let mut last = created.clone();
    let mut seen = Follow::default();
    let mut outcome = progress(core, id, c, &created, &mut seen);
    while outcome.is_none() {
        if cancel.load(Ordering::SeqCst) {
            // Cancelling a create on Orchard is deleting what it made.
            log(
                core,
                id,
                format!("cancelled: deleting {name} from the cluster"),
            );
            if let Err(e) = c.client.delete_vm(&name) {
                log(core, id, format!("the delete failed: {e}"));
            }
            core.tasks.update(id, |t| t.cancel());
            return;
        }
        if core.shutting_down() {
            outcome = Some(Err(
                "the server is shutting down; the VM stays on the cluster".into(),
            ));
            break;
        }
        if Instant::now() >= deadline {
            outcome = Some(Err(format!(
                "the VM did not run within {} s",
                CREATE_TIMEOUT.as_secs()
            )));
            break;
        }
        let vm = match watch.events.recv_timeout(FOLLOW_POLL) {
            Ok(WatchEvent::Changed(vm)) => Some(*vm),
            Ok(WatchEvent::Deleted) => {
                outcome = Some(Err("the VM was deleted on the cluster".into()));
                break;
            }
            Ok(WatchEvent::Lost(e)) => {
                log(core, id, format!("watch interrupted ({e}); reconnecting"));
                None
            }
            Err(RecvTimeoutError::Timeout) => match c.client.get_vm(&name) {
                Ok(vm) => Some(vm),
                Err(OrchardError::NotFound) => {
                    outcome = Some(Err("the VM was deleted on the cluster".into()));
                    break;
                }
                Err(_) => None,
            },
            Err(RecvTimeoutError::Disconnected) => None,
        };
        if let Some(vm) = vm {
            if vm.uid != created.uid {
                outcome = Some(Err(
                    "another VM of the same name replaced it on the cluster".into(),
                ));
                break;
            }
            outcome = progress(core, id, c, &vm, &mut seen);
            last = vm;
        }
        seen_events = copy_events(core, id, c, &name, seen_events);
    }
    copy_events(core, id, c, &name, seen_events);
    core.tasks.update(id, |t| {
        match outcome.expect("the loop ends with an outcome") {
            Ok(()) => {
                t.status = TaskStatus::Completed;
                t.progress = Some(100.0);
                t.result = Some(json!({
                    "message": format!("VM {name:?} is running on worker {}", last.worker),
                    "name": name,
                    "worker": last.worker,
                    "backend": "orchard",
                    "ip_address": Value::Null,
                }));
            }
            Err(why) => t.fail(why),
        }
    });
}

/// What a create has reported so far.
#[derive(Default)]
struct Follow {
    stage: Option<String>,
    placed: bool,
}

/// Records where the VM is (stage and log lines); `Some` once the create has an outcome.
fn progress(
    core: &Core,
    id: &str,
    c: &Cluster,
    vm: &OrchardVm,
    seen: &mut Follow,
) -> Option<Result<(), String>> {
    if !vm.worker.is_empty() && !seen.placed {
        seen.placed = true;
        log(core, id, format!("scheduled on {}", vm.worker));
    }
    let stage = if vm.worker.is_empty() {
        "pending".to_string()
    } else if vm.status_message.is_empty() {
        format!("scheduled on {}", vm.worker)
    } else {
        vm.status_message.clone()
    };
    if seen.stage.as_ref() != Some(&stage) {
        if vm.worker.is_empty() {
            let why = c
                .pending_reason(vm)
                .unwrap_or_else(|| "waiting for a worker".into());
            log(core, id, format!("pending: {why}"));
        } else if !vm.status_message.is_empty() {
            log(core, id, vm.status_message.clone());
        }
        core.tasks.update(id, |t| t.stage = Some(stage.clone()));
        seen.stage = Some(stage);
    }
    match vm.status.as_str() {
        "failed" if vm.status_message.is_empty() => {
            Some(Err("the VM failed on the cluster".into()))
        }
        "failed" => Some(Err(vm.status_message.clone())),
        // Running once the worker reports the `running` condition: then a startup
        // script has run (its output is in the events) and the VM is up, not starting.
        "running" if vm.condition("running") == Some(true) => Some(Ok(())),
        _ => None,
    }
}

/// Appends the VM's events past `seen` to the task log; returns the new count.
fn copy_events(core: &Core, id: &str, c: &Cluster, name: &str, seen: usize) -> usize {
    match c.client.events(name) {
        Ok(lines) if lines.len() > seen => {
            core.tasks.update(id, |t| {
                for l in &lines[seen..] {
                    t.push_log(l.clone());
                }
            });
            lines.len()
        }
        _ => seen,
    }
}

fn stop(core: &Core, id: &str) {
    let c = cluster(core);
    let name = vm_name(core, id);
    log(
        core,
        id,
        format!(
            "PUT {}/v1/vms/{name} powerState=stopped",
            c.client.endpoint.url()
        ),
    );
    let mut vm = match c.client.set_power_state(&name, "stopped") {
        Ok(vm) => vm,
        Err(e) => {
            core.tasks.update(id, |t| t.fail(e.to_string()));
            return;
        }
    };
    core.tasks.update(id, |t| t.stage = Some("stopping".into()));
    let deadline = Instant::now() + STOP_TIMEOUT;
    while vm.observed_generation < vm.generation || vm.condition("running") == Some(true) {
        if Instant::now() >= deadline || core.shutting_down() {
            core.tasks.update(id, |t| {
                t.fail("the worker did not confirm the stop in time; Orchard will still stop it")
            });
            return;
        }
        std::thread::sleep(Duration::from_millis(250));
        vm = match c.client.get_vm(&name) {
            Ok(vm) => vm,
            Err(e) => {
                core.tasks.update(id, |t| t.fail(e.to_string()));
                return;
            }
        };
        if vm.status == "failed" {
            let why = vm.status_message.clone();
            core.tasks.update(id, |t| {
                t.fail(format!("the VM failed while stopping: {why}"))
            });
            return;
        }
    }
    let message = vm.status_message.clone();
    core.tasks.update(id, |t| {
        t.push_log(message);
        t.status = TaskStatus::Completed;
        t.result =
            Some(json!({"message": format!("VM {name:?} stopped on the cluster"), "name": name}));
    });
}

fn delete(core: &Core, id: &str) {
    let c = cluster(core);
    let name = vm_name(core, id);
    log(
        core,
        id,
        format!("DELETE {}/v1/vms/{name}", c.client.endpoint.url()),
    );
    match c.client.delete_vm(&name) {
        Ok(()) => core.tasks.update(id, |t| {
            t.status = TaskStatus::Completed;
            t.result = Some(
                json!({"message": format!("VM {name:?} deleted from the cluster"), "name": name}),
            );
        }),
        Err(e) => core.tasks.update(id, |t| t.fail(e.to_string())),
    };
}

fn vm_name(core: &Core, id: &str) -> String {
    let mut name = String::new();
    core.tasks
        .update(id, |t| name = t.vm_name.clone().unwrap_or_default());
    name
}
