//! The server against orchard-sim with three fake workers (api-next §8): the VM list
//! across workers, create with stages to running, stop, delete, events, a worker going
//! offline, a VM waiting for room, bad credentials and an unreachable controller, and
//! the curl transport.

mod orchard_support;
mod support;

use orchard_support::{ADMIN, OrchardSim};
use serde_json::{Value, json};
use support::{Setup, TestServer, eventually};

/// A server pointed at `sim` with the admin account (token from the environment), plus
/// `extra` flags.
fn server_for(sim: &OrchardSim, token: &str, extra: &[&str]) -> TestServer {
    let mut setup = Setup::default();
    setup.args.extend(
        ["--orchard", &sim.url(), "--orchard-account", ADMIN.0]
            .iter()
            .chain(extra)
            .map(|s| s.to_string()),
    );
    setup
        .env
        .push(("TARTVM_ORCHARD_TOKEN".into(), token.into()));
    TestServer::start_with(setup)
}

fn cluster_row(server: &TestServer, name: &str) -> Option<Value> {
    let vms = server.get("/api/vms").json();
    vms.as_array()?
        .iter()
        .find(|v| v["name"] == name && v["backend"] == "orchard")
        .cloned()
}

fn create_on_cluster(server: &TestServer, body: Value) -> String {
    let r = server.post("/api/vms/create", &body.to_string());
    assert_eq!(r.status, 202, "create: {}", r.text());
    let task = r.json();
    assert_eq!(task["action"], "create_vm");
    task["id"].as_str().unwrap().to_string()
}

#[test]
fn the_list_shows_cluster_vms_across_workers_beside_local_ones() {
    let sim = OrchardSim::start(&["--workers", "3", "--worker-slots", "1"]);
    for name in ["a", "b", "c"] {
        let body = json!({"name": name, "image": "ghcr.io/x/y:1", "cpu": 2, "memory": 4096});
        assert_eq!(
            sim.call("POST", "/v1/vms", Some(ADMIN), Some(&body)).status,
            200
        );
    }
    let server = server_for(&sim, ADMIN.1, &[]);
    server.create_vm("local-1");
    server.refresh();
    let rows = eventually("three cluster rows", || {
        let vms = server.get("/api/vms").json();
        let cluster: Vec<Value> = vms
            .as_array()?
            .iter()
            .filter(|v| v["backend"] == "orchard")
            .cloned()
            .collect();
        (cluster.len() == 3).then_some(vms)
    });
    let workers: std::collections::BTreeSet<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["backend"] == "orchard")
        .map(|v| v["worker"].as_str().unwrap())
        .collect();
    assert_eq!(
        workers.len(),
        3,
        "one slot each: the VMs spread over the workers"
    );
    let local = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "local-1")
        .expect("the local VM");
    assert_eq!(local["backend"], "tart");
    let health = server.get("/api/health").json();
    assert_eq!(health["backends"], json!({"tart": "ok", "orchard": "ok"}));
    let w = server.get("/api/workers").json();
    assert_eq!(w.as_array().unwrap().len(), 3);
    for row in w.as_array().unwrap() {
        assert_eq!(row["online"], true);
        assert_eq!(row["cpu_total"], 10);
        assert_eq!(
            row["cpu_used"], 2,
            "assigned CPU of the one VM there: {row}"
        );
        assert_eq!(row["memory_used_mb"], 4096);
        assert_eq!(
            (row["vms_used"].clone(), row["vms_total"].clone()),
            (json!(1), json!(1))
        );
    }
}

