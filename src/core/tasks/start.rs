//! The start job: `tart run` detached, and a task that completes only on proof the VM
//! started (api-next.md §3, `tart-real-mac.md` risks 1, 2 and 4).
//!
//! What proves a start, by display mode:
//! * `screen-sharing` and `vnc`: tart's own `VNC server is running at …` line. tart prints
//!   it only after `vm.start` succeeded, so a failure after the lock (the macOS guest
//!   limit, a VZ error) can never be mistaken for a start. The task's `vnc_url` is the
//!   URL exactly as tart printed it.
//! * `none`: `tart run` still runs and holds the VM (its `config.json` lock), and
//!   `tart ip` answers with an address of *this* run: one that differs from the lease an
//!   earlier run left (tart's DHCP resolver returns unexpired leases for up to 24 h,
//!   running or not), or the same address once the run has held the VM for
//!   [`START_SETTLE`], past the window in which starts fail after the lock.
//!
//! `tart ip` alone is never proof. A `tart run` that ends first fails the task with its
//! exit code and the last line it printed (and, for the macOS guest limit, plain words).
//!
//! Threading: runs on a pool worker; polls the run log and a channel from the reaper
//! thread; never holds a lock across a `tart` call.

use std::process::ExitStatus;
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::RecvTimeoutError;
use serde_json::json;

use super::actions::{open_run_log, spawn_run_reaper};
use super::model::{Action, Task, TaskStatus};
use super::queue::queue;
use super::run_log::LogFollower;
use super::scheduler::{Keys, Lane, QueueFull};
use crate::backend::tart::parse::{ip_from_vnc_url, vnc_url};
use crate::backend::tart::run::{Display, StartOptions, run_args};
use crate::core::Core;
use crate::core::inventory::Change;
use crate::limits::{START_IP_POLL_INTERVAL, START_LOG_POLL_INTERVAL, START_SETTLE};
use crate::process::supervisor::kill_process_group;

/// The words a task adds when tart refuses a third macOS guest.
const MACOS_LIMIT_HINT: &str = "macOS runs at most two macOS VMs at a time; stop one of them first";

/// Queues a start of `name` with `options` as a `start_vm` task.
pub fn submit(app: &Arc<Core>, name: &str, options: StartOptions) -> Result<Task, QueueFull> {
    let job_name = name.to_string();
    // A start waits for its VM on the boot-wait lane; cancelling it stops the VM.
    let keys = Keys::One(name.to_string());
    queue(
        app,
        Action::StartVm,
        Some(name),
        keys,
        Lane::BootWait,
        true,
        move |app, id| {
            app.inventory.invalidate(&job_name);
            start(app, id, &job_name, &options);
        },
    )
}

/// The guest's OS as far as we know it (`darwin`, `linux`), for the default display.
fn guest_os(app: &Core, name: &str) -> Option<String> {
    if let Some(os) = app.inventory.vm(name).and_then(|vm| vm.os) {
        return Some(os);
    }
    app.tart
        .local_settings(name)
        .or_else(|| app.tart.get(name).ok())
        .and_then(|details| details.os)
}

/// Whether a `tart run` holds `name` now: its lock when we can ask it, else `tart list`.
fn run_holds(app: &Core, name: &str) -> bool {
    if let Some(holds) = app.tart.run_holds(name) {
        return holds;
    }
    app.tart.list().is_ok_and(|entries| {
        entries
            .iter()
            .any(|e| e.name == name && e.state.as_deref() == Some("running"))
    })
}

