//! The job bodies of the four actions, and their submission.
//!
//! Each job drives `tart` through the runner and writes everything it learns into its
//! task (status, argv, log lines, progress, exit code, stderr, result or error). Jobs run
//! on the pool, keyed by VM name so actions on one VM happen in order.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;
use std::process::{Child, ExitStatus};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use serde_json::json;

use super::model::{Action, Task, TaskStatus};
use super::scheduler::QueueFull;
use crate::backend::tart::parse::{clean_line, ip_from_vnc_url, progress, vnc_url};
use crate::backend::tart::{self, Line, Outcome};
use crate::core::Core;
use crate::core::inventory::Change;
use crate::limits::{MAX_RUN_LOGS, START_IP_POLL_INTERVAL, START_LOG_POLL_INTERVAL};
use crate::process::supervisor::LineSplitter;

/// Creates a task for `action` on `target` (a VM name or, for pulls, a reference) and
/// queues its job; the task is discarded again when the queue is full.
pub fn submit(app: &Arc<Core>, action: Action, target: &str) -> Result<Task, QueueFull> {
    let task = app.tasks.create(action, Some(target.to_string()));
    let (job_app, id, job_target) = (app.clone(), task.id.clone(), target.to_string());
    let job = Box::new(move || {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run_job(&job_app, &id, action, &job_target);
        }));
        if outcome.is_err() {
            job_app
                .tasks
                .update(&id, |t| t.fail("internal error while running the task"));
        }
    });
    if let Err(full) = app.pool.submit(target, job) {
        app.tasks.discard(&task.id);
        return Err(full);
    }
    app.tasks.accept(&task.id);
    Ok(task)
}

fn run_job(app: &Arc<Core>, id: &str, action: Action, target: &str) {
    if app.shutting_down() {
        app.tasks
            .update(id, |t| t.fail("the server is shutting down"));
        return;
    }
    app.inventory.invalidate(target);
    match action {
        Action::StartVm => start(app, id, target),
        Action::StopVm => stop(app, id, target),
        Action::DeleteVm => delete(app, id, target),
        Action::PullVm => pull(app, id, target),
        // The lifecycle actions bring their own job (`core::ops`).
        _ => {
            app.tasks.update(id, |t| {
                t.fail("internal error: this action has its own job")
            });
        }
    }
    // What the action changed is already in the cached list (see `finish`); a refresh
    // confirms it and picks up anything else.
    app.request_refresh();
}

/// Runs one `tart` call for a task: records the argv, streams the lines into the logs
/// (and the progress, for pulls), then the exit code and stderr. `None` if `tart` could
/// not be started, in which case the task has already failed.
fn run_step(
    app: &Core,
    id: &str,
    args: &[String],
    timeout: Duration,
    track_progress: bool,
) -> Option<Outcome> {
    let argv = app.tart.runner().argv(args);
    app.tasks.update(id, |t| {
        t.status = TaskStatus::Running;
        t.command = Some(argv);
        t.exit_code = None;
    });
    let mut on_output = |lines: &[Line]| {
        app.tasks.update(id, |t| {
            for line in lines {
                let text = clean_line(&line.text);
                if track_progress && let Some(p) = progress(&text) {
                    t.progress = Some(p);
                }
                t.push_log(text);
            }
        });
    };
    match app.tart.runner().run(args, timeout, &mut on_output) {
        Ok(outcome) => {
            app.tasks.update(id, |t| {
                t.exit_code = outcome.exit_code;
                t.set_stderr(&outcome.stderr);
            });
            Some(outcome)
        }
        Err(e) => {
            app.tasks.update(id, |t| t.fail(e.to_string()));
            None
        }
    }
}

/// Ends a task from the outcome of its last call. Callers record the action's effect in
/// the inventory before, so a client that sees the task end also sees its effect.
fn finish(
    app: &Core,
    id: &str,
    verb: &str,
    outcome: &Outcome,
    timeout: Duration,
    result: serde_json::Value,
) {
    app.tasks.update(id, |t| {
        if outcome.success() {
            t.status = TaskStatus::Completed;
            t.result = Some(result);
        } else {
            let code = outcome
                .exit_code
                .map(|c| format!(" (exit code {c})"))
                .unwrap_or_default();
            t.fail(format!(
                "tart {verb} failed{code}: {}",
                outcome.describe(timeout)
            ));
        }
    });
}