#[test]
fn create_goes_through_orchards_stages_to_running_then_stop_and_delete() {
    let sim = OrchardSim::start(&[]);
    let server = server_for(&sim, ADMIN.1, &[]);
    // The task follows the VM with a watch it opens after the POST; on a loaded machine
    // the VM could pass a stage before that watch subscribes. So the workers hold the VM
    // still (a silent worker's VMs do not progress) until the simulator counts the
    // server's watch, and every stage is then seen through it.
    let workers: Vec<String> = sim
        .get("/v1/workers")
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].as_str().unwrap().to_string())
        .collect();
    for w in &workers {
        assert_eq!(
            sim.control(&format!("/workers/{w}/silence"), json!({}))
                .status,
            200
        );
    }
    let id = create_on_cluster(
        &server,
        json!({"backend": "orchard", "name": "build-1", "source_vm": "ghcr.io/cirruslabs/macos-sequoia-base:latest",
               "cpu": 2, "memory": 4, "startup_script": "echo provisioning\necho ready"}),
    );
    eventually("the server watches build-1", || {
        let r = sim.call("GET", "/_sim/vms/build-1/watchers", None, None);
        (r.status == 200 && r.json()["watchers"].as_u64() > Some(0)).then_some(())
    });
    for w in &workers {
        assert_eq!(
            sim.control(&format!("/workers/{w}/online"), json!({}))
                .status,
            200
        );
    }
    let task = server.wait_task(&id);
    assert_eq!(task["status"], "completed", "{task}");
    let logs: Vec<&str> = task["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    let at = |needle: &str| {
        logs.iter()
            .position(|l| l.starts_with(needle))
            .unwrap_or_else(|| panic!("no {needle:?} in {logs:?}"))
    };
    assert!(at("scheduled on worker-") < at("cloning VM..."));
    assert!(at("cloning VM...") < at("configuring VM..."));
    assert!(
        at("configuring VM...") < at("echo ready"),
        "events follow: {logs:?}"
    );
    assert!(
        task["result"]["worker"]
            .as_str()
            .unwrap()
            .starts_with("worker-")
    );
    let orchard = sim.get("/v1/vms/build-1");
    assert_eq!(
        (orchard["cpu"].clone(), orchard["memory"].clone()),
        (json!(2), json!(4096))
    );
    assert_eq!(orchard["headless"], true);

    let row = eventually("the row runs", || {
        cluster_row(&server, "build-1").filter(|r| r["status"] == "running")
    });
    assert_eq!(row["actions"], json!(["stop", "delete"]));
    let events = server.get("/api/vms/build-1/events?backend=orchard").json();
    assert_eq!(events["lines"], json!(["echo provisioning", "echo ready"]));
    let details = server.get("/api/vms/build-1?backend=orchard");
    assert_eq!(details.status, 200);
    assert_eq!(details.json()["orchard"]["arch"], "arm64");
    let ip = details.json()["ip_on_worker"].as_str().unwrap().to_string();
    assert_eq!(ip, sim.get("/v1/vms/build-1/ip")["ip"]);
    assert_eq!(
        server.get("/api/vms/build-1").status,
        404,
        "without ?backend it means a local VM"
    );

    let stop = server.post("/api/vms/build-1/stop?backend=orchard", "{}");
    assert_eq!(stop.status, 202, "{}", stop.text());
    let stopped = server.wait_task(stop.json()["id"].as_str().unwrap());
    assert_eq!(stopped["status"], "completed", "{stopped}");
    assert_eq!(sim.get("/v1/vms/build-1")["powerState"], "stopped");
    let row = eventually("the row is stopped", || {
        cluster_row(&server, "build-1").filter(|r| r["status"] == "stopped")
    });
    assert_eq!(
        row["actions"],
        json!(["delete"]),
        "no start after a stop on Orchard"
    );
    assert_eq!(
        server
            .post("/api/vms/build-1/start?backend=orchard", "{}")
            .status,
        409
    );
    assert_eq!(
        server
            .post("/api/vms/build-1/stop?backend=orchard", "{}")
            .status,
        409
    );

    let del = server.post("/api/vms/build-1/delete?backend=orchard", "{}");
    assert_eq!(del.status, 202);
    assert_eq!(
        server.wait_task(del.json()["id"].as_str().unwrap())["status"],
        "completed"
    );
    assert_eq!(
        sim.call("GET", "/v1/vms/build-1", Some(ADMIN), None).status,
        404
    );
    eventually("the row is gone", || {
        cluster_row(&server, "build-1").is_none().then_some(())
    });
    assert_eq!(server.get("/api/vms/build-1?backend=orchard").status, 404);
}

#[test]
fn a_failing_create_fails_its_task_with_orchards_message_and_bad_bodies_change_nothing() {
    let sim = OrchardSim::start(&["--fail-image", "missing"]);
    let server = server_for(&sim, ADMIN.1, &[]);
    let id = create_on_cluster(
        &server,
        json!({"backend": "orchard", "name": "m", "source_vm": "ghcr.io/x/missing:1"}),
    );
    let task = server.wait_task(&id);
    assert_eq!(task["status"], "failed");
    assert!(
        task["error"]
            .as_str()
            .unwrap()
            .starts_with("failed to clone the VM"),
        "{task}"
    );
    for bad in [
        json!({"backend": "orchard", "source_vm": "ghcr.io/x/y:1"}),
        json!({"backend": "orchard", "name": "a/b", "source_vm": "ghcr.io/x/y:1"}),
        json!({"backend": "orchard", "name": "ok"}),
        json!({"backend": "orchard", "name": "ok", "source_vm": "ghcr.io/x/y:1", "cpu": 0}),
        json!({"backend": "orchard", "name": "ok", "source_vm": "NOT A REF"}),
    ] {
        let r = server.post("/api/vms/create", &bad.to_string());
        assert_eq!(r.status, 422, "{bad}: {}", r.text());
    }
    let dup = server.post(
        "/api/vms/create",
        &json!({"backend": "orchard", "name": "m", "source_vm": "ghcr.io/x/y:1"}).to_string(),
    );
    assert_eq!(dup.status, 409, "{}", dup.text());
    assert_eq!(
        sim.get("/v1/vms").as_array().unwrap().len(),
        1,
        "nothing else was created"
    );
}

