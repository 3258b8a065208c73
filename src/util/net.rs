//! The listening socket, with the options tiny_http does not set (DESIGN.md fact 1):
//! `TCP_NODELAY`, so a response that leaves in two writes is not held back ~40 ms by
//! Nagle's algorithm and the client's delayed ACK, and a send timeout, so a client that
//! stops reading cannot hold a thread for ever. Accepted sockets inherit both.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::AsRawFd;
use std::time::Duration;

use crate::limits::CLIENT_SEND_TIMEOUT;

/// Binds `addr` and sets the socket options every accepted connection should have.
pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let listener = TcpListener::bind(addr)?;
    set_option(
        &listener,
        libc::IPPROTO_TCP,
        libc::TCP_NODELAY,
        &(1 as libc::c_int),
    )?;
    set_send_timeout(&listener, CLIENT_SEND_TIMEOUT)?;
    Ok(listener)
}

/// `SO_SNDTIMEO` on the listener. (Not `SO_RCVTIMEO`: on the listener that would also
/// time out `accept()`, which ends tiny_http's accept loop for good — fact 3.)
fn set_send_timeout(listener: &TcpListener, timeout: Duration) -> io::Result<()> {
    let tv = libc::timeval {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_usec: timeout.subsec_micros() as libc::suseconds_t,
    };
    set_option(listener, libc::SOL_SOCKET, libc::SO_SNDTIMEO, &tv)
}

/// setsockopt(2), which std does not offer on a listener, for a plain-data `value`.
#[allow(unsafe_code)] // the one syscall std lacks here.
fn set_option<T: Copy>(
    listener: &TcpListener,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
) -> io::Result<()> {
    // SAFETY: the fd is a live socket owned by `listener`; `value` is a plain C value
    // (c_int or timeval) that outlives the call, passed with its exact size.
    let rc = unsafe {
        libc::setsockopt(
            listener.as_raw_fd(),
            level,
            name,
            (value as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
