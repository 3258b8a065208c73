//! The event stream (`/ws/events`, `/api/events`): snapshot, order, resumption, SSE, and
//! changes made with the tart CLI outside the server. A real server with tart-sim.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::*;

/// Reads the next text message, skipping pings; panics after [`EVENTUALLY`] (pings
/// come more often than the read timeout, so that alone would not end a wait).
fn next_event(ws: &mut WsClient) -> Value {
    let deadline = Instant::now() + EVENTUALLY;
    loop {
        assert!(Instant::now() < deadline, "no event in time");
        match ws.read() {
            Ok(tungstenite::Message::Text(t)) => return serde_json::from_str(t.as_str()).unwrap(),
            Ok(tungstenite::Message::Close(f)) => panic!("closed: {f:?}"),
            Ok(_) => {}
            Err(e) => panic!("event stream read: {e}"),
        }
    }
}

/// Reads events until one satisfies `want`, returning all read (that one last).
fn events_until(ws: &mut WsClient, what: &str, want: impl Fn(&Value) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + EVENTUALLY;
    let mut seen = Vec::new();
    loop {
        assert!(
            Instant::now() < deadline,
            "no event where {what}: {seen:#?}"
        );
        let event = next_event(ws);
        let done = want(&event);
        seen.push(event);
        if done {
            return seen;
        }
    }
}

fn connect(server: &TestServer, query: &str) -> WsClient {
    ws_connect(
        server.addr,
        &format!("/ws/events?token={}{query}", server.token),
    )
    .expect("the event socket opens")
}

fn seqs(events: &[Value]) -> Vec<u64> {
    events.iter().map(|e| e["seq"].as_u64().unwrap()).collect()
}

fn is_vm(event: &Value, op: &str, name: &str) -> bool {
    event["type"] == "vm" && event["op"] == op && event["vm"]["name"] == name
}

fn task_ended(event: &Value, id: &str) -> bool {
    event["type"] == "task"
        && event["task"]["id"] == id
        && matches!(
            event["task"]["status"].as_str(),
            Some("completed" | "failed")
        )
}

