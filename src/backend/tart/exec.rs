//! How the local tart CLI carries out each request (`backend::host::OpRequest`): the
//! calls, in order, with their timeouts and the line readers that turn tart's output
//! into stages and progress, one function per request. A start is in
//! [`boot`](super::boot), a graceful stop in [`shutdown`](super::shutdown).
//!
//! Threading: runs on a task worker, through [`call`](super::call).

use std::time::{Duration, Instant};

use super::call::{Phase, call, call_ok, check, track_progress};
use super::lifecycle::{
    clone_args, create_ipsw_args, create_linux_args, display_refit, login_args, logout_args,
    rename_args, set_args, suspend_args,
};
use super::local::LocalTart;
use super::prune::{self, PruneOptions, candidates};
use super::{delete_args, pull_args, stop_args, stop_args_without_timeout};
use crate::backend::host::{Done, EmptyOs, Failure, OpSink, Password, SetChanges, VmState};
use crate::limits::{
    SUSPEND_POLL_INTERVAL, SUSPEND_SAVE_TIMEOUT, TART_CHANGE_TIMEOUT, TART_CREATE_TIMEOUT,
    TART_LOGIN_TIMEOUT, TART_PRUNE_TIMEOUT,
};

/// One call that must succeed, with no line reader: most requests are one.
fn single(
    tart: &LocalTart,
    verb: &str,
    args: &[String],
    timeout: Duration,
    sink: &mut dyn OpSink,
) -> Result<Done, Failure> {
    call_ok(tart.tart.runner(), verb, args, timeout, None, sink)?;
    Ok(Done::Ok)
}

/// `tart delete`.
pub(super) fn delete(tart: &LocalTart, name: &str, sink: &mut dyn OpSink) -> Result<Done, Failure> {
    single(
        tart,
        "delete",
        &delete_args(name),
        tart.timeouts.delete,
        sink,
    )
}

/// `tart rename`.
pub(super) fn rename(
    tart: &LocalTart,
    name: &str,
    new_name: &str,
    sink: &mut dyn OpSink,
) -> Result<Done, Failure> {
    let args = rename_args(name, new_name);
    single(tart, "rename", &args, change_timeout(tart), sink)
}

/// `tart logout`.
pub(super) fn logout(tart: &LocalTart, host: &str, sink: &mut dyn OpSink) -> Result<Done, Failure> {
    single(
        tart,
        "logout",
        &logout_args(host),
        change_timeout(tart),
        sink,
    )
}

/// A short change (set, rename, suspend, logout): its own limit, and never more than
/// `--tart-timeout` (which sets the pull timeout too).
fn change_timeout(tart: &LocalTart) -> Duration {
    long(tart, TART_CHANGE_TIMEOUT)
}

/// A long step's timeout: its own limit, never more than `--tart-timeout`.
fn long(tart: &LocalTart, limit: Duration) -> Duration {
    limit.min(tart.timeouts.pull)
}

/// `tart stop --timeout 30`, and for a tart older than `--timeout` (0.34), which
/// answers the unknown option with exit 64, a plain `tart stop`.
pub(super) fn stop(tart: &LocalTart, name: &str, sink: &mut dyn OpSink) -> Result<(), Failure> {
    let timeout = tart.timeouts.stop;
    let runner = tart.tart.runner();
    let mut outcome = call(runner, &stop_args(name), None, timeout, None, sink)?;
    if outcome.exit_code == Some(64) && outcome.stderr.contains("--timeout") {
        outcome = call(
            runner,
            &stop_args_without_timeout(name),
            None,
            timeout,
            None,
            sink,
        )?;
    }
    check("stop", &outcome, timeout)
}

pub(super) fn pull(
    tart: &LocalTart,
    reference: &str,
    sink: &mut dyn OpSink,
) -> Result<Done, Failure> {
    let mut phase = Phase::default();
    let reader = (track_progress as super::call::LineReader, &mut phase);
    let timeout = tart.timeouts.pull;
    call_ok(
        tart.tart.runner(),
        "pull",
        &pull_args(reference),
        timeout,
        Some(reader),
        sink,
    )?;
    sink.progress(Some(100.0));
    Ok(Done::Ok)
}

/// Reads clone output: `pulling …`/`NN%` while an image comes, then `cloning`.
fn clone_line(phase: &mut Phase, line: &str) {
    if line.starts_with("pulling") {
        phase.stage = Some("pulling".into());
    }
    track_progress(phase, line);
}

/// Reads `create --from-ipsw` output: the download and the install phases, each with
/// its own 0–100 % progress.
fn ipsw_line(phase: &mut Phase, line: &str) {
    if line.starts_with("Fetching ") || line.starts_with("Looking up") {
        phase.stage = Some("downloading".into());
        phase.progress = Some(0.0);
    } else if line.starts_with("Using cached") {
        phase.stage = Some("downloading".into());
        phase.progress = Some(100.0);
    } else if line.starts_with("Installing OS") {
        phase.stage = Some("installing".into());
        phase.progress = Some(0.0);
    }
    track_progress(phase, line);
}