#[test]
fn a_worker_going_offline_fails_its_vms_and_shows_offline() {
    let sim = OrchardSim::start(&["--workers", "3"]);
    let server = server_for(&sim, ADMIN.1, &[]);
    let id = create_on_cluster(
        &server,
        json!({"backend": "orchard", "name": "v", "source_vm": "ghcr.io/x/y:1"}),
    );
    let task = server.wait_task(&id);
    let worker = task["result"]["worker"].as_str().unwrap().to_string();
    assert_eq!(
        sim.control(&format!("/workers/{worker}/offline"), json!({}))
            .status,
        200
    );
    let row = eventually("the VM fails", || {
        cluster_row(&server, "v").filter(|r| r["state"] == "failed")
    });
    assert_eq!(row["status"], "unknown");
    assert_eq!(
        row["status_message"],
        "VM is assigned to a worker that lost connection with the controller"
    );
    assert_eq!(row["actions"], json!(["delete"]));
    let w = eventually("the worker shows offline", || {
        let all = server.get("/api/workers").json();
        all.as_array()?
            .iter()
            .find(|w| w["name"] == worker.as_str() && w["online"] == false)
            .cloned()
    });
    assert_eq!(w["cpu_used"], 0, "a failed VM holds nothing");
}

#[test]
fn a_vm_without_room_waits_and_says_why() {
    let sim = OrchardSim::start(&["--workers", "1", "--worker-slots", "1"]);
    let server = server_for(&sim, ADMIN.1, &[]);
    let first = create_on_cluster(
        &server,
        json!({"backend": "orchard", "name": "first", "source_vm": "ghcr.io/x/y:1"}),
    );
    // Creates run on their own threads: let the first take the only slot.
    assert_eq!(server.wait_task(&first)["status"], "completed");
    let id = create_on_cluster(
        &server,
        json!({"backend": "orchard", "name": "second", "source_vm": "ghcr.io/x/y:1"}),
    );
    let row = eventually("second waits", || {
        cluster_row(&server, "second").filter(|r| r["state"] == "pending")
    });
    assert_eq!(row["worker"], Value::Null);
    assert_eq!(
        row["status_message"],
        "waiting for a worker with free resources (all online workers are full)"
    );
    let task = eventually("the task says pending", || {
        let t = server.get(&format!("/api/tasks/{id}")).json();
        (t["stage"] == "pending").then_some(t)
    });
    assert_eq!(task["status"], "running");
}

#[test]
fn bad_credentials_or_a_dead_controller_leave_the_local_side_working() {
    let sim = OrchardSim::start(&[]);
    let server = server_for(&sim, "wrong-token", &[]);
    server.create_vm("still-here");
    let health = eventually("the error shows", || {
        let h = server.get("/api/health");
        (h.json()["backends"]["orchard"] != "not checked yet").then_some(h)
    });
    assert_eq!(health.status, 200);
    assert_eq!(health.json()["backends"]["tart"], "ok");
    assert_eq!(
        health.json()["backends"]["orchard"],
        "the Orchard controller refused the service account's credentials (401)"
    );
    let _ = server.post("/api/vms/refresh", "{}");
    let vms = server.get("/api/vms");
    assert_eq!(vms.status, 200);
    assert!(
        vms.json()
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["name"] == "still-here")
    );
    let r = server.post(
        "/api/vms/create",
        &json!({"backend": "orchard", "name": "x", "source_vm": "ghcr.io/x/y:1"}).to_string(),
    );
    let failed = server.wait_task(r.json()["id"].as_str().unwrap());
    assert!(
        failed["error"].as_str().unwrap().contains("401"),
        "{failed}"
    );
    assert_eq!(server.get("/api/vms/x?backend=orchard").status, 502);

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let mut setup = Setup::default();
    setup.args.extend(["--orchard".to_string(), dead]);
    let server = TestServer::start_with(setup);
    let health = eventually("the error shows", || {
        let h = server.get("/api/health").json();
        (h["backends"]["orchard"] != "not checked yet").then_some(h)
    });
    assert_eq!(
        health["backends"]["orchard"],
        "cannot reach the Orchard controller: connection refused"
    );
    assert_eq!(server.get("/api/workers").json(), json!([]));
}

