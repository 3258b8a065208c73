//! Signal handling for the long-running commands (`run`, `pull`, `create`).
//!
//! The handler only stores into atomics (async-signal-safe); the command's main loop polls
//! them with [`take`]. Nothing else runs inside the handler.

use std::sync::atomic::{AtomicBool, Ordering};

/// The signals tart reacts to, in the order of [`PENDING`].
const HANDLED: [libc::c_int; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGUSR1, libc::SIGUSR2];

/// One "delivered and not yet taken" flag per entry of [`HANDLED`].
static PENDING: [AtomicBool; 4] = [
    AtomicBool::new(false),
    AtomicBool::new(false),
    AtomicBool::new(false),
    AtomicBool::new(false),
];

extern "C" fn on_signal(signal: libc::c_int) {
    if let Some(index) = HANDLED.iter().position(|s| *s == signal) {
        PENDING[index].store(true, Ordering::SeqCst);
    }
}

/// Installs the flag-setting handler for SIGINT, SIGTERM, SIGUSR1 and SIGUSR2.
pub fn install() {
    for signal in HANDLED {
        install_one(signal);
    }
}

fn install_one(signal: libc::c_int) {
    let handler = on_signal as extern "C" fn(libc::c_int) as *const () as libc::sighandler_t;
    // SAFETY: `on_signal` is an `extern "C"` function that only touches atomics, which is
    // async-signal-safe; signal(2) itself has no memory preconditions.
    unsafe {
        libc::signal(signal, handler);
    }
}

/// Returns whether `signal` arrived since the last call, clearing the flag.
pub fn take(signal: libc::c_int) -> bool {
    HANDLED
        .iter()
        .position(|s| *s == signal)
        .is_some_and(|index| PENDING[index].swap(false, Ordering::SeqCst))
}

/// Returns whether SIGINT or SIGTERM arrived (an interrupt request), clearing both.
pub fn take_interrupt() -> bool {
    let int = take(libc::SIGINT);
    let term = take(libc::SIGTERM);
    int || term
}
