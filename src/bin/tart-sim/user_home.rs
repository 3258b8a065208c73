//! The user's home folder as tart finds it: Foundation's `homeDirectoryForCurrentUser`
//! tries `CFFIXED_USER_HOME`, then the passwd entry, and only then `$HOME`. So `sudo`
//! with `HOME` kept, or a launchd job with another `HOME`, still uses the user's own
//! `~/.tart` (`tart-real-mac.md` risk 7).

use std::ffi::{CStr, OsString};
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

/// Room for `getpwuid_r`'s strings; far more than any passwd entry needs.
const PASSWD_BUFFER_BYTES: usize = 16 * 1024;

/// The folder `~` means for tart.
pub fn user_home() -> PathBuf {
    if let Some(fixed) = std::env::var_os("CFFIXED_USER_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(fixed);
    }
    passwd_dir()
        .or_else(|| std::env::var_os("HOME").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("/"))
}

fn passwd_dir() -> Option<PathBuf> {
    // SAFETY: `passwd` is a C struct of integers and raw pointers; all-zero is valid.
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buffer = vec![0 as libc::c_char; PASSWD_BUFFER_BYTES];
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer refers to memory we own for the whole call, `buffer` with
    // its true length; getpwuid_r writes only within them.
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
    // SAFETY: on success `pw_dir` points at a NUL-terminated string inside `buffer`.
    let dir = unsafe { CStr::from_ptr(entry.pw_dir) }.to_bytes().to_vec();
    (!dir.is_empty()).then(|| PathBuf::from(OsString::from_vec(dir)))
}
