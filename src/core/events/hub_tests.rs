//! Unit tests of the event hub: numbering, the snapshot, resumption, slow clients and
//! the recent buffer's bounds.

use super::*;
use serde_json::Value;

fn vm(name: &str, status: &str) -> (String, String) {
    (
        name.to_string(),
        format!(r#"{{"name":"{name}","status":"{status}"}}"#),
    )
}

fn parse(event: &Event) -> Value {
    serde_json::from_str(&event.json).expect("events are JSON")
}

fn drain(events: &Receiver<Arc<Event>>) -> Vec<Value> {
    events.try_iter().map(|e| parse(&e)).collect()
}

fn snapshot_of(sub: &Subscription) -> Value {
    match &sub.backlog {
        Backlog::Snapshot(s) => parse(s),
        Backlog::Replay(_) => panic!("expected a snapshot"),
    }
}

#[test]
fn vm_and_task_events_share_one_seq_that_grows_by_one() {
    let hub = EventHub::starting_after(100);
    let sub = hub.subscribe(None);
    assert_eq!(snapshot_of(&sub)["seq"], 100);
    hub.set_vms([vm("a", "stopped")]);
    hub.task_changed("t1", 1.0, false, r#"{"id":"t1","status":"running"}"#.into());
    hub.set_vms([vm("a", "running"), vm("b", "stopped")]);
    hub.set_vms([vm("b", "stopped")]);
    let got = drain(&sub.events);
    let seqs: Vec<u64> = got.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (101..=105).collect::<Vec<_>>());
    let ops: Vec<(&str, &str)> = got
        .iter()
        .map(|e| {
            let what = e["op"].as_str().unwrap_or("");
            let name = e["vm"]["name"].as_str().or(e["task"]["id"].as_str());
            (e["type"].as_str().unwrap(), name.unwrap_or(what))
        })
        .collect();
    assert_eq!(
        ops,
        [
            ("vm", "a"),
            ("task", "t1"),
            ("vm", "a"),
            ("vm", "b"),
            ("vm", "a")
        ]
    );
    assert_eq!(got[2]["op"], "changed");
    assert_eq!(got[3]["op"], "added");
    assert_eq!(got[4]["op"], "removed");
    assert_eq!(hub.seq(), 105);
}

#[test]
fn an_unchanged_list_emits_nothing() {
    let hub = EventHub::starting_after(0);
    hub.set_vms([vm("a", "stopped"), vm("b", "running")]);
    let sub = hub.subscribe(Some(hub.seq()));
    hub.set_vms([vm("b", "running"), vm("a", "stopped")]);
    assert!(drain(&sub.events).is_empty());
}

#[test]
fn the_snapshot_is_the_state_after_its_seq_with_active_tasks_newest_first() {
    let hub = EventHub::starting_after(0);
    hub.set_vms([vm("a", "stopped"), vm("b", "running")]);
    hub.task_changed("old", 1.0, false, r#"{"id":"old"}"#.into());
    hub.task_changed("new", 2.0, false, r#"{"id":"new"}"#.into());
    hub.task_changed("done", 3.0, false, r#"{"id":"done"}"#.into());
    hub.task_changed("done", 3.0, true, r#"{"id":"done"}"#.into());
    let snap = snapshot_of(&hub.subscribe(None));
    assert_eq!(snap["type"], "snapshot");
    assert_eq!(snap["seq"], 6);
    let names: Vec<&str> = snap["vms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a", "b"]);
    let ids: Vec<&str> = snap["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["new", "old"], "terminal tasks leave the snapshot");
}

#[test]
fn resuming_replays_exactly_the_missed_events() {
    let hub = EventHub::starting_after(0);
    for i in 0..10 {
        hub.task_changed("t", 1.0, false, format!(r#"{{"id":"t","n":{i}}}"#));
    }
    let sub = hub.subscribe(Some(4));
    let Backlog::Replay(missed) = &sub.backlog else {
        panic!("4 is still buffered");
    };
    let seqs: Vec<u64> = missed.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (5..=10).collect::<Vec<_>>());
    hub.task_changed("t", 1.0, false, r#"{"id":"t","n":10}"#.into());
    assert_eq!(drain(&sub.events)[0]["seq"], 11);
    // Up to date: nothing to replay.
    let sub = hub.subscribe(Some(11));
    assert!(matches!(&sub.backlog, Backlog::Replay(e) if e.is_empty()));
}

#[test]
fn a_seq_from_the_future_or_out_of_the_buffer_gets_a_snapshot() {
    let hub = EventHub::starting_after(0);
    hub.set_vms([vm("a", "stopped")]);
    assert_eq!(snapshot_of(&hub.subscribe(Some(99)))["seq"], 1);
    for i in 0..RECENT_EVENTS + 5 {
        hub.task_changed("t", 1.0, false, format!(r#"{{"n":{i}}}"#));
    }
    assert_eq!(lock(&hub.inner).recent.len(), RECENT_EVENTS);
    let oldest = lock(&hub.inner).recent.front().unwrap().seq;
    assert!(matches!(
        hub.subscribe(Some(oldest - 1)).backlog,
        Backlog::Replay(ref e) if e.len() == RECENT_EVENTS
    ));
    assert!(matches!(
        hub.subscribe(Some(oldest - 2)).backlog,
        Backlog::Snapshot(_)
    ));
}

#[test]
fn two_hubs_started_one_after_the_other_never_share_a_seq() {
    let first = EventHub::new();
    first.set_vms([vm("a", "stopped")]);
    let seen = first.seq();
    std::thread::sleep(std::time::Duration::from_millis(2));
    let second = EventHub::new();
    assert!(second.seq() > seen);
    assert!(matches!(
        second.subscribe(Some(seen)).backlog,
        Backlog::Snapshot(_)
    ));
}

#[test]
fn the_buffer_is_bounded_in_bytes() {
    let hub = EventHub::starting_after(0);
    let big = "x".repeat(RECENT_EVENT_BYTES / 4);
    for _ in 0..10 {
        hub.task_changed("t", 1.0, false, format!(r#"{{"log":"{big}"}}"#));
    }
    let inner = lock(&hub.inner);
    assert!(inner.recent_bytes <= RECENT_EVENT_BYTES);
    assert_eq!(inner.recent.len(), 3);
    let sum: usize = inner.recent.iter().map(|e| e.json.len()).sum();
    assert_eq!(sum, inner.recent_bytes);
}

#[test]
fn a_slow_client_is_let_go_and_resumes_without_a_gap_or_a_repeat() {
    let hub = EventHub::starting_after(0);
    let fast = hub.subscribe(None);
    let slow = hub.subscribe(None);
    let mut fast_seen = Vec::new();
    for i in 0..CLIENT_QUEUE_EVENTS * 3 {
        hub.task_changed("t", 1.0, false, format!(r#"{{"n":{i}}}"#));
        fast_seen.extend(fast.events.try_iter().map(|e| e.seq));
    }
    assert_eq!(
        fast_seen,
        (1..=(CLIENT_QUEUE_EVENTS as u64 * 3)).collect::<Vec<_>>()
    );
    assert_eq!(hub.subscribers(), 1, "the slow one was let go");
    // The slow client drains what it was given, sees the queue closed, and resumes.
    let mut slow_seen: Vec<u64> = slow.events.try_iter().map(|e| e.seq).collect();
    assert_eq!(slow_seen.len(), CLIENT_QUEUE_EVENTS);
    assert!(
        slow.events.recv().is_err(),
        "closed after the last queued event"
    );
    let again = hub.subscribe(slow_seen.last().copied());
    let Backlog::Replay(missed) = again.backlog else {
        panic!("still in the buffer");
    };
    slow_seen.extend(missed.iter().map(|e| e.seq));
    assert_eq!(slow_seen, fast_seen, "every event exactly once, in order");
}

#[test]
fn a_vanished_client_is_forgotten_at_the_next_event() {
    let hub = EventHub::starting_after(0);
    drop(hub.subscribe(None));
    assert_eq!(hub.subscribers(), 1);
    hub.set_vms([vm("a", "stopped")]);
    assert_eq!(hub.subscribers(), 0);
}

#[test]
fn no_event_falls_between_the_snapshot_and_the_queue() {
    // Publishers and subscribers race; each subscriber's snapshot seq plus its queue
    // must continue without a gap.
    let hub = Arc::new(EventHub::starting_after(0));
    let writer = {
        let hub = hub.clone();
        std::thread::spawn(move || {
            for i in 0..2_000 {
                hub.task_changed("t", 1.0, false, format!(r#"{{"n":{i}}}"#));
            }
        })
    };
    let mut checked = 0;
    while checked < 50 {
        let sub = hub.subscribe(None);
        let Backlog::Snapshot(snap) = &sub.backlog else {
            unreachable!()
        };
        for (expect, event) in (snap.seq + 1..).zip(sub.events.try_iter()) {
            assert_eq!(event.seq, expect);
        }
        checked += 1;
    }
    writer.join().unwrap();
}