#[test]
fn a_snapshot_then_vm_and_task_events_in_one_seq_order() {
    let server = TestServer::start();
    server.wait_startup_refresh();
    server.create_vm("before");
    server.refresh();
    let mut ws = connect(&server, "");
    let snapshot = next_event(&mut ws);
    assert_eq!(snapshot["type"], "snapshot");
    assert_eq!(snapshot["vms"][0]["name"], "before");
    assert_eq!(snapshot["tasks"], Value::Array(vec![]));
    let start = snapshot["seq"].as_u64().unwrap();

    server.create_vm("after");
    server.refresh();
    let id = server.start_pull("ghcr.io/cirruslabs/ubuntu:latest");
    let mut events = Vec::new();
    let image = "ghcr.io/cirruslabs/ubuntu:latest";
    // The image shows before or after the task's end, as the refresh goes.
    while !(events.iter().any(|e| task_ended(e, &id))
        && events.iter().any(|e| is_vm(e, "added", image)))
    {
        events.extend(events_until(
            &mut ws,
            "the pull ends and its image is listed",
            |e| task_ended(e, &id) || is_vm(e, "added", image),
        ));
    }
    assert_eq!(
        seqs(&events),
        (start + 1..=start + events.len() as u64).collect::<Vec<_>>(),
        "seq grows by one per event"
    );
    assert!(is_vm(&events[0], "added", "after"), "{:#?}", events[0]);
    let statuses: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "task")
        .map(|e| e["task"]["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses.first(), Some(&"pending"));
    assert_eq!(statuses.last(), Some(&"completed"));
    assert!(statuses.contains(&"running"));
    let last_task = events.iter().rev().find(|e| e["type"] == "task").unwrap();
    assert!(last_task["task"]["logs"].as_array().unwrap().len() <= 50);
    assert!(last_task["task"]["logs_from"].is_u64());
}

#[test]
fn a_client_that_reconnects_with_since_sees_every_event_exactly_once() {
    let server = TestServer::start();
    server.wait_startup_refresh();
    let mut steady = connect(&server, "");
    let start = next_event(&mut steady)["seq"].as_u64().unwrap();
    let mut blinking = connect(&server, "");
    assert_eq!(next_event(&mut blinking)["seq"], start);

    server.create_vm("a");
    server.refresh();
    let mut seen = events_until(&mut blinking, "a is added", |e| is_vm(e, "added", "a"));
    drop(blinking); // a network blip
    server.create_vm("b");
    server.refresh();
    let id = server.start_pull("ghcr.io/cirruslabs/debian:latest");
    server.wait_task(&id);
    let steady_seen = events_until(&mut steady, "the pull ends", |e| task_ended(e, &id));

    let last = seen.last().unwrap()["seq"].as_u64().unwrap();
    let mut again = connect(&server, &format!("&since={last}"));
    seen.extend(events_until(&mut again, "the pull ends", |e| {
        task_ended(e, &id)
    }));
    assert!(
        seen.iter().all(|e| e["type"] != "snapshot"),
        "resumed, no snapshot"
    );
    assert_eq!(
        seqs(&seen),
        seqs(&steady_seen),
        "the same events, each once"
    );
    assert_eq!(seen, steady_seen);

    // A seq the server cannot have (another run's, or ahead) gets a fresh snapshot.
    let mut stranger = connect(&server, "&since=1");
    assert_eq!(next_event(&mut stranger)["type"], "snapshot");
    let mut ahead = connect(&server, &format!("&since={}", last + 1_000_000));
    assert_eq!(next_event(&mut ahead)["type"], "snapshot");
}

#[test]
fn a_bad_since_is_a_422_and_the_stream_needs_the_token() {
    let server = TestServer::start();
    assert_eq!(
        ws_connect(
            server.addr,
            &format!("/ws/events?token={}&since=x", server.token)
        )
        .err(),
        Some(422)
    );
    assert_eq!(
        ws_connect(server.addr, "/ws/events?token=nope").err(),
        Some(401)
    );
    let reply = server.get("/api/events?since=-1");
    assert_eq!(reply.status, 422);
    assert_eq!(
        reply.detail()[0]["loc"],
        serde_json::json!(["query", "since"])
    );
    let anonymous = Client {
        addr: server.addr,
        token: None,
    };
    assert_eq!(
        anonymous.request("GET", "/api/events", &[], None).status,
        401
    );
}

/// An SSE stream read line by line, with a read timeout.
struct Sse {
    reader: BufReader<TcpStream>,
}

impl Sse {
    fn open(server: &TestServer, extra: &[(&str, &str)]) -> (u16, Vec<(String, String)>, Sse) {
        let stream = TcpStream::connect(server.addr).unwrap();
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        let host = format!("127.0.0.1:{}", server.addr.port());
        let mut headers = vec![("Host", host.as_str()), ("X-Local-Token", &server.token)];
        headers.extend_from_slice(extra);
        let raw = request_bytes("GET", "/api/events", &headers, None);
        (&stream).write_all(&raw).unwrap();
        let mut reader = BufReader::new(stream);
        let mut status_line = String::new();
        reader.read_line(&mut status_line).unwrap();
        let status = status_line
            .split_whitespace()
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let mut head = Vec::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (n, v) = line.split_once(':').unwrap();
            head.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
        (status, head, Sse { reader })
    }

    /// The next event: its `id:` and parsed `data:`; comments are skipped.
    fn next(&mut self) -> (u64, Value) {
        let (mut id, mut data) = (None, None);
        loop {
            let mut line = String::new();
            assert!(
                self.reader.read_line(&mut line).unwrap() > 0,
                "stream ended"
            );
            let line = line.trim_end_matches('\n');
            if line.is_empty() {
                if let (Some(id), Some(data)) = (id, data.take()) {
                    return (id, data);
                }
                continue;
            }
            if let Some(v) = line.strip_prefix("id: ") {
                id = Some(v.parse().unwrap());
            } else if let Some(v) = line.strip_prefix("data: ") {
                data = Some(serde_json::from_str(v).unwrap());
            } else {
                assert!(line.starts_with(':'), "unexpected line {line:?}");
            }
        }
    }
}

#[test]
fn server_sent_events_carry_the_seq_as_id_and_honour_last_event_id() {
    let server = TestServer::start();
    server.wait_startup_refresh();
    let (status, head, mut sse) = Sse::open(&server, &[]);
    assert_eq!(status, 200);
    let content_type = head.iter().find(|(n, _)| n == "content-type").unwrap();
    assert!(content_type.1.starts_with("text/event-stream"));
    let (id, snapshot) = sse.next();
    assert_eq!(snapshot["type"], "snapshot");
    assert_eq!(snapshot["seq"], id);

    server.create_vm("one");
    server.create_vm("two");
    server.refresh();
    let (first_id, first) = sse.next();
    let (second_id, second) = sse.next();
    assert_eq!((first_id, second_id), (id + 1, id + 2));
    assert!(
        is_vm(&first, "added", "one") && is_vm(&second, "added", "two"),
        "{first:#}\n{second:#}"
    );

    // A reconnect with Last-Event-ID gets what came after it, not a snapshot.
    let last = first_id.to_string();
    let (_, _, mut resumed) = Sse::open(&server, &[("Last-Event-ID", &last)]);
    let (again_id, again) = resumed.next();
    assert_eq!((again_id, &again), (second_id, &second));
}

#[test]
fn a_vm_changed_with_the_tart_cli_appears_as_an_event_without_a_tart_process_per_second() {
    let server = TestServer::start_with(Setup {
        // Background refreshing on, but an hour apart: only the watcher can notice.
        args: vec!["--refresh-interval".into(), "3600".into()],
        ..Setup::default()
    });
    let mut ws = connect(&server, "");
    assert_eq!(next_event(&mut ws)["type"], "snapshot");

    server.create_vm("outside");
    events_until(&mut ws, "the CLI-made VM is added", |e| {
        is_vm(e, "added", "outside")
    });
    // `tart run`, as a user would type it, in the same TART_HOME: it holds the lock.
    let mut run = Command::new(sim_bin())
        .args(["run", "--no-graphics", "outside"])
        .env("TART_HOME", server.tart_home())
        .env("CI", "1")
        .env("TART_SIM_BOOT_MS", "100")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    events_until(&mut ws, "it shows running", |e| {
        e["type"] == "vm" && e["vm"]["name"] == "outside" && e["vm"]["status"] == "running"
    });
    let stop = server.sim(&["stop", "outside"]);
    assert!(
        stop.status.success(),
        "{}",
        String::from_utf8_lossy(&stop.stderr)
    );
    let _ = run.wait();
    events_until(&mut ws, "it shows stopped", |e| {
        e["type"] == "vm" && e["vm"]["name"] == "outside" && e["vm"]["status"] == "stopped"
    });
    let delete = server.sim(&["delete", "outside"]);
    assert!(delete.status.success());
    events_until(&mut ws, "it is removed", |e| is_vm(e, "removed", "outside"));

    // Quiet now: the watcher looks at files, so no `tart` runs while nothing changes.
    // `tart delete` removes the folder file by file: a look in the middle of it and one
    // after it ask for a refresh each, and on a loaded machine the second may run after
    // the `removed` event. So quiet must come: a whole window without a `tart list`,
    // which a watcher that ran tart every second would never give.
    let lists = || {
        server
            .invocations()
            .iter()
            .filter(|argv| argv[0] == "list")
            .count()
    };
    let deadline = Instant::now() + EVENTUALLY;
    loop {
        let before = lists();
        std::thread::sleep(Duration::from_secs(3));
        if lists() == before {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "tart list keeps running while nothing changes"
        );
    }
}
