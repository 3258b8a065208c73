//! The open-files limit. Each HTTP connection costs tiny_http two descriptors (the
//! socket and a clone of it) and macOS starts processes with a soft limit of 256, so
//! about 125 idle connections used to exhaust it, and tiny_http's accept thread then
//! panics and leaves the server deaf (ARCHITECTURE.md H1). The hard limit is usually far
//! higher; a process may raise its soft limit up to it without privileges.
//!
//! Threading: called once at start, before any connection is accepted.

use std::io;

/// The most a macOS process may ask for (`OPEN_MAX` in `<sys/syslimits.h>`, 10,240):
/// `setrlimit` refuses a soft limit above it even when the hard limit is "unlimited".
#[cfg(target_os = "macos")]
const MACOS_OPEN_MAX: libc::rlim_t = 10_240;

/// Raises the soft `RLIMIT_NOFILE` to the hard limit (on macOS, at most
/// [`MACOS_OPEN_MAX`]). Returns the soft limit now in force.
pub fn raise_to_hard_limit() -> io::Result<u64> {
    let mut limit = nofile(None)?;
    let target = ceiling(limit.rlim_max);
    if limit.rlim_cur < target {
        limit.rlim_cur = target;
        limit = nofile(Some(limit))?;
    }
    Ok(limit.rlim_cur as u64)
}

#[cfg(target_os = "macos")]
fn ceiling(hard: libc::rlim_t) -> libc::rlim_t {
    hard.min(MACOS_OPEN_MAX)
}

#[cfg(not(target_os = "macos"))]
fn ceiling(hard: libc::rlim_t) -> libc::rlim_t {
    hard
}

/// getrlimit(2) for `RLIMIT_NOFILE`, after setrlimit(2) with `new` if given.
#[allow(unsafe_code)] // the two syscalls std does not offer.
fn nofile(new: Option<libc::rlimit>) -> io::Result<libc::rlimit> {
    let mut current = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: both calls take a pointer to a plain `rlimit` struct that lives on this
    // stack frame for the whole call; setrlimit only reads it, getrlimit only writes it.
    let rc = unsafe {
        match &new {
            Some(limit) => match libc::setrlimit(libc::RLIMIT_NOFILE, limit) {
                0 => libc::getrlimit(libc::RLIMIT_NOFILE, &mut current),
                failed => failed,
            },
            None => libc::getrlimit(libc::RLIMIT_NOFILE, &mut current),
        }
    };
    if rc == 0 {
        Ok(current)
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_limit_ends_at_the_hard_limit() {
        let soft = raise_to_hard_limit().unwrap();
        let limit = nofile(None).unwrap();
        assert_eq!(soft, limit.rlim_cur as u64);
        assert_eq!(limit.rlim_cur, ceiling(limit.rlim_max));
    }
}
