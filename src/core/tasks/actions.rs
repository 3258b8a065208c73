//! The job bodies of the four actions, and their submission.
//!
//! Each job drives `tart` through the runner and writes everything it learns into its
//! task (status, argv, log lines, progress, exit code, stderr, result or error). Jobs run
//! on the pool, keyed by VM name so actions on one VM happen in order.

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;
use std::process::{Child, ExitStatus};
use std::sync::{Arc, Weak};
use std::time::Duration;

use crossbeam_channel::Receiver;
use serde_json::json;

use super::model::{Action, Task, TaskStatus};
use super::queue::queue;
use super::run_log::cap_run_log;
use super::scheduler::{Keys, Lane, QueueFull};
use super::step::{self, OnLine};
use crate::backend::tart::run::StartOptions;
use crate::backend::tart::{self, Outcome};
use crate::core::Core;
use crate::core::inventory::Change;
use crate::limits::{MAX_RUN_LOG_NAME_BYTES, MAX_RUN_LOGS, RUN_LOG_CHECK_INTERVAL};

/// Creates a task for `action` on `target` (a VM name or, for pulls, a reference) and
/// queues its job; the task is discarded again when the queue is full.
pub fn submit(app: &Arc<Core>, action: Action, target: &str) -> Result<Task, QueueFull> {
    // A pull may take hours: its own lane, and cancellable. Stop and delete are short.
    let (lane, cancellable) = match action {
        Action::PullVm => (Lane::Transfer, true),
        _ => (Lane::Quick, false),
    };
    let keys = Keys::One(target.to_string());
    let job_target = target.to_string();
    queue(
        app,
        action,
        Some(target),
        keys,
        lane,
        cancellable,
        move |app, id| run_job(app, id, action, &job_target),
    )
}

fn run_job(app: &Arc<Core>, id: &str, action: Action, target: &str) {
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
}

/// Runs one `tart` call for a task (see [`step`]), reading `NN%` lines into the
/// progress when `track_progress` (pulls).
fn run_step(
    app: &Core,
    id: &str,
    args: &[String],
    timeout: Duration,
    track_progress: bool,
) -> Option<Outcome> {
    let on_line: Option<OnLine> = if track_progress {
        Some(&step::track_progress)
    } else {
        None
    };
    step::step(app, id, args, None, timeout, on_line)
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
        } else if outcome.aborted {
            t.cancel();
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

pub(super) fn stop(app: &Core, id: &str, name: &str) {
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
        json!({ "message": deleted_message(name) }),
    );
}

/// "VM x deleted", or "Image x deleted" for a cached OCI image: a VM name never holds a
/// `/` (validate.rs) and an image reference always does.
fn deleted_message(name: &str) -> String {
    let what = if name.contains('/') { "Image" } else { "VM" };
    format!("{what} {name} deleted")
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

/// Starts `name` with the default options (the display its OS gets); see [`super::start`].
pub(crate) fn start(app: &Arc<Core>, id: &str, name: &str) {
    super::start::start(app, id, name, &StartOptions::default());
}

/// A VM name as a file-name stem: letters and digits of any script, `.`, `_`, `-` and
/// `+` kept, anything else (spaces, `/`, control characters, punctuation) as `_`, a
/// leading `.` as `_` (no hidden files, no `..`), at most [`MAX_RUN_LOG_NAME_BYTES`]
/// bytes. Two names may share a stem; the time stamp keeps their logs apart.
fn log_file_stem(name: &str) -> String {
    let mut stem = String::new();
    for c in name.chars() {
        let keep = c.is_alphanumeric() || "._-+".contains(c);
        let c = if keep { c } else { '_' };
        if stem.len() + c.len_utf8() > MAX_RUN_LOG_NAME_BYTES {
            break;
        }
        stem.push(c);
    }
    if stem.starts_with('.') {
        stem.replace_range(..1, "_");
    }
    if stem.is_empty() {
        stem.push('_');
    }
    stem
}

/// `<data-dir>/logs/<sanitized name>-<unix time>.log`, created 0600 in a 0700 folder.
pub(super) fn open_run_log(app: &Core, name: &str) -> std::io::Result<(PathBuf, File)> {
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
    let path = dir.join(format!("{}-{stamp}.log", log_file_stem(name)));
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
pub(super) fn spawn_run_reaper(
    app: Weak<Core>,
    mut child: Child,
    name: String,
    log: PathBuf,
) -> Receiver<ExitStatus> {
    let (tx, rx) = crossbeam_channel::bounded(1);
    let spawned = std::thread::Builder::new()
        .name(format!("reaper-{}", child.id()))
        .spawn(move || {
            // Polled, not a blocking wait: the VM's log is kept to its cap meanwhile.
            loop {
                match child.try_wait() {
                    Ok(Some(status)) => {
                        let _ = tx.send(status);
                        break;
                    }
                    Ok(None) => {
                        cap_run_log(&log);
                        std::thread::sleep(RUN_LOG_CHECK_INTERVAL);
                    }
                    Err(_) => break,
                }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_log_names_are_sanitized() {
        assert_eq!(log_file_stem("ubuntu-22.04"), "ubuntu-22.04");
        assert_eq!(log_file_stem("my vm (dev)"), "my_vm__dev_");
        assert_eq!(log_file_stem("taart-ü-文"), "taart-ü-文");
        assert_eq!(log_file_stem(".."), "_.");
        assert_eq!(log_file_stem("a/b\nc"), "a_b_c");
        let long = log_file_stem(&"é".repeat(200));
        assert!(long.len() <= MAX_RUN_LOG_NAME_BYTES && long.starts_with('é'));
    }

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
