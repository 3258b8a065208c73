//! What tart learns from the operating system, learnt the same way: whether a VM's
//! `tart run` holds it (the `config.json` record lock) and the user's home folder (the
//! passwd entry); and tart's signal for a graceful guest shutdown. Small syscalls std
//! does not offer, each in one function with its `SAFETY` note. No threads, no state.

use std::ffi::{CStr, OsString};
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

/// Size of the buffer for `getpwuid_r`'s strings (16 KiB): far above any passwd entry;
/// the call reports `ERANGE` rather than overflow if one were larger.
const PASSWD_BUFFER_BYTES: usize = 16 * 1024;

/// Whether a `tart run` holds local VM `name` in `home`: the PID `F_GETLK` names as the
/// holder of a write lock on its `config.json`, exactly what `tart list` asks. `None`
/// when the file cannot be asked (no such VM, not a plain name); `Some(None)` when it is
/// free. Our read-only descriptor cannot disturb tart's lock: POSIX record locks belong
/// to the process that holds them.
pub fn run_lock_holder(home: &Path, name: &str) -> Option<Option<i32>> {
    let mut components = Path::new(name).components();
    if !matches!(
        (components.next(), components.next()),
        (Some(Component::Normal(_)), None)
    ) {
        return None;
    }
    let file = File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
        .open(home.join("vms").join(name).join("config.json"))
        .ok()?;
    lock_holder(&file)
}

#[allow(unsafe_code)] // fcntl(F_GETLK): std has no way to ask who holds a record lock.
fn lock_holder(file: &File) -> Option<Option<i32>> {
    let mut request = libc::flock {
        l_type: libc::F_WRLCK as libc::c_short,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start: 0,
        l_len: 0,
        l_pid: 0,
    };
    // SAFETY: the descriptor is valid while `file` is borrowed; `request` is an
    // initialised `flock` we own, which fcntl overwrites with its answer.
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETLK, &mut request) };
    if rc != 0 {
        return None;
    }
    let free = request.l_type == libc::F_UNLCK as libc::c_short || request.l_pid <= 0;
    Some((!free).then_some(request.l_pid))
}

/// Sends SIGUSR2 to a VM's `tart run` (`pid` from [`run_lock_holder`]): tart's request
/// for a graceful guest shutdown.
#[allow(unsafe_code)] // kill(2): std signals only its own children.
pub fn request_guest_stop(pid: i32) -> std::io::Result<()> {
    if pid <= 0 {
        return Err(std::io::Error::from(std::io::ErrorKind::InvalidInput));
    }
    // SAFETY: kill(2) has no memory-safety preconditions; a stale PID is an ESRCH.
    let rc = unsafe { libc::kill(pid, libc::SIGUSR2) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// The home folder of the user we run as, from the passwd entry, as Foundation's
/// `homeDirectoryForCurrentUser` finds it for tart (`CFFIXED_USER_HOME`, then the passwd
/// entry, then `$HOME`); `None` when there is no entry.
pub fn passwd_home() -> Option<PathBuf> {
    if let Some(fixed) = std::env::var_os("CFFIXED_USER_HOME").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(fixed));
    }
    passwd_dir()
}

#[allow(unsafe_code)] // getpwuid_r: std has no passwd lookup.
fn passwd_dir() -> Option<PathBuf> {
    let mut entry: libc::passwd = unsafe_zeroed_passwd();
    let mut buffer = vec![0 as libc::c_char; PASSWD_BUFFER_BYTES];
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer refers to memory we own for the whole call (`entry`, `buffer`
    // with its true length, `found`); getpwuid_r writes only within them.
    let rc = unsafe {
        libc::getpwuid_r(
            libc::geteuid(),
            &mut entry,
            buffer.as_mut_ptr(),
            buffer.len(),
            &mut found,
        )
    };
    if rc != 0 || found.is_null() || entry.pw_dir.is_null() {
        return None;
    }
    // SAFETY: on success `pw_dir` points at a NUL-terminated string inside `buffer`,
    // which is still alive here.
    let dir = unsafe { CStr::from_ptr(entry.pw_dir) };
    let bytes = dir.to_bytes().to_vec();
    (!bytes.is_empty()).then(|| PathBuf::from(OsString::from_vec(bytes)))
}

/// An all-zero `passwd` (integers zero, pointers null), filled in by `getpwuid_r`.
#[allow(unsafe_code)] // zeroing a plain C struct.
fn unsafe_zeroed_passwd() -> libc::passwd {
    // SAFETY: `passwd` is a C struct of integers and raw pointers, for which all-zero
    // bytes are a valid value.
    unsafe { std::mem::zeroed() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_passwd_home_of_the_test_user_exists() {
        let home = passwd_dir().expect("the test user has a passwd entry");
        assert!(home.is_absolute(), "{home:?}");
    }

    #[test]
    fn a_free_config_has_no_holder_and_odd_names_are_not_asked() {
        let home = std::env::temp_dir().join(format!("tf-os-{}", std::process::id()));
        std::fs::create_dir_all(home.join("vms/vm")).unwrap();
        std::fs::write(home.join("vms/vm/config.json"), "{}").unwrap();
        assert_eq!(run_lock_holder(&home, "vm"), Some(None));
        assert_eq!(run_lock_holder(&home, "missing"), None);
        assert_eq!(run_lock_holder(&home, "../vm"), None);
        std::fs::remove_dir_all(&home).unwrap();
    }
}