/// `tart clone`: `cloning`, or `pulling` first while an image that is not cached yet
/// comes (with its progress).
pub(super) fn clone(
    tart: &LocalTart,
    source: &str,
    new_name: &str,
    sink: &mut dyn OpSink,
) -> Result<Done, Failure> {
    let mut phase = Phase {
        stage: Some("cloning".into()),
        progress: None,
    };
    sink.stage(phase.stage.as_deref());
    let timeout = tart.timeouts.pull;
    let args = clone_args(source, new_name);
    call_ok(
        tart.tart.runner(),
        "clone",
        &args,
        timeout,
        Some((clone_line, &mut phase)),
        sink,
    )?;
    if phase.progress.is_some() {
        sink.progress(Some(100.0));
    }
    sink.stage(Some("cloning"));
    Ok(Done::Ok)
}

/// `tart create --linux` (instant) or `--from-ipsw` (a download, then an install).
pub(super) fn create(
    tart: &LocalTart,
    name: &str,
    os: &EmptyOs,
    disk_gb: u64,
    sink: &mut dyn OpSink,
) -> Result<Done, Failure> {
    let runner = tart.tart.runner();
    match os {
        EmptyOs::Linux => {
            let timeout = change_timeout(tart);
            call_ok(
                runner,
                "create",
                &create_linux_args(name, disk_gb),
                timeout,
                None,
                sink,
            )?;
        }
        EmptyOs::Macos { ipsw } => {
            let timeout = long(tart, TART_CREATE_TIMEOUT);
            let args = create_ipsw_args(name, ipsw, disk_gb);
            let mut phase = Phase::default();
            call_ok(
                runner,
                "create",
                &args,
                timeout,
                Some((ipsw_line, &mut phase)),
                sink,
            )?;
        }
    }
    Ok(Done::Ok)
}

/// One `tart set` with every change; `displayRefit` is read from `config.json` and
/// passed again, because `set` drops it otherwise.
pub(super) fn configure(
    tart: &LocalTart,
    name: &str,
    mut changes: SetChanges,
    sink: &mut dyn OpSink,
) -> Result<Done, Failure> {
    changes.display_refit = tart.home().and_then(|h| display_refit(h, name));
    let args = set_args(name, &changes);
    single(tart, "set", &args, change_timeout(tart), sink)
}

/// `tart suspend`, then waiting until `tart run` has saved the VM: the lock on
/// `config.json` released and `state.vzvmsave` there. `tart suspend` itself returns at
/// once.
pub(super) fn suspend(
    tart: &LocalTart,
    name: &str,
    sink: &mut dyn OpSink,
) -> Result<Done, Failure> {
    let timeout = change_timeout(tart);
    call_ok(
        tart.tart.runner(),
        "suspend",
        &suspend_args(name),
        timeout,
        None,
        sink,
    )?;
    sink.stage(Some("saving"));
    let deadline = Instant::now() + long(tart, SUSPEND_SAVE_TIMEOUT);
    let state = loop {
        match tart.vm_state(name) {
            Some(VmState::Running) if Instant::now() < deadline && !sink.shutting_down() => {
                std::thread::sleep(SUSPEND_POLL_INTERVAL);
            }
            other => break other,
        }
    };
    sink.stage(None);
    match state {
        Some(VmState::Suspended) => Ok(Done::Ok),
        Some(VmState::Running) => Err(Failure::Failed(format!(
            "VM {name} was still running when the wait for its snapshot ended"
        ))),
        Some(VmState::Stopped) | None => Err(Failure::Failed(format!(
            "VM {name} stopped without saving its state (see its tart run log)"
        ))),
    }
}

/// `tart prune`; what it removed is found by looking at the candidates before and
/// after (tart prints nothing), oldest access first as the preview lists them.
pub(super) fn prune(
    tart: &LocalTart,
    options: &PruneOptions,
    sink: &mut dyn OpSink,
) -> Result<Done, Failure> {
    let before = tart
        .home()
        .map(|h| candidates(h, options.entries))
        .unwrap_or_default();
    let timeout = long(tart, TART_PRUNE_TIMEOUT);
    let outcome = call(
        tart.tart.runner(),
        &options.args(),
        None,
        timeout,
        None,
        sink,
    )?;
    check("prune", &outcome, timeout)?;
    let mut removed: Vec<prune::Entry> = before
        .into_iter()
        .filter(|e| std::fs::symlink_metadata(&e.path).is_err())
        .collect();
    removed.sort_by(|a, b| a.accessed.cmp(&b.accessed).then(a.name.cmp(&b.name)));
    Ok(Done::Pruned(removed))
}

/// `tart login --password-stdin`: the password goes to tart's stdin, never argv, and
/// the buffer that held it is zeroed after.
pub(super) fn login(
    tart: &LocalTart,
    host: &str,
    username: &str,
    password: &Password,
    insecure: bool,
    sink: &mut dyn OpSink,
) -> Result<Done, Failure> {
    let mut input = password.reveal().as_bytes().to_vec();
    input.push(b'\n');
    let timeout = long(tart, TART_LOGIN_TIMEOUT);
    let args = login_args(host, username, insecure);
    let outcome = call(tart.tart.runner(), &args, Some(&input), timeout, None, sink);
    input.fill(0);
    check("login", &outcome?, timeout)?;
    Ok(Done::Ok)
}
