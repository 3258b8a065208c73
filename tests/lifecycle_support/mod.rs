//! Helpers shared by the lifecycle API tests (`lifecycle_make`, `lifecycle_change`).
#![allow(dead_code)] // each test binary uses its own subset

use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::support::TestServer;

pub fn accepted(server: &TestServer, path: &str, body: Value) -> Value {
    let reply = server.post(path, &body.to_string());
    assert_eq!(reply.status, 202, "{path} {body}: {}", reply.text());
    assert!(reply.header("Location").is_some());
    reply.json()
}

pub fn run(server: &TestServer, path: &str, body: Value) -> Value {
    let task = accepted(server, path, body);
    server.wait_task(task["id"].as_str().unwrap())
}

pub fn completed(server: &TestServer, path: &str, body: Value) -> Value {
    let done = run(server, path, body);
    assert_eq!(done["status"], "completed", "{done}");
    done
}

/// The status of a refused request, and that it ran no mutating tart command.
pub fn refused(server: &TestServer, path: &str, body: Value) -> (u16, Value) {
    let before = server.mutating_invocations().len();
    let reply = server.post(path, &body.to_string());
    assert_eq!(
        server.mutating_invocations().len(),
        before,
        "{path} {body} ran tart"
    );
    (reply.status, reply.json())
}

pub fn argv(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

pub fn ran(server: &TestServer, args: &[&str]) -> bool {
    server.invocations().contains(&argv(args))
}

pub fn config(server: &TestServer, name: &str) -> Value {
    let path = server
        .tart_home()
        .join("vms")
        .join(name)
        .join("config.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

pub fn set_accessed(path: &std::path::Path, days_ago: u64) {
    let when = SystemTime::now() - Duration::from_secs(days_ago * 86_400);
    let times = std::fs::FileTimes::new().set_accessed(when);
    std::fs::File::open(path).unwrap().set_times(times).unwrap();
}

pub fn accessed(path: &std::path::Path) -> SystemTime {
    std::fs::metadata(path).unwrap().accessed().unwrap()
}