#[test]
fn the_curl_transport_drives_the_same_api() {
    let sim = OrchardSim::start(&[]);
    let server = server_for(&sim, ADMIN.1, &["--orchard-via-curl"]);
    // Quotes and backslashes survive curl's config-file quoting.
    let line = r#"echo "quoted" \ line"#;
    let id = create_on_cluster(
        &server,
        json!({"backend": "orchard", "name": "via-curl", "source_vm": "ghcr.io/x/y:1", "startup_script": line}),
    );
    let task = server.wait_task(&id);
    assert_eq!(task["status"], "completed", "{task}");
    assert!(
        task["logs"].as_array().unwrap().iter().any(|l| l == line),
        "{task}"
    );
    let w = eventually("workers", || {
        let w = server.get("/api/workers").json();
        (w.as_array()?.len() == 3).then_some(w)
    });
    assert_eq!(w[0]["backend"], "orchard");
}

#[test]
fn the_token_is_never_a_flag_value() {
    let out = std::process::Command::new(support::server_bin())
        .args([
            "--orchard",
            "http://127.0.0.1:1",
            "--orchard-token",
            "s3cret",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("never a flag value"));
}

#[test]
fn no_local_shows_only_the_cluster() {
    let sim = OrchardSim::start(&["--vm", "only=ghcr.io/x/y:1"]);
    let server = server_for(&sim, ADMIN.1, &["--no-local"]);
    server.create_vm("hidden-local");
    let refreshed = server.post("/api/vms/refresh", "{}");
    assert_eq!(
        refreshed.json(),
        json!([]),
        "no tart runs for the local list"
    );
    let vms = eventually("the cluster VM", || {
        let v = server.get("/api/vms").json();
        (v.as_array()?.len() == 1).then_some(v)
    });
    assert_eq!(vms[0]["name"], "only");
    assert_eq!(vms[0]["backend"], "orchard");
    assert_eq!(
        server.get("/api/health").json()["backends"]["tart"],
        "disabled"
    );
    let one = server.get("/api/vms/only");
    assert_eq!(
        one.status,
        200,
        "per-VM routes mean the cluster: {}",
        one.text()
    );
    assert_eq!(one.json()["backend"], "orchard");
    let out = std::process::Command::new(support::server_bin())
        .arg("--no-local")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "--no-local needs a cluster");
}

/// Cancelling a create on the cluster deletes what it made (through the library's
/// `Server::cancel_task`, the call the HTTP cancel endpoint makes).
#[test]
fn cancelling_a_cluster_create_deletes_its_vm() {
    // No workers: the VM waits, so the create is surely still running when cancelled.
    let sim = OrchardSim::start(&["--workers", "0"]);
    let dir = support::TempDir::new("orchard-cancel");
    let mut config = taartenfabriek::Config::with_home(dir.path().to_path_buf());
    config.port = 0;
    config.tart = support::sim_bin();
    config.refresh_interval = None;
    config.persist_tasks = false;
    config.tart_env.push((
        "TART_HOME".into(),
        dir.path().join("tart-home").into_os_string(),
    ));
    config.orchard = Some(taartenfabriek::OrchardConfig {
        url: sim.url(),
        account: Some(ADMIN.0.into()),
        token: Some(ADMIN.1.into()),
        cert: None,
        via_curl: false,
    });
    let server = taartenfabriek::Server::start(config).expect("start");
    let client = support::Client {
        addr: server.addr(),
        token: Some(server.token().to_string()),
    };
    let body = json!({"backend": "orchard", "name": "doomed", "source_vm": "ghcr.io/x/y:1"});
    let reply = client.request(
        "POST",
        "/api/vms/create",
        &[("Content-Type", "application/json")],
        Some(body.to_string().as_bytes()),
    );
    assert_eq!(reply.status, 202, "{}", reply.text());
    let id = reply.json()["id"].as_str().unwrap().to_string();
    let task = |id: &str| {
        client
            .request("GET", &format!("/api/tasks/{id}"), &[], None)
            .json()
    };
    eventually("the create waits for a worker", || {
        (task(&id)["stage"] == "pending").then_some(())
    });
    server
        .cancel_task(&id)
        .expect("a running cluster create can be cancelled");
    let ended = eventually("the create ends", || {
        let t = task(&id);
        (t["status"] == "failed").then_some(t)
    });
    assert_eq!(ended["error"], "cancelled");
    assert_eq!(ended["cancelled"], true);
    assert_eq!(
        sim.call("GET", "/v1/vms/doomed", Some(ADMIN), None).status,
        404
    );
    assert!(
        server.cancel_task(&id).is_err(),
        "ended tasks are not cancelled again"
    );
}
