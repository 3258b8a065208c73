//! Task cancellation at the core level, through the embedding API
//! (`Server::cancel_task`; the HTTP endpoint comes with the tasks API): a running pull's
//! process group ends, a waiting task is taken out of its queue and never runs, and a
//! short running task or an ended one cannot be cancelled.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::{Client, TempDir, eventually};

struct Embedded {
    server: taartenfabriek::Server,
    client: Client,
    dir: TempDir,
}

/// A library server on tart-sim whose pulls hang until killed.
fn start(tag: &str) -> Embedded {
    let dir = TempDir::new(tag);
    let mut config = taartenfabriek::Config::with_home(dir.path().to_path_buf());
    config.port = 0;
    config.tart = support::sim_bin();
    config.refresh_interval = None;
    config.persist_tasks = false;
    for (k, v) in [
        ("TART_HOME", dir.path().join("tart-home")),
        ("TART_SIM_LOG", dir.path().join("sim.log")),
        ("TART_SIM_FAULTS", dir.path().join("faults")),
    ] {
        config.tart_env.push((k.into(), v.into_os_string()));
    }
    std::fs::write(dir.path().join("faults"), "hang pull").unwrap();
    let server = taartenfabriek::Server::start(config).expect("start");
    let client = Client {
        addr: server.addr(),
        token: Some(server.token().to_string()),
    };
    Embedded {
        server,
        client,
        dir,
    }
}

impl Embedded {
    fn pull(&self, reference: &str) -> String {
        let body = serde_json::json!({ "oci_url": reference }).to_string();
        let reply = self.client.request(
            "POST",
            "/api/vms/pull",
            &[("Content-Type", "application/json")],
            Some(body.as_bytes()),
        );
        assert_eq!(reply.status, 202, "{}", reply.text());
        reply.json()["id"].as_str().unwrap().to_string()
    }

    fn task(&self, id: &str) -> Value {
        self.client
            .request("GET", &format!("/api/tasks/{id}"), &[], None)
            .json()
    }

    fn wait_status(&self, id: &str, status: &str) -> Value {
        eventually(&format!("task {id} is {status}"), || {
            let task = self.task(id);
            (task["status"] == status).then_some(task)
        })
    }

    /// Pids of the `tart pull` processes tart-sim logged.
    fn pull_pids(&self) -> Vec<i64> {
        std::fs::read_to_string(self.dir.path().join("sim.log"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|r| r["event"] == "start" && r["argv"][0] == "pull")
            .filter_map(|r| r["pid"].as_i64())
            .collect()
    }
}

fn alive(pid: i64) -> bool {
    // A killed child is reaped by the supervisor's waiter thread, so /proc forgets it.
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn a_running_pull_is_cancelled_and_its_process_ends() {
    let e = start("cancel-run");
    let id = e.pull("ghcr.io/org/image:1");
    e.wait_status(&id, "running");
    let pid = eventually("tart pull logged its start", || {
        e.pull_pids().first().copied()
    });
    assert!(alive(pid));
    e.server
        .cancel_task(&id)
        .expect("a running pull can be cancelled");
    let task = e.wait_status(&id, "failed");
    assert_eq!(task["error"], "cancelled");
    assert_eq!(task["cancelled"], true);
    eventually("the hung tart pull is gone", || (!alive(pid)).then_some(()));
    assert!(
        e.server.cancel_task(&id).is_err(),
        "an ended task cannot be"
    );
    assert!(e.server.cancel_task("no-such-task").is_err());
}

#[test]
fn a_waiting_task_is_taken_out_of_its_queue_and_never_runs() {
    let e = start("cancel-wait");
    // Two pulls of one image: the second waits behind the first (one name, one lock).
    let first = e.pull("ghcr.io/org/image:2");
    e.wait_status(&first, "running");
    // Its tart pull has started (a cancel before that would end it before it spawned).
    eventually("the first tart pull logged its start", || {
        (!e.pull_pids().is_empty()).then_some(())
    });
    let second = e.pull("ghcr.io/org/image:2");
    assert_eq!(e.task(&second)["status"], "pending");
    e.server
        .cancel_task(&second)
        .expect("a waiting task can be cancelled");
    let task = e.wait_status(&second, "failed");
    assert_eq!(
        (&task["error"], &task["cancelled"]),
        (&"cancelled".into(), &true.into())
    );
    // Ending the first frees the name; the cancelled one still never runs.
    e.server.cancel_task(&first).unwrap();
    e.wait_status(&first, "failed");
    std::thread::sleep(Duration::from_millis(300));
    let second = e.task(&second);
    assert!(
        second["command"].is_null(),
        "the second never ran: {second}"
    );
    assert_eq!(second["status"], "failed", "{second}");
    assert_eq!(e.pull_pids().len(), 1, "only the first pull ever ran");
}

#[test]
fn a_short_running_task_cannot_be_cancelled() {
    let e = start("cancel-short");
    let out = std::process::Command::new(support::sim_bin())
        .args(["create", "--linux", "vm1"])
        .env("TART_HOME", e.dir.path().join("tart-home"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A stop that hangs (until the server's shutdown ends it): short by kind, so it is
    // not cancellable while it runs; half a stop is worse than a whole one.
    std::fs::write(e.dir.path().join("faults"), "hang stop").unwrap();
    let json = [("Content-Type", "application/json")];
    let reply = e
        .client
        .request("POST", "/api/vms/vm1/stop", &json, Some(b"{}"));
    // The VM was made behind the server's back: found after a fresh list.
    assert_eq!(reply.status, 202, "{}", reply.text());
    let id = reply.json()["id"].as_str().unwrap().to_string();
    eventually("the stop runs tart", || {
        e.task(&id)["command"].is_array().then_some(())
    });
    let refused = e.server.cancel_task(&id).unwrap_err();
    assert!(refused.contains("cannot be cancelled"), "{refused}");
    assert_eq!(e.task(&id)["status"], "running");
}
