//! The graceful stop (`tart-real-mac.md` item 8): `tart stop` is a hard power-off
//! (SIGINT to `tart run`, which calls `VZVirtualMachine.stop()`), so this asks the guest
//! instead. It sends SIGUSR2 to the VM's `tart run` — tart's own way to request a guest
//! shutdown (`Requesting guest OS to stop...`) — waits up to the given time for the run
//! to release the VM, and falls back to the ordinary `tart stop --timeout 30` if the
//! guest does not go (a macOS guest with a logged-in user may only show a dialog).
//!
//! The `tart run` is found as tart finds it: the PID holding the `config.json` lock. When
//! the lock cannot be asked (another tart home), the stop is the ordinary one at once.
//!
//! Threading: runs on a boot-wait lane worker; polls the lock; no lock of ours is held meanwhile.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use super::model::{Action, Task, TaskStatus};
use super::queue::queue;
use super::scheduler::{Keys, Lane, QueueFull};
use crate::core::Core;
use crate::core::inventory::Change;
use crate::limits::GRACEFUL_STOP_POLL_INTERVAL;

/// Queues a graceful stop of `name` that waits up to `timeout` for the guest.
pub fn submit(app: &Arc<Core>, name: &str, timeout: Duration) -> Result<Task, QueueFull> {
    let job_name = name.to_string();
    // It mostly sleeps while the guest shuts down, up to minutes: the waiting lane, so
    // quick actions keep their workers. A stop is not cancellable once it runs.
    let keys = Keys::One(name.to_string());
    queue(
        app,
        Action::StopVm,
        Some(name),
        keys,
        Lane::BootWait,
        false,
        move |app, id| {
            app.inventory.invalidate(&job_name);
            stop_gracefully(app, id, &job_name, timeout);
        },
    )
}

fn stop_gracefully(app: &Core, id: &str, name: &str, timeout: Duration) {
    app.tasks.update(id, |t| t.status = TaskStatus::Running);
    let Some(pid) = app.tart.run_pid(name) else {
        app.tasks.update(id, |t| {
            t.push_log("cannot find the VM's tart run; stopping it with tart stop".into())
        });
        return super::actions::stop(app, id, name);
    };
    if let Err(e) = crate::backend::tart::os::request_guest_stop(pid) {
        app.tasks.update(id, |t| {
            t.push_log(format!(
                "cannot ask tart run (pid {pid}) to stop the guest ({e}); stopping it with tart stop"
            ))
        });
        return super::actions::stop(app, id, name);
    }
    app.tasks.update(id, |t| {
        t.push_log(format!(
            "asked the guest to shut down (SIGUSR2 to tart run, pid {pid}); waiting up to {} s",
            timeout.as_secs()
        ))
    });
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline && !app.shutting_down() {
        if app.tart.run_pid(name) != Some(pid) {
            app.inventory.apply(name, Change::Stopped);
            app.tasks.update(id, |t| {
                t.status = TaskStatus::Completed;
                t.result = Some(json!({
                    "message": format!("VM {name} shut down"),
                    "graceful": true,
                }));
            });
            return;
        }
        std::thread::sleep(GRACEFUL_STOP_POLL_INTERVAL);
    }
    app.tasks.update(id, |t| {
        t.push_log(format!(
            "the guest did not shut down within {} s; stopping it with tart stop",
            timeout.as_secs()
        ))
    });
    super::actions::stop(app, id, name);
}
