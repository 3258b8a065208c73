//! A start on the local tart: `tart run` detached, and a task that completes only on proof the VM
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
//! Threading: runs on a task worker; polls the run log and a channel from the reaper
//! thread (one per `tart run`, which may outlive the server); never holds a lock across
//! a `tart` call.

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus};
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::{Receiver, RecvTimeoutError};

use super::local::LocalTart;
use super::parse::{ip_from_vnc_url, vnc_url};
use super::run::run_args;
use super::run_log::{LogFollower, cap_run_log};
use crate::backend::host::{Display, Done, Failure, OpSink, StartOptions, Started};
use crate::limits::{
    MAX_RUN_LOG_NAME_BYTES, MAX_RUN_LOGS, RUN_LOG_CHECK_INTERVAL, START_IP_POLL_INTERVAL,
    START_LOG_POLL_INTERVAL, START_SETTLE,
};
use crate::process::supervisor::kill_process_group;

/// The words a task adds when tart refuses a third macOS guest.
const MACOS_LIMIT_HINT: &str = "macOS runs at most two macOS VMs at a time; stop one of them first";

/// The line `tart run` prints when it resumes a suspended VM: such a run is
/// suspendable whatever its options said (tart forces it).
const RESUMED_LINE: &str = "restoring VM state from a snapshot";

/// The guest's OS as far as the files or `tart get` tell (`darwin`, `linux`).
fn guest_os(tart: &LocalTart, name: &str) -> Option<String> {
    tart.tart
        .local_settings(name)
        .or_else(|| tart.tart.get(name).ok())
        .and_then(|details| details.os)
}

/// Starts `name` and returns once it proved it started (see the module's doc).
pub fn start(
    tart: &LocalTart,
    name: &str,
    options: &StartOptions,
    sink: &mut dyn OpSink,
) -> Result<Done, Failure> {
    let display = options
        .display
        .unwrap_or_else(|| Display::default_for(guest_os(tart, name).as_deref()));
    let args = run_args(name, display, options);
    sink.command(tart.tart.runner().argv(&args));
    // The lease an earlier run left: `tart ip` may answer with it before this run's guest
    // has even booted, so it proves nothing about this run.
    let stale_ip = (display == Display::None)
        .then(|| tart.tart.ip(name).ok().flatten())
        .flatten();
    let (log_path, log) = open_run_log(&tart.logs, name)
        .map_err(|e| Failure::Failed(format!("cannot create the tart run log: {e}")))?;
    let child = tart
        .tart
        .runner()
        .spawn_detached(&args, &log)
        .map_err(|e| Failure::Failed(e.to_string()))?;
    let pid = child.id();
    let exited = spawn_run_reaper(tart, child, name.to_string(), log_path.clone());
    let mut follower = LogFollower::open(log_path);
    let deadline = Instant::now() + tart.timeouts.start_ip;
    let mut next_ip_poll = Instant::now() + START_IP_POLL_INTERVAL;
    let mut held_since: Option<Instant> = None;
    let mut resumed = false;
    let started_as = |ip: Option<String>, vnc_url: Option<String>, resumed: bool| {
        Done::Started(Started {
            display,
            suspendable: options.suspendable || resumed,
            ip,
            vnc_url,
        })
    };
    loop {
        let new = follower.read_new();
        let vnc = new.lines.iter().find_map(|l| vnc_url(l));
        resumed |= new.lines.iter().any(|l| l.contains(RESUMED_LINE));
        if !new.lines.is_empty() || new.skipped > 0 {
            sink.lines(new.lines, new.skipped);
        }
        if let Some(url) = vnc.filter(|_| display != Display::None) {
            // The VM has started; its address is information, not proof.
            let ip = ip_from_vnc_url(&url).or_else(|| tart.tart.ip(name).ok().flatten());
            return Ok(started_as(ip, Some(url), resumed));
        }
        match exited.recv_timeout(START_LOG_POLL_INTERVAL) {
            Ok(status) => return Err(run_ended_early(status, &mut follower, sink)),
            Err(RecvTimeoutError::Disconnected) => {
                return Err(Failure::Failed("lost track of the tart run process".into()));
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
        if display == Display::None && Instant::now() >= next_ip_poll {
            next_ip_poll = Instant::now() + START_IP_POLL_INTERVAL;
            if tart.run_holds(name) {
                let since = *held_since.get_or_insert_with(Instant::now);
                if let Ok(Some(ip)) = tart.tart.ip(name)
                    && (stale_ip.as_ref() != Some(&ip) || since.elapsed() >= START_SETTLE)
                {
                    return Ok(started_as(Some(ip), None, resumed));
                }
            } else {
                held_since = None;
            }
        }
        if sink.cancel().is_some_and(|c| c.is_cancelled()) {
            // The VM never proved it started: cancelling the start stops it.
            kill_process_group(pid);
            return Err(Failure::Cancelled);
        }
        if sink.shutting_down() {
            return Err(keep_running(
                "the server is shutting down before the VM started",
            ));
        }
        if Instant::now() >= deadline {
            let seconds = tart.timeouts.start_ip.as_secs();
            let why = match display {
                Display::None => format!("no IP address of this run after {seconds} s"),
                _ => format!("tart printed no VNC address after {seconds} s"),
            };
            return Err(keep_running(&why));
        }
    }
}

fn keep_running(why: &str) -> Failure {
    Failure::Failed(format!(
        "{why}; the VM may still be running (tart run was left alone)"
    ))
}

fn run_ended_early(
    status: ExitStatus,
    follower: &mut LogFollower,
    sink: &mut dyn OpSink,
) -> Failure {
    use std::os::unix::process::ExitStatusExt;
    let new = follower.read_new();
    let tail = follower.tail();
    sink.lines(new.lines, new.skipped);
    sink.exited(status.code(), &tail);
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
    Failure::Failed(message)
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
fn open_run_log(dir: &Path, name: &str) -> std::io::Result<(PathBuf, File)> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    prune_run_logs(dir);
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
fn prune_run_logs(dir: &Path) {
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
/// tells the exit hook when the VM stops. The thread holds the backend only weakly
/// through the hook: a VM may run for days after the server stopped.
fn spawn_run_reaper(
    tart: &LocalTart,
    mut child: Child,
    name: String,
    log: PathBuf,
) -> Receiver<ExitStatus> {
    let (tx, rx) = crossbeam_channel::bounded(1);
    let home = tart.home().map(Path::to_path_buf);
    let hook = tart.exit_hook.get().map(Arc::clone);
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
            // A run that ended by a suspend leaves a snapshot: that VM is suspended,
            // not stopped.
            let saved =
                home.is_some_and(|h| h.join("vms").join(&name).join("state.vzvmsave").exists());
            if let Some(hook) = hook {
                hook(&name, saved);
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
    use std::time::Duration;

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
