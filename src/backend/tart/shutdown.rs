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
//! Threading: runs on a task worker (the boot-wait lane: it mostly sleeps); polls the
//! lock; no lock of ours is held meanwhile.

use std::time::{Duration, Instant};

use super::local::LocalTart;
use crate::backend::host::{Done, Failure, OpSink};
use crate::limits::GRACEFUL_STOP_POLL_INTERVAL;

/// Asks the guest of `name` to shut down and waits up to `timeout` for it, then stops
/// it the ordinary way. [`Done::ShutDown`] when the guest went by itself.
pub fn shut_down(
    tart: &LocalTart,
    name: &str,
    timeout: Duration,
    sink: &mut dyn OpSink,
) -> Result<Done, Failure> {
    let Some(pid) = tart.tart.run_pid(name) else {
        sink.note("cannot find the VM's tart run; stopping it with tart stop".into());
        return super::exec::stop(tart, name, sink).map(|()| Done::Ok);
    };
    if let Err(e) = super::os::request_guest_stop(pid) {
        sink.note(format!(
            "cannot ask tart run (pid {pid}) to stop the guest ({e}); stopping it with tart stop"
        ));
        return super::exec::stop(tart, name, sink).map(|()| Done::Ok);
    }
    sink.note(format!(
        "asked the guest to shut down (SIGUSR2 to tart run, pid {pid}); waiting up to {} s",
        timeout.as_secs()
    ));
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline && !sink.shutting_down() {
        if tart.tart.run_pid(name) != Some(pid) {
            return Ok(Done::ShutDown);
        }
        std::thread::sleep(GRACEFUL_STOP_POLL_INTERVAL);
    }
    sink.note(format!(
        "the guest did not shut down within {} s; stopping it with tart stop",
        timeout.as_secs()
    ));
    super::exec::stop(tart, name, sink).map(|()| Done::Ok)
}