fn stop(app: &Core, id: &str, name: &str) {
    let Some(mut outcome) = run_step(
        app,
        id,
        &tart::stop_args(name),
        app.config.timeouts.stop,
        false,
    ) else {
        return;
    };
    // tart before 0.34 had no --timeout: ArgumentParser answers an unknown option with 64.
    if outcome.exit_code == Some(64) && outcome.stderr.contains("--timeout") {
        match run_step(
            app,
            id,
            &tart::stop_args_without_timeout(name),
            app.config.timeouts.stop,
            false,
        ) {
            Some(o) => outcome = o,
            None => return,
        }
    }
    if outcome.success() {
        app.inventory.apply(name, Change::Stopped); // before the task ends: see `finish`
    }
    finish(
        app,
        id,
        "stop",
        &outcome,
        app.config.timeouts.stop,
        json!({ "message": format!("VM {name} stopped") }),
    );
}

fn delete(app: &Core, id: &str, name: &str) {
    let Some(outcome) = run_step(
        app,
        id,
        &tart::delete_args(name),
        app.config.timeouts.delete,
        false,
    ) else {
        return;
    };
    if outcome.success() {
        app.inventory.apply(name, Change::Deleted); // before the task ends: see `finish`
    }
    finish(
        app,
        id,
        "delete",
        &outcome,
        app.config.timeouts.delete,
        json!({ "message": format!("VM {name} deleted") }),
    );
}

fn pull(app: &Core, id: &str, reference: &str) {
    let Some(outcome) = run_step(
        app,
        id,
        &tart::pull_args(reference),
        app.config.timeouts.pull,
        true,
    ) else {
        return;
    };
    if outcome.success() {
        app.tasks.update(id, |t| t.progress = Some(100.0));
        // New images are new rows: list them before the task ends (a pull is long; one
        // more `tart list` is nothing next to it).
        app.refresh_quietly();
    }
    let result = json!({ "message": format!("Pulled {reference}"), "image": reference });
    finish(app, id, "pull", &outcome, app.config.timeouts.pull, result);
}

