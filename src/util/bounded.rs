//! Running a blocking query beside the caller and waiting for it a bounded time: how an
//! HTTP worker asks something of a host that may hang (`tart get` on a cache miss)
//! without being held by it. The query goes on after the wait ends (it fills a cache
//! the next request reads); at most [`MAX_BACKGROUND_QUERIES`] run at once.
//!
//! Threading: one short-lived thread per query; the caller waits on a channel.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::limits::MAX_BACKGROUND_QUERIES;

/// Queries running now, across the process.
static RUNNING: AtomicUsize = AtomicUsize::new(0);

/// Runs `query` on its own thread and waits at most `wait` for its answer: `None` when
/// it did not answer in time, or when [`MAX_BACKGROUND_QUERIES`] already run.
pub fn run<T: Send + 'static>(
    wait: Duration,
    query: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    if RUNNING.fetch_add(1, Ordering::SeqCst) >= MAX_BACKGROUND_QUERIES {
        RUNNING.fetch_sub(1, Ordering::SeqCst);
        return None;
    }
    let (tx, rx) = crossbeam_channel::bounded(1);
    let spawned = std::thread::Builder::new()
        .name("host-query".into())
        .spawn(move || {
            let answer = query();
            RUNNING.fetch_sub(1, Ordering::SeqCst);
            let _ = tx.send(answer);
        });
    if spawned.is_err() {
        RUNNING.fetch_sub(1, Ordering::SeqCst);
        return None;
    }
    rx.recv_timeout(wait).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_in_time_or_not_at_all() {
        assert_eq!(run(Duration::from_secs(5), || 7), Some(7));
        let (release, held) = crossbeam_channel::bounded::<()>(0);
        let slow = run(Duration::from_millis(50), move || held.recv().is_ok());
        assert_eq!(
            slow, None,
            "a query that outlasts the wait is not waited for"
        );
        drop(release);
    }
}
