//! Locks, exactly as tart uses them.
//!
//! * Running detection: `tart run` holds a POSIX record lock (`fcntl(F_SETLK, F_WRLCK)`)
//!   on `vms/<name>/config.json`; everybody else asks `F_GETLK`, whose answer names the
//!   holder's PID. POSIX locks belong to the process and vanish when it closes *any*
//!   descriptor of the file, so the holder must keep one `File` open and never open the
//!   path again.
//! * Serialisation and tmp protection: whole-file `flock(2)` locks, taken through std's
//!   `File::lock`/`File::try_lock` (which are `flock` on Unix).

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

/// A record lock request covering the whole file.
fn whole_file(kind: libc::c_int) -> libc::flock {
    libc::flock {
        l_type: kind as libc::c_short,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start: 0,
        l_len: 0,
        l_pid: 0,
    }
}

/// Takes the "running" write lock on `file` without blocking.
///
/// Returns `Ok(false)` when another process already holds it. `file` must be open for
/// writing (fcntl refuses a write lock on a read-only descriptor).
pub fn try_lock_running(file: &File) -> io::Result<bool> {
    let mut request = whole_file(libc::F_WRLCK);
    // SAFETY: the descriptor stays valid while `file` is borrowed, and `request` is a
    // properly initialised `flock` that fcntl only reads.
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLK, &mut request) };
    if rc == 0 {
        return Ok(true);
    }
    let error = io::Error::last_os_error();
    match error.raw_os_error() {
        Some(libc::EAGAIN) | Some(libc::EACCES) => Ok(false),
        _ => Err(error),
    }
}

/// Returns the PID of the process holding a conflicting record lock on `file`, if any.
///
/// This is how every command except `run` learns whether a VM is running.
pub fn running_holder(file: &File) -> io::Result<Option<i32>> {
    let mut request = whole_file(libc::F_WRLCK);
    // SAFETY: the descriptor stays valid while `file` is borrowed; fcntl writes the answer
    // into `request`, a properly initialised `flock` we own.
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETLK, &mut request) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    if request.l_type == libc::F_UNLCK as libc::c_short || request.l_pid <= 0 {
        Ok(None)
    } else {
        Ok(Some(request.l_pid))
    }
}

/// Sends `signal` to process `pid`.
pub fn send_signal(pid: i32, signal: libc::c_int) -> io::Result<()> {
    // SAFETY: kill(2) has no memory-safety preconditions; a bad PID is reported as ESRCH.
    let rc = unsafe { libc::kill(pid, signal) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
