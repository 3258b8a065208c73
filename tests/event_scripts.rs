//! `scripts/api/events` and `scripts/api/wait` against a live server.

mod support;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::Value;
use support::*;

fn script(server: &TestServer, name: &str) -> Command {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("scripts/api")
        .join(name);
    let mut command = Command::new(path);
    command
        .env("TARTVM_URL", format!("http://127.0.0.1:{}", server.port()))
        .env("TARTVM_DATA_DIR", server.data_dir());
    command
}

#[test]
fn wait_exits_zero_only_for_a_completed_task() {
    let server = TestServer::start();
    let pull = server.start_pull("ghcr.io/cirruslabs/ubuntu:latest");
    let out = script(&server, "wait").arg(&pull).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let task: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (&task["id"], &task["status"]),
        (&Value::from(pull), &Value::from("completed"))
    );

    server.create_vm("vm");
    server.refresh();
    // Stopping a stopped VM fails its task.
    let stop = server.post("/api/vms/vm/stop", "{}").json();
    let out = script(&server, "wait")
        .arg(stop["id"].as_str().unwrap())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("task failed"));
    let out = script(&server, "wait")
        .arg("no-such-task")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("HTTP 404"));
}

#[test]
fn events_prints_one_json_line_per_event() {
    let server = TestServer::start();
    let mut child = script(&server, "events")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = crossbeam_channel::unbounded();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let next = || -> Value {
        let line = rx.recv_timeout(IO_TIMEOUT).expect("a line from the script");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not one JSON line ({e}): {line}"))
    };
    let snapshot = next();
    assert_eq!(snapshot["type"], "snapshot");
    server.create_vm("seen");
    server.refresh();
    let added = next();
    assert_eq!(
        (&added["type"], &added["op"]),
        (&Value::from("vm"), &Value::from("added"))
    );
    assert_eq!(added["vm"]["name"], "seen");
    assert_eq!(added["seq"], snapshot["seq"].as_u64().unwrap() + 1);
    let _ = child.kill();
    let _ = child.wait();
}
