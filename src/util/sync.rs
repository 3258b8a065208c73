//! Lock helpers. A panic in one handler must not poison shared state for everyone else
//! (SECURITY.md promise 10), so every lock in the server goes through [`lock`], which
//! takes the data even from a poisoned mutex: each critical section leaves the data
//! consistent at every step, so a panic mid-way cannot leave a half-made update behind.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

/// Locks `m`, ignoring poison.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Seconds since the Unix epoch, as the API's float timestamps.
pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}