/// Runs the start of `name` for task `id` (also the second half of a clone that starts).
pub fn start(app: &Arc<Core>, id: &str, name: &str, options: &StartOptions) {
    let display = options
        .display
        .unwrap_or_else(|| Display::default_for(guest_os(app, name).as_deref()));
    let args = run_args(name, display, options);
    let argv = app.tart.runner().argv(&args);
    app.tasks.update(id, |t| {
        t.status = TaskStatus::Running;
        t.command = Some(argv);
    });
    // The lease an earlier run left: `tart ip` may answer with it before this run's guest
    // has even booted, so it proves nothing about this run.
    let stale_ip = (display == Display::None)
        .then(|| app.tart.ip(name).ok().flatten())
        .flatten();
    let (log_path, log) = match open_run_log(app, name) {
        Ok(pair) => pair,
        Err(e) => {
            app.tasks.update(id, |t| {
                t.fail(format!("cannot create the tart run log: {e}"))
            });
            return;
        }
    };
    let child = match app.tart.runner().spawn_detached(&args, &log) {
        Ok(child) => child,
        Err(e) => {
            app.tasks.update(id, |t| t.fail(e.to_string()));
            return;
        }
    };
    let pid = child.id();
    let exited = spawn_run_reaper(
        Arc::downgrade(app),
        child,
        name.to_string(),
        log_path.clone(),
    );
    let mut follower = LogFollower::open(log_path);
    let cancel = app.scheduler.cancel_handle(id);
    let deadline = Instant::now() + app.config.timeouts.start_ip;
    let mut next_ip_poll = Instant::now() + START_IP_POLL_INTERVAL;
    let mut held_since: Option<Instant> = None;
    let started_as = |ip: Option<String>, url: Option<String>| Started {
        display,
        suspendable: options.suspendable,
        ip,
        url,
    };
    loop {
        let new = follower.read_new();
        let vnc = new.lines.iter().find_map(|l| vnc_url(l));
        if !new.lines.is_empty() || new.skipped > 0 {
            // One store lock per batch, whatever the number of lines.
            app.tasks
                .update(id, |t| t.push_logs(new.lines, new.skipped));
        }
        if let Some(url) = vnc.filter(|_| display != Display::None) {
            // The VM has started; its address is information, not proof.
            let ip = ip_from_vnc_url(&url).or_else(|| app.tart.ip(name).ok().flatten());
            return started(app, id, name, started_as(ip, Some(url)));
        }
        match exited.recv_timeout(START_LOG_POLL_INTERVAL) {
            Ok(status) => return run_ended_early(app, id, status, &mut follower),
            Err(RecvTimeoutError::Disconnected) => {
                app.tasks
                    .update(id, |t| t.fail("lost track of the tart run process"));
                return;
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
        if display == Display::None && Instant::now() >= next_ip_poll {
            next_ip_poll = Instant::now() + START_IP_POLL_INTERVAL;
            if run_holds(app, name) {
                let since = *held_since.get_or_insert_with(Instant::now);
                if let Ok(Some(ip)) = app.tart.ip(name)
                    && (stale_ip.as_ref() != Some(&ip) || since.elapsed() >= START_SETTLE)
                {
                    return started(app, id, name, started_as(Some(ip), None));
                }
            } else {
                held_since = None;
            }
        }
        if cancel.as_ref().is_some_and(|c| c.is_cancelled()) {
            // The VM never proved it started: cancelling the start stops it.
            kill_process_group(pid);
            app.tasks.update(id, |t| t.cancel());
            return;
        }
        if app.shutting_down() {
            return fail_keep_running(app, id, "the server is shutting down before the VM started");
        }
        if Instant::now() >= deadline {
            let why = match display {
                Display::None => format!(
                    "no IP address of this run after {} s",
                    app.config.timeouts.start_ip.as_secs()
                ),
                _ => format!(
                    "tart printed no VNC address after {} s",
                    app.config.timeouts.start_ip.as_secs()
                ),
            };
            return fail_keep_running(app, id, &why);
        }
    }
}

/// What a completed start reports.
struct Started {
    display: Display,
    suspendable: bool,
    ip: Option<String>,
    url: Option<String>,
}

fn started(app: &Core, id: &str, name: &str, s: Started) {
    app.inventory
        .apply(name, Change::Started { ip: s.ip.clone() });
    app.tasks.update(id, |t| {
        t.status = TaskStatus::Completed;
        t.result = Some(json!({
            "message": format!("VM {name} started"),
            "ip_address": s.ip,
            "vnc_url": s.url,
            "display": s.display.as_str(),
            "suspendable": s.suspendable,
        }));
    });
}

fn fail_keep_running(app: &Core, id: &str, why: &str) {
    app.tasks.update(id, |t| {
        t.fail(format!(
            "{why}; the VM may still be running (tart run was left alone)"
        ))
    });
}

fn run_ended_early(app: &Core, id: &str, status: ExitStatus, follower: &mut LogFollower) {
    use std::os::unix::process::ExitStatusExt;
    let new = follower.read_new();
    let tail = follower.tail();
    app.tasks.update(id, |t| {
        t.push_logs(new.lines, new.skipped);
        t.exit_code = status.code();
        t.set_stderr(&tail);
        let how = match (status.code(), status.signal()) {
            (Some(c), _) => format!("exit code {c}"),
            (None, Some(s)) => format!("signal {s}"),
            _ => "no exit status".to_string(),
        };
        let last = tail.lines().last().unwrap_or("").trim().to_string();
        let mut message = if last.is_empty() {
            format!("tart run ended before the VM started ({how})")
        } else {
            format!("tart run ended before the VM started ({how}): {last}")
        };
        if last.contains("exceeds the system limit") {
            message.push_str(&format!(" — {MACOS_LIMIT_HINT}"));
        }
        t.fail(message);
    });
}
