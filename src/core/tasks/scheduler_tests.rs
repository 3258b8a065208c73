//! The scheduler's rules, with jobs that block on channels: lanes, name locks in
//! submission order, two-name and whole-home locks, and cancellation.

use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};

use super::*;

/// Every wait here is a watchdog: a broken rule fails the test instead of hanging it.
const WATCHDOG: Duration = Duration::from_secs(20);

/// A job that reports its start on `started` and then waits for `release`.
fn blocking(tag: &'static str, started: &Sender<&'static str>, release: &Receiver<()>) -> Job {
    let (started, release) = (started.clone(), release.clone());
    Box::new(move || {
        let _ = started.send(tag);
        let _ = release.recv_timeout(WATCHDOG);
    })
}

fn submit(s: &Scheduler, id: &str, keys: Keys, lane: Lane, job: Job) {
    s.submit(id, keys, lane, true, job)
        .expect("room in the queue");
}

fn one(name: &str) -> Keys {
    Keys::One(name.into())
}

#[test]
fn a_quick_job_runs_while_every_transfer_worker_is_busy() {
    let s = Scheduler::spawn_workers();
    let (started, starts) = crossbeam_channel::unbounded();
    let (release, released) = crossbeam_channel::unbounded::<()>();
    for i in 0..TRANSFER_WORKERS + 2 {
        let id = format!("pull-{i}");
        submit(
            &s,
            &id,
            one(&id),
            Lane::Transfer,
            blocking("pull", &started, &released),
        );
    }
    for _ in 0..TRANSFER_WORKERS {
        assert_eq!(starts.recv_timeout(WATCHDOG), Ok("pull"));
    }
    submit(
        &s,
        "stop",
        one("vm"),
        Lane::Quick,
        blocking("stop", &started, &released),
    );
    assert_eq!(
        starts.recv_timeout(WATCHDOG),
        Ok("stop"),
        "not behind the pulls"
    );
    drop(release);
    s.shutdown();
}

#[test]
fn jobs_on_one_name_run_one_at_a_time_in_order_and_two_names_lock_both() {
    let s = Scheduler::spawn_workers();
    let (started, starts) = crossbeam_channel::unbounded();
    // One release switch per job, so the test decides which ends.
    let switch = || crossbeam_channel::unbounded::<()>();
    let (end_a, a) = switch();
    let (end_clone, clone) = switch();
    let (end_b, b) = switch();
    let (end_c, c) = switch();
    submit(&s, "1", one("a"), Lane::Quick, blocking("a", &started, &a));
    assert_eq!(starts.recv_timeout(WATCHDOG), Ok("a"));
    // A clone a -> b waits for a; a later job on b waits behind the clone, not beside it.
    let two = Keys::Two("a".into(), "b".into());
    submit(
        &s,
        "2",
        two,
        Lane::Quick,
        blocking("clone", &started, &clone),
    );
    submit(&s, "3", one("b"), Lane::Quick, blocking("b", &started, &b));
    submit(&s, "4", one("c"), Lane::Quick, blocking("c", &started, &c));
    assert_eq!(
        starts.recv_timeout(WATCHDOG),
        Ok("c"),
        "other names go ahead"
    );
    end_c.send(()).unwrap();
    assert!(
        starts.recv_timeout(Duration::from_millis(300)).is_err(),
        "nothing on a or b starts while a runs"
    );
    end_a.send(()).unwrap();
    assert_eq!(starts.recv_timeout(WATCHDOG), Ok("clone"));
    end_clone.send(()).unwrap();
    assert_eq!(starts.recv_timeout(WATCHDOG), Ok("b"));
    end_b.send(()).unwrap();
    s.shutdown();
}

#[test]
fn a_whole_home_job_waits_for_every_earlier_job_and_holds_back_every_later_one() {
    let s = Scheduler::spawn_workers();
    let (started, starts) = crossbeam_channel::unbounded();
    let (release, released) = crossbeam_channel::unbounded::<()>();
    submit(
        &s,
        "1",
        one("a"),
        Lane::Quick,
        blocking("a", &started, &released),
    );
    assert_eq!(starts.recv_timeout(WATCHDOG), Ok("a"));
    submit(
        &s,
        "2",
        Keys::Home,
        Lane::Quick,
        blocking("prune", &started, &released),
    );
    submit(
        &s,
        "3",
        one("z"),
        Lane::Transfer,
        blocking("z", &started, &released),
    );
    assert!(
        starts.recv_timeout(Duration::from_millis(300)).is_err(),
        "the prune waits for a, and z waits behind the prune"
    );
    release.send(()).unwrap();
    assert_eq!(starts.recv_timeout(WATCHDOG), Ok("prune"));
    release.send(()).unwrap();
    assert_eq!(starts.recv_timeout(WATCHDOG), Ok("z"));
    drop(release);
    s.shutdown();
}

#[test]
fn a_waiting_job_is_taken_out_and_a_running_one_has_its_switch_fired() {
    let s = Scheduler::spawn_workers();
    let (started, starts) = crossbeam_channel::unbounded();
    let (release, released) = crossbeam_channel::unbounded::<()>();
    let (handle_tx, handle_rx) = crossbeam_channel::bounded::<Cancel>(1);
    let job = {
        let started = started.clone();
        Box::new(move || {
            let running: Cancel = handle_rx.recv_timeout(WATCHDOG).expect("the handle");
            let _ = started.send("running");
            // Ends when its switch fires, as a supervised process group would.
            let _ = running.signal().recv_timeout(WATCHDOG);
        })
    };
    s.submit("r", one("a"), Lane::Transfer, true, job).unwrap();
    let running = s.cancel_handle("r").expect("a running job has a switch");
    handle_tx.send(running.clone()).unwrap();
    assert_eq!(starts.recv_timeout(WATCHDOG), Ok("running"));
    submit(
        &s,
        "w",
        one("a"),
        Lane::Transfer,
        blocking("waiting", &started, &released),
    );
    s.submit(
        "q",
        one("q"),
        Lane::Quick,
        false,
        blocking("quick", &started, &released),
    )
    .unwrap();
    let short = s.cancel_handle("q").unwrap();
    assert_eq!(starts.recv_timeout(WATCHDOG), Ok("quick"));
    assert_eq!(s.cancel("q"), Cancelled::NotCancellable);
    assert!(!short.is_cancelled());
    assert_eq!(s.cancel("w"), Cancelled::WasWaiting);
    assert_eq!(s.cancel("r"), Cancelled::WasRunning);
    assert!(running.is_cancelled());
    assert_eq!(s.cancel("nope"), Cancelled::Unknown);
    release.send(()).unwrap();
    // The cancelled waiting job never runs: the next start is none at all.
    assert!(starts.recv_timeout(Duration::from_millis(300)).is_err());
    drop(release);
    s.shutdown();
}

#[test]
fn a_full_queue_refuses() {
    let s = Scheduler::spawn_workers();
    let (started, _starts) = crossbeam_channel::unbounded();
    let (release, released) = crossbeam_channel::unbounded::<()>();
    // One running job on "a" and every later one waiting behind it.
    for i in 0..=MAX_QUEUED_TASKS {
        submit(
            &s,
            &i.to_string(),
            one("a"),
            Lane::Quick,
            blocking("a", &started, &released),
        );
    }
    let refused = s.submit("x", one("a"), Lane::Quick, true, Box::new(|| {}));
    assert_eq!(refused, Err(QueueFull));
    drop(release);
    s.shutdown();
}
