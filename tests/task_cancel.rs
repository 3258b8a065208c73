//! `POST /api/tasks/{id}/cancel` and the `cancellable` field over HTTP, on a real server
//! with tart-sim: a pending task never runs, a running pull's process group ends and
//! leaves no image, a cancelled start stops the VM it started, and what cannot be
//! cancelled answers 409.

mod support;

use serde_json::Value;
use support::*;

fn alive(pid: i64) -> bool {
    // The supervisor reaps what it killed, so /proc forgets it.
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

fn pids_of(server: &TestServer, command: &str) -> Vec<i64> {
    server
        .sim_records()
        .iter()
        .filter(|r| r["event"] == "start" && r["argv"][0] == command)
        .filter_map(|r| r["pid"].as_i64())
        .collect()
}

fn status_is(server: &TestServer, id: &str, status: &str) -> Value {
    eventually(&format!("task {id} is {status}"), || {
        let task = server.get(&format!("/api/tasks/{id}")).json();
        (task["status"] == status).then_some(task)
    })
}

fn cancel(server: &TestServer, id: &str) -> Response {
    server.post(&format!("/api/tasks/{id}/cancel"), "{}")
}

#[test]
fn a_pending_task_is_cancelled_and_never_runs() {
    let server = TestServer::start();
    server.set_faults("hang pull\n");
    let reference = "ghcr.io/cirruslabs/ubuntu:latest";
    let first = server.start_pull(reference);
    status_is(&server, &first, "running");
    // A second pull of the same image waits behind the first.
    let second = server.start_pull(reference);
    let waiting = server.get(&format!("/api/tasks/{second}")).json();
    assert_eq!(
        (&waiting["status"], &waiting["cancellable"]),
        (&"pending".into(), &true.into())
    );

    let reply = cancel(&server, &second);
    assert_eq!(reply.status, 202, "{}", reply.text());
    assert_eq!(
        reply.header("location"),
        Some(format!("/api/tasks/{second}").as_str())
    );
    assert_eq!(reply.json()["id"], second.as_str());
    let task = status_is(&server, &second, "failed");
    assert_eq!(
        (&task["error"], &task["cancelled"]),
        (&"cancelled".into(), &true.into())
    );
    assert_eq!(task["cancellable"], false);
    assert_eq!(cancel(&server, &second).status, 409, "an ended task");

    // The first ends; the cancelled one still never ran.
    assert_eq!(cancel(&server, &first).status, 202);
    status_is(&server, &first, "failed");
    assert_eq!(
        pids_of(&server, "pull").len(),
        1,
        "only the first pull ever ran"
    );
    assert!(server.get(&format!("/api/tasks/{second}")).json()["command"].is_null());
    assert_eq!(cancel(&server, "no-such-task").status, 404);
}

#[test]
fn a_running_pull_ends_its_process_group_and_leaves_no_image() {
    let server = TestServer::start();
    server.set_faults("hang pull\n");
    let reference = "ghcr.io/cirruslabs/debian:latest";
    let id = server.start_pull(reference);
    let running = status_is(&server, &id, "running");
    assert_eq!(running["cancellable"], true);
    let pid = eventually("tart pull started", || {
        pids_of(&server, "pull").first().copied()
    });
    assert!(alive(pid));

    assert_eq!(cancel(&server, &id).status, 202);
    let task = status_is(&server, &id, "failed");
    assert_eq!(
        (&task["error"], &task["cancelled"]),
        (&"cancelled".into(), &true.into())
    );
    eventually("the pull's process is gone", || (!alive(pid)).then_some(()));
    let vms = server.refresh();
    assert!(
        !vms.as_array()
            .unwrap()
            .iter()
            .any(|vm| vm["name"] == reference),
        "no half image in the list: {vms}"
    );
}

#[test]
fn a_cancelled_start_stops_the_vm_it_started() {
    let server = TestServer::start_with(Setup {
        // The VM holds its lock long before tart prints its VNC address.
        env: vec![("TART_SIM_START_MS".into(), "60000".into())],
        ..Setup::default()
    });
    server.create_vm("slow");
    server.refresh();
    let reply = server.post("/api/vms/slow/start", "{}");
    assert_eq!(reply.status, 202, "{}", reply.text());
    let id = reply.json()["id"].as_str().unwrap().to_string();
    status_is(&server, &id, "running");
    let pid = eventually("tart run started", || {
        pids_of(&server, "run").first().copied()
    });
    eventually("the VM holds its lock", || {
        let out = server.sim(&["list", "--format", "json"]);
        let list: Value = serde_json::from_slice(&out.stdout).ok()?;
        list.as_array()?
            .iter()
            .any(|vm| vm["Name"] == "slow" && vm["State"] == "running")
            .then_some(())
    });

    assert_eq!(cancel(&server, &id).status, 202);
    let task = status_is(&server, &id, "failed");
    assert_eq!(task["cancelled"], true);
    eventually("tart run is gone", || (!alive(pid)).then_some(()));
    let out = server.sim(&["list", "--format", "json"]);
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    let vm = list
        .as_array()
        .unwrap()
        .iter()
        .find(|vm| vm["Name"] == "slow")
        .unwrap();
    assert_eq!(vm["State"], "stopped", "the start's VM was stopped");
}

#[test]
fn a_short_running_task_is_a_409_and_not_cancellable() {
    let server = TestServer::start();
    server.create_vm("vm1");
    server.refresh();
    server.set_faults("hang stop\n");
    let reply = server.post("/api/vms/vm1/stop", "{}");
    assert_eq!(reply.status, 202, "{}", reply.text());
    let id = reply.json()["id"].as_str().unwrap().to_string();
    let running = status_is(&server, &id, "running");
    assert_eq!(running["cancellable"], false);
    let refused = cancel(&server, &id);
    assert_eq!(refused.status, 409);
    assert!(
        refused.text().contains("cannot be cancelled"),
        "{}",
        refused.text()
    );
}
