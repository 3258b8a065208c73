//! SECURITY.md promise 9 through the real server: task history survives a SIGKILL, with
//! interrupted tasks marked failed and a reason; a corrupt history is moved aside with a
//! warning and the server starts; a VM started through the app outlives the server and
//! is found again when it starts.

mod sec_support;
mod support;

use sec_support::{alive, setup_with_timeout};
use support::{TestServer, eventually};

fn journal(server_dir: &std::path::Path) -> std::path::PathBuf {
    server_dir.join("data/tasks.jsonl")
}

fn journal_has(path: &std::path::Path, id: &str, status: &str) -> bool {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .any(|t| t["id"] == id && t["status"] == status)
}

#[test]
fn sigkill_mid_task_keeps_finished_tasks_and_fails_interrupted_ones() {
    let mut server = TestServer::start_with(setup_with_timeout(60));
    let done = server.post("/api/vms/pull", r#"{"oci_url":"ghcr.io/a/done:1"}"#);
    let done_id = done.json()["id"].as_str().unwrap().to_string();
    let done_before = server.wait_task(&done_id);
    assert_eq!(done_before["status"], "completed");

    server.set_faults("hang pull\n");
    let running = server.post("/api/vms/pull", r#"{"oci_url":"ghcr.io/a/hang:1"}"#);
    let running_id = running.json()["id"].as_str().unwrap().to_string();
    // Same reference: queued behind the running one, so still pending.
    let pending = server.post("/api/vms/pull", r#"{"oci_url":"ghcr.io/a/hang:1"}"#);
    let pending_id = pending.json()["id"].as_str().unwrap().to_string();
    let path = journal(server.dir.path());
    eventually("the journal saw both states", || {
        (journal_has(&path, &running_id, "running") && journal_has(&path, &pending_id, "pending"))
            .then_some(())
    });
    assert_eq!(
        server.get(&format!("/api/tasks/{pending_id}")).json()["status"],
        "pending"
    );

    let dir = server.kill();
    sec_support::kill_sim_leftovers_in(dir.path());
    let server = TestServer::start_in(dir, support::Setup::default());
    let done_after = server.get(&format!("/api/tasks/{done_id}")).json();
    assert_eq!(done_after, done_before, "a finished task comes back intact");
    let running = server.get(&format!("/api/tasks/{running_id}")).json();
    assert_eq!(running["status"], "failed");
    assert_eq!(
        running["error"],
        "interrupted: the server stopped while this task was running"
    );
    let pending = server.get(&format!("/api/tasks/{pending_id}")).json();
    assert_eq!(pending["status"], "failed");
    assert_eq!(
        pending["error"],
        "interrupted: the server stopped while this task was pending"
    );
    // And never `running` for ever: a WebSocket subscriber gets the end and a close.
    let mut ws = support::ws_connect(
        server.addr,
        &format!("/ws/tasks/{running_id}?token={}", server.token),
    )
    .unwrap();
    let (messages, close) = support::ws_read_all(&mut ws);
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["status"], "failed");
    assert_eq!(close, Some(1000));
    assert_eq!(server.get("/api/tasks").json().as_array().unwrap().len(), 3);
}

/// Regression: a task interrupted by a restart came back without its log (output was
/// journaled only with the next status change, which never came).
#[test]
fn a_task_interrupted_by_a_restart_keeps_its_log() {
    let mut server = TestServer::start_with(setup_with_timeout(60));
    server.set_faults("flood pull 5\nhang pull\n");
    let task = server.post("/api/vms/pull", r#"{"oci_url":"ghcr.io/a/chatty:1"}"#);
    let id = task.json()["id"].as_str().unwrap().to_string();
    let path = journal(server.dir.path());
    // Waits on the journal itself: the lines reach it once the task has been quiet a while.
    let journaled = |id: &str| {
        std::fs::read_to_string(&path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|t| t["id"] == id)
            .map(|t| t["logs"].as_array().map_or(0, Vec::len))
            .max()
            .unwrap_or(0)
    };
    eventually("the journal holds the five lines", || {
        (journaled(&id) >= 5).then_some(())
    });
    let logs_before = server.get(&format!("/api/tasks/{id}")).json()["logs"].clone();

    let dir = server.kill();
    sec_support::kill_sim_leftovers_in(dir.path());
    let server = TestServer::start_in(dir, support::Setup::default());
    let after = server.get(&format!("/api/tasks/{id}")).json();
    assert_eq!(after["status"], "failed");
    assert_eq!(
        after["error"],
        "interrupted: the server stopped while this task was running"
    );
    assert_eq!(after["logs"], logs_before, "the log survives the restart");
    assert_eq!(after["logs"].as_array().unwrap().len(), 5);
}

#[test]
fn a_corrupt_journal_is_moved_aside_with_a_warning_and_the_server_starts() {
    for (content, why) in [
        (&b"this is not json\n{\"half\": \n"[..], "garbage"),
        (&b"\xff\xfe\x00\x01binary\x00"[..], "binary"),
        (&b"[1,2,3]\n"[..], "JSON of the wrong shape"),
    ] {
        let dir = support::TempDir::new("corrupt");
        std::fs::create_dir_all(dir.path().join("tart-home")).unwrap();
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        std::fs::write(journal(dir.path()), content).unwrap();
        let server = TestServer::start_in(dir, support::Setup::default());
        assert_eq!(
            server.get("/api/tasks").json(),
            serde_json::json!([]),
            "{why}"
        );
        let stderr = server.stderr();
        assert!(
            stderr.contains("warning: task history") && stderr.contains("was moved to"),
            "{why}: {stderr}"
        );
        let aside: Vec<_> = std::fs::read_dir(server.data_dir())
            .unwrap()
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("tasks.jsonl.corrupt-")
            })
            .collect();
        assert_eq!(aside.len(), 1, "{why}");
        assert_eq!(
            std::fs::read(aside[0].path()).unwrap(),
            content,
            "kept as it was"
        );
        // The server works and journals again.
        let task = server.post("/api/vms/pull", r#"{"oci_url":"ghcr.io/a/b:1"}"#);
        assert_eq!(task.status, 202);
        server.wait_task(task.json()["id"].as_str().unwrap());
    }
}

#[test]
fn a_damaged_tail_of_the_journal_is_skipped_and_the_rest_kept() {
    let mut server = TestServer::start();
    let task = server.post("/api/vms/pull", r#"{"oci_url":"ghcr.io/a/b:1"}"#);
    let id = task.json()["id"].as_str().unwrap().to_string();
    let before = server.wait_task(&id);
    let path = journal(server.dir.path());
    eventually("the journal saw the end", || {
        journal_has(&path, &id, "completed").then_some(())
    });
    let dir = server.kill();
    // A crash in the middle of a write: a truncated last line, and some junk.
    let mut text = std::fs::read(&path).unwrap();
    text.extend_from_slice(b"{\"id\":\"abc\",\"action\":\"pull_vm\",\"sta");
    std::fs::write(&path, text).unwrap();
    let server = TestServer::start_in(dir, support::Setup::default());
    assert_eq!(server.get(&format!("/api/tasks/{id}")).json(), before);
    assert!(
        server.stderr().contains("skipped 1 unreadable line"),
        "{}",
        server.stderr()
    );
}

#[test]
fn a_vm_started_through_the_app_outlives_the_server_and_is_found_again() {
    let mut server = TestServer::start();
    server.create_vm("vm1");
    let start = server.post("/api/vms/vm1/start", "{}");
    let task = server.wait_task(start.json()["id"].as_str().unwrap());
    assert_eq!(task["status"], "completed", "{task}");
    let run_pid = server
        .sim_records()
        .iter()
        .find(|r| r["event"] == "start" && r["argv"][0] == "run")
        .and_then(|r| r["pid"].as_u64())
        .unwrap() as u32;
    let dir = server.kill();
    assert!(alive(run_pid), "tart run died with the server");
    let server = TestServer::start_in(dir, support::Setup::default());
    // Found running at start; its IP comes with the guest's DHCP lease, which a start
    // that completed on tart's VNC line may not have had yet: refresh until it is there.
    eventually("the running VM is found at start", || {
        let vm = server.get("/api/vms/vm1").json();
        (vm["status"] == "running").then_some(())
    });
    let vm = eventually("the running VM's IP is found", || {
        let vms = server.refresh();
        let vm = vms.as_array()?.iter().find(|v| v["name"] == "vm1")?.clone();
        (vm["status"] == "running" && vm["ip_address"].is_string()).then_some(vm)
    });
    assert!(vm["ip_address"].is_string(), "{vm}");
    assert!(alive(run_pid));
    // And it can be stopped through the new server.
    let stop = server.post("/api/vms/vm1/stop", "{}");
    assert_eq!(
        server.wait_task(stop.json()["id"].as_str().unwrap())["status"],
        "completed"
    );
    eventually("tart run ended", || (!alive(run_pid)).then_some(()));
}
