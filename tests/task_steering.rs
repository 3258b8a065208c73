//! Steering tasks (`api-next.md` §4): the filtered, paged list and the long-poll wait.
//! A real server with tart-sim.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::*;

fn ids(reply: &Response) -> Vec<String> {
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_task_list_filters_and_pages_newest_first() {
    let server = TestServer::start();
    server.create_vm("a");
    server.create_vm("b");
    server.refresh();
    let mut made = Vec::new();
    for name in ["a", "b", "a"] {
        let reply = server.post(&format!("/api/vms/{name}/stop"), "{}");
        assert_eq!(reply.status, 202, "{}", reply.text());
        let id = reply.json()["id"].as_str().unwrap().to_string();
        server.wait_task(&id);
        made.push(id);
    }
    let pull = server.start_pull("ghcr.io/cirruslabs/ubuntu:latest");
    server.wait_task(&pull);
    made.push(pull.clone());
    let newest_first: Vec<String> = made.iter().rev().cloned().collect();

    assert_eq!(ids(&server.get("/api/tasks")), newest_first);
    assert_eq!(
        ids(&server.get("/api/tasks?vm=a")),
        [made[2].clone(), made[0].clone()]
    );
    assert_eq!(
        ids(&server.get("/api/tasks?action=pull_vm")),
        vec![pull.clone()]
    );
    let all = server.get("/api/tasks").json();
    for status in ["completed", "failed"] {
        let expected: Vec<&str> = all
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["status"] == status)
            .map(|t| t["id"].as_str().unwrap())
            .collect();
        assert_eq!(
            ids(&server.get(&format!("/api/tasks?status={status}"))),
            expected
        );
    }
    assert!(ids(&server.get("/api/tasks?status=completed")).contains(&pull));
    assert!(ids(&server.get("/api/tasks?status=running")).is_empty());
    // Paging: two at a time, each page starting after the last id of the one before.
    let first = ids(&server.get("/api/tasks?limit=2"));
    assert_eq!(first, newest_first[..2]);
    let second = ids(&server.get(&format!("/api/tasks?limit=2&before={}", first[1])));
    assert_eq!(second, newest_first[2..]);
    let none = ids(&server.get(&format!("/api/tasks?before={}", made[0])));
    assert!(none.is_empty());

    for bad in [
        "limit=0",
        "limit=501",
        "limit=x",
        "status=done",
        "action=fly",
        "before=no-such-task",
    ] {
        let reply = server.get(&format!("/api/tasks?{bad}"));
        assert_eq!(reply.status, 422, "{bad}: {}", reply.text());
        assert_eq!(reply.detail()[0]["loc"][0], "query", "{bad}");
    }
}

#[test]
fn a_wait_answers_when_the_task_ends_or_its_timeout_passes() {
    let server = TestServer::start_with(Setup {
        env: vec![("TART_SIM_PULL_MS".into(), "3000".into())],
        ..Setup::default()
    });
    let id = server.start_pull("ghcr.io/cirruslabs/ubuntu:latest");
    // A short timeout answers with the task as it is, still going.
    let early = server.get(&format!("/api/tasks/{id}/wait?timeout=0.2"));
    assert_eq!(early.status, 200);
    assert!(matches!(
        early.json()["status"].as_str(),
        Some("pending" | "running")
    ));
    let done = server.get(&format!("/api/tasks/{id}/wait?timeout=60"));
    assert_eq!(done.status, 200);
    assert_eq!(done.json()["status"], "completed");
    // An ended task answers at once.
    let again = server.get(&format!("/api/tasks/{id}/wait"));
    assert_eq!(again.json()["status"], "completed");

    assert_eq!(server.get("/api/tasks/nope/wait").status, 404);
    for bad in ["timeout=x", "timeout=-1", "timeout=301"] {
        let reply = server.get(&format!("/api/tasks/{id}/wait?{bad}"));
        assert_eq!(reply.status, 422, "{bad}: {}", reply.text());
    }
}

#[test]
fn a_hundred_waiters_do_not_starve_the_api() {
    let server = TestServer::start_with(Setup {
        env: vec![("TART_SIM_PULL_MS".into(), "600000".into())],
        ..Setup::default()
    });
    let id = server.start_pull("ghcr.io/cirruslabs/ubuntu:latest");
    let waiters: Vec<_> = (0..100)
        .map(|_| {
            let (client, path) = (server.client(), format!("/api/tasks/{id}/wait?timeout=300"));
            std::thread::spawn(move || client.request("GET", &path, &[], None))
        })
        .collect();
    // More waiters than HTTP workers are parked; the API still answers.
    std::thread::sleep(Duration::from_millis(500));
    for _ in 0..20 {
        assert_eq!(server.get("/api/health").status, 200);
        assert_eq!(server.get("/api/vms").status, 200);
    }
    // Ending the task answers them all: the pull's tart process dies.
    let pid = server
        .sim_records()
        .iter()
        .find(|r| r["event"] == "start" && r["argv"][0] == "pull")
        .and_then(|r| r["pid"].as_i64())
        .expect("the pull runs");
    let killed = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    for waiter in waiters {
        let reply: Response = waiter.join().unwrap();
        assert_eq!(reply.status, 200, "{}", reply.text());
        let task: Value = reply.json();
        assert_eq!(
            (&task["id"], &task["status"]),
            (&Value::from(id.clone()), &Value::from("failed"))
        );
    }
}