/// Starts `tart run --vnc --no-graphics -- <name>` detached, then waits for the VM's IP:
/// from the `VNC server is running at vnc://<ip>` line in its log, or from `tart ip`.
/// Fails with the exit code and the log's tail if `tart run` ends first.
pub(crate) fn start(app: &Arc<Core>, id: &str, name: &str) {
    let args = tart::run_args(name);
    let argv = app.tart.runner().argv(&args);
    app.tasks.update(id, |t| {
        t.status = TaskStatus::Running;
        t.command = Some(argv);
    });
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
    let exited = spawn_run_reaper(Arc::downgrade(app), child, name.to_string());
    let mut follower = LogFollower::open(log_path);
    let deadline = Instant::now() + app.config.timeouts.start_ip;
    let mut next_ip_poll = Instant::now() + START_IP_POLL_INTERVAL;
    loop {
        let lines = follower.read_new_lines();
        let vnc = lines.iter().find_map(|l| vnc_url(l));
        if !lines.is_empty() {
            app.tasks
                .update(id, |t| lines.into_iter().for_each(|l| t.push_log(l)));
        }
        if let Some(url) = vnc {
            let ip = ip_from_vnc_url(&url).or_else(|| app.tart.ip(name).ok().flatten());
            return started(app, id, name, ip, Some(url));
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
        if Instant::now() >= next_ip_poll {
            if let Ok(Some(ip)) = app.tart.ip(name) {
                return started(app, id, name, Some(ip), None);
            }
            next_ip_poll = Instant::now() + START_IP_POLL_INTERVAL;
        }
        if app.shutting_down() {
            return fail_keep_running(
                app,
                id,
                "the server is shutting down before the VM reported an IP",
            );
        }
        if Instant::now() >= deadline {
            let why = format!(
                "no IP address after {} s",
                app.config.timeouts.start_ip.as_secs()
            );
            return fail_keep_running(app, id, &why);
        }
    }
}

fn started(app: &Core, id: &str, name: &str, ip: Option<String>, url: Option<String>) {
    let vnc_url = url.or_else(|| ip.as_ref().map(|ip| format!("vnc://{ip}")));
    app.inventory
        .apply(name, Change::Started { ip: ip.clone() });
    app.tasks.update(id, |t| {
        t.status = TaskStatus::Completed;
        t.result = Some(json!({
            "message": format!("VM {name} started"),
            "ip_address": ip,
            "vnc_url": vnc_url,
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
    let lines = follower.read_new_lines();
    let tail = follower.tail();
    app.tasks.update(id, |t| {
        lines.into_iter().for_each(|l| t.push_log(l));
        t.exit_code = status.code();
        t.set_stderr(&tail);
        let how = match (status.code(), status.signal()) {
            (Some(c), _) => format!("exit code {c}"),
            (None, Some(s)) => format!("signal {s}"),
            _ => "no exit status".to_string(),
        };
        let last = tail.lines().last().unwrap_or("").trim().to_string();
        t.fail(if last.is_empty() {
            format!("tart run ended before the VM got an IP ({how})")
        } else {
            format!("tart run ended before the VM got an IP ({how}): {last}")
        });
    });
}

/// `<data-dir>/logs/<name>-<unix time>.log`, created 0600 in a 0700 folder.
fn open_run_log(app: &Core, name: &str) -> std::io::Result<(PathBuf, File)> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = app.config.data_dir.join("logs");
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)?;
    prune_run_logs(&dir);
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let path = dir.join(format!("{name}-{stamp}.log"));
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&path)?;
    Ok((path, file))
}

/// Deletes the oldest run logs beyond [`MAX_RUN_LOGS`], oldest by modification time.
fn prune_run_logs(dir: &std::path::Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut logs: Vec<(std::time::SystemTime, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "log"))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    if logs.len() < MAX_RUN_LOGS {
        return;
    }
    logs.sort();
    for (_, path) in &logs[..=logs.len() - MAX_RUN_LOGS] {
        let _ = fs::remove_file(path);
    }
}

/// Waits for a detached `tart run` on its own thread, so it never becomes a zombie, and
/// refreshes the inventory when the VM stops. The thread holds only a weak reference:
/// a VM may run for days after the server stopped.
fn spawn_run_reaper(app: Weak<Core>, mut child: Child, name: String) -> Receiver<ExitStatus> {
    let (tx, rx) = crossbeam_channel::bounded(1);
    let spawned = std::thread::Builder::new()
        .name(format!("reaper-{}", child.id()))
        .spawn(move || {
            if let Ok(status) = child.wait() {
                let _ = tx.send(status);
            }
            if let Some(app) = app.upgrade()
                && !app.shutting_down()
            {
                // A run that ended by a suspend leaves a snapshot: that VM is suspended,
                // not stopped, and the refresh below says so.
                let suspended = crate::core::ops::home(&app)
                    .is_some_and(|h| h.join("vms").join(&name).join("state.vzvmsave").exists());
                if !suspended {
                    app.inventory.apply(&name, Change::Stopped);
                }
                app.inventory.invalidate(&name);
                app.request_refresh();
            }
        });
    if let Err(e) = spawned {
        eprintln!("taartenfabriek: cannot start a reaper thread: {e}");
    }
    rx
}

/// Reads a growing log file line by line.
struct LogFollower {
    path: PathBuf,
    file: Option<File>,
    splitter: LineSplitter,
}

impl LogFollower {
    fn open(path: PathBuf) -> LogFollower {
        let file = File::open(&path).ok();
        LogFollower {
            path,
            file,
            splitter: LineSplitter::default(),
        }
    }

    /// The complete lines written since the last call, cleaned.
    fn read_new_lines(&mut self) -> Vec<String> {
        let Some(file) = self.file.as_mut() else {
            return Vec::new();
        };
        let mut buf = Vec::new();
        let _ = file.read_to_end(&mut buf);
        self.splitter
            .push(&buf)
            .iter()
            .map(|l| clean_line(l))
            .collect()
    }

    /// The last few KiB of the whole log, for the task's `stderr`.
    fn tail(&self) -> String {
        let Ok(mut file) = File::open(&self.path) else {
            return String::new();
        };
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        let _ = file.seek(SeekFrom::Start(len.saturating_sub(4096)));
        let mut buf = Vec::new();
        let _ = file.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf)
            .lines()
            .map(clean_line)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_logs_are_pruned_oldest_first() {
        let dir = std::env::temp_dir().join(format!("tf-prune-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let base = std::time::SystemTime::now() - Duration::from_secs(10_000);
        for i in 0..MAX_RUN_LOGS + 5 {
            let file = File::create(dir.join(format!("vm-{i}.log"))).unwrap();
            file.set_modified(base + Duration::from_secs(i as u64))
                .unwrap();
        }
        File::create(dir.join("keep.txt")).unwrap();
        prune_run_logs(&dir);
        let left = fs::read_dir(&dir).unwrap().count();
        assert_eq!(
            left,
            MAX_RUN_LOGS - 1 + 1,
            "room for one new log, plus the non-log file"
        );
        assert!(!dir.join("vm-0.log").exists() && !dir.join("vm-5.log").exists());
        assert!(dir.join("vm-6.log").exists());
        fs::remove_dir_all(&dir).unwrap();
    }
}
