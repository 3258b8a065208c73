//! orchard-sim as a real child process: auth and roles, placement across fake workers,
//! the VM progression seen through a watch stream, the one-way power state, a worker
//! going offline, startup-script events, and delete.

mod orchard_support;
mod support;

use orchard_support::{ADMIN, OrchardSim, READER};
use serde_json::{Value, json};
use support::eventually;

fn create(sim: &OrchardSim, body: Value) -> Value {
    let r = sim.call("POST", "/v1/vms", Some(ADMIN), Some(&body));
    assert_eq!(r.status, 200, "create: {}", r.text());
    r.json()
}

fn vm(name: &str) -> Value {
    json!({"name": name, "image": "ghcr.io/cirruslabs/macos-sequoia-base:latest", "headless": true})
}

#[test]
fn credentials_and_roles_are_checked() {
    let sim = OrchardSim::start(&[]);
    assert_eq!(
        sim.call("GET", "/v1/", None, None).status,
        200,
        "the API root is open"
    );
    let none = sim.call("GET", "/v1/vms", None, None);
    assert_eq!(none.status, 401);
    let bad = sim.call("GET", "/v1/vms", Some(("admin", "wrong")), None);
    assert_eq!(bad.status, 401);
    assert!(bad.body.is_empty(), "bad credentials get an empty 401");
    assert_eq!(sim.call("GET", "/v1/vms", Some(READER), None).status, 200);
    let denied = sim.call("POST", "/v1/vms", Some(READER), Some(&vm("a")));
    assert_eq!(denied.status, 401);
    assert_eq!(
        denied.json()["message"],
        "all of the following roles must be present: compute:write"
    );
    let info = sim.get("/v1/controller/info");
    assert!(info["capabilities"].as_array().is_some());
}

#[test]
fn dev_mode_lets_anonymous_calls_pass_but_not_wrong_credentials() {
    let sim = OrchardSim::start(&["--no-auth"]);
    assert_eq!(sim.call("GET", "/v1/workers", None, None).status, 200);
    assert_eq!(
        sim.call("GET", "/v1/workers", Some(("admin", "nope")), None)
            .status,
        401
    );
}

#[test]
fn create_validates_like_orchard() {
    let sim = OrchardSim::start(&[]);
    let r = sim.call("POST", "/v1/vms", Some(ADMIN), Some(&json!({"name": "a"})));
    assert_eq!(r.status, 412, "image is required");
    let r = sim.call(
        "POST",
        "/v1/vms",
        Some(ADMIN),
        Some(&json!({"name": "a/b", "image": "x"})),
    );
    assert_eq!(r.status, 412, "bad characters");
    let raw = support::request_bytes(
        "POST",
        "/v1/vms",
        &[
            ("Host", "x"),
            (
                "Authorization",
                &format!("Basic {}", orchard_support::base64(b"admin:admin-secret")),
            ),
        ],
        Some(b"{not json"),
    );
    assert_eq!(support::send_raw(sim.addr, &raw).status, 400);
    let made = create(&sim, vm("a"));
    assert_eq!(made["status"], "pending");
    assert_eq!(made["resources"]["org.cirruslabs.tart-vms"], 1);
    assert_eq!(made["powerState"], "running");
    assert_eq!(
        sim.call("POST", "/v1/vms", Some(ADMIN), Some(&vm("a")))
            .status,
        409
    );
    assert_eq!(
        sim.call("GET", "/v1/vms/nope", Some(ADMIN), None).status,
        404
    );
}

#[test]
fn a_vm_goes_through_the_stages_to_running_on_a_watch_stream() {
    let sim = OrchardSim::start(&[]);
    let mut watch = sim.watch("ci-1");
    create(
        &sim,
        json!({"name": "ci-1", "image": "ghcr.io/x/y:1", "imagePullPolicy": "Always"}),
    );
    let first = watch.next();
    assert_eq!(first["type"], "ADDED");
    let is_running = |m: &Value| {
        m["object"]["conditions"].as_array().is_some_and(|c| {
            c.iter()
                .any(|c| c["type"] == "running" && c["state"] == "true")
        })
    };
    // The watch request and the create race on the simulator's threads: on a loaded
    // machine the watch may subscribe only once the VM already runs, and then its
    // `ADDED` line (the current object) is the last line it gets.
    let running = if is_running(&first) {
        first
    } else {
        watch.until(is_running)
    };
    assert_eq!(running["object"]["status"], "running");
    assert!(
        running["object"]["worker"]
            .as_str()
            .unwrap()
            .starts_with("worker-")
    );
    assert_eq!(running["object"]["observedGeneration"], 0);
    // Every status message on the way, in order (the watch sees every write). The VM
    // waits on a cluster without workers, so the watch is surely subscribed (its first
    // line came) before a worker appears and the stages begin.
    let empty = OrchardSim::start(&["--workers", "0"]);
    create(
        &empty,
        json!({"name": "ci-2", "image": "ghcr.io/x/y:1", "imagePullPolicy": "Always"}),
    );
    let mut replay = empty.watch("ci-2");
    let mut messages = vec![
        replay.next()["object"]["status_message"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    ];
    assert_eq!(
        empty.control("/workers", json!({"name": "late"})).status,
        200
    );
    loop {
        let m = replay.next();
        let msg = m["object"]["status_message"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if messages.last() != Some(&msg) {
            messages.push(msg);
        }
        if m["object"]["status"] == "running" {
            break;
        }
    }
    assert_eq!(
        messages,
        [
            "",
            "pulling VM image...",
            "cloning VM...",
            "configuring VM...",
            "VM started"
        ]
    );
    assert_eq!(
        empty
            .call("DELETE", "/v1/vms/ci-2", Some(ADMIN), None)
            .status,
        200
    );
    let gone = replay.until(|m| m["type"] == "DELETED");
    assert_eq!(gone["object"]["generation"], 0, "a zero VM");
    assert!(gone["object"].get("name").is_none());
    assert_eq!(
        empty.call("GET", "/v1/vms/ci-2", Some(ADMIN), None).status,
        404
    );
    assert_eq!(
        empty
            .call("DELETE", "/v1/vms/ci-2", Some(ADMIN), None)
            .status,
        404
    );
}

#[test]
fn placement_counts_slots_and_the_stop_is_one_way() {
    // Two workers of two slots: the busiest-first profile fills worker-1 first.
    let sim = OrchardSim::start(&["--workers", "2"]);
    for i in 1..=5 {
        create(&sim, vm(&format!("vm-{i}")));
    }
    let workers: Vec<String> = sim
        .get("/v1/vms")
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["worker"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(
        workers,
        ["worker-1", "worker-1", "worker-2", "worker-2", ""]
    );
    let on_1 = sim.get("/v1/vms?filter=worker=worker-1");
    assert_eq!(on_1.as_array().unwrap().len(), 2);
    // Stop vm-1 once it runs: its slot frees, and vm-5 is placed there.
    eventually("vm-1 runs", || {
        (sim.get("/v1/vms/vm-1")["status"] == "running").then_some(())
    });
    let mut spec = sim.get("/v1/vms/vm-1");
    spec["powerState"] = json!("stopped");
    let r = sim.call("PUT", "/v1/vms/vm-1", Some(ADMIN), Some(&spec));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["generation"], 1);
    let stopped = eventually("vm-1 stops", || {
        let v = sim.get("/v1/vms/vm-1");
        (v["observedGeneration"] == 1).then_some(v)
    });
    assert_eq!(stopped["status"], "running", "Orchard keeps the status");
    let moved = eventually("vm-5 is placed", || {
        let v = sim.get("/v1/vms/vm-5");
        v["worker"].is_string().then_some(v)
    });
    assert_eq!(moved["worker"], "worker-1");
    spec["powerState"] = json!("running");
    let back = sim.call("PUT", "/v1/vms/vm-1", Some(ADMIN), Some(&spec));
    assert_eq!(back.status, 412, "no way back from stopped");
    spec["os"] = json!("linux");
    assert_eq!(
        sim.call("PUT", "/v1/vms/vm-2", Some(ADMIN), Some(&spec))
            .status,
        412
    );
}

#[test]
fn a_silent_worker_fails_its_vms_and_gets_no_new_ones() {
    let sim = OrchardSim::start(&["--workers", "2", "--worker-slots", "1"]);
    create(&sim, vm("a"));
    create(&sim, vm("b"));
    let a_worker = sim.get("/v1/vms/a")["worker"].as_str().unwrap().to_string();
    assert_eq!(
        sim.control(&format!("/workers/{a_worker}/offline"), json!({}))
            .status,
        200
    );
    let failed = eventually("a fails", || {
        let v = sim.get("/v1/vms/a");
        (v["status"] == "failed").then_some(v)
    });
    assert_eq!(
        failed["status_message"],
        "VM is assigned to a worker that lost connection with the controller"
    );
    let b_before = sim.get("/v1/vms/b");
    assert_ne!(
        b_before["status"], "failed",
        "the other worker's VM is untouched"
    );
    // The scheduler runs as part of the create: its answer already shows the placement.
    let c = create(&sim, vm("c"));
    assert_eq!(
        c["worker"],
        Value::Null,
        "no room on the live worker, none on the silent one"
    );
    let worker = sim.get(&format!("/v1/workers/{a_worker}"));
    assert!(worker["last_seen"].as_str().unwrap() < b_before["createdAt"].as_str().unwrap());
}

#[test]
fn startup_script_lines_become_events_and_a_failing_script_fails_the_vm() {
    let sim = OrchardSim::start(&[]);
    let script = |s: &str| json!({"script_content": s});
    let mut ok = vm("ok");
    ok["startup_script"] = script("echo hello\necho world");
    create(&sim, ok);
    let mut bad = vm("bad");
    bad["startup_script"] = script("echo trying\nexit 3");
    create(&sim, bad);
    let events = eventually("events", || {
        let e = sim.get("/v1/vms/ok/events");
        (e.as_array().unwrap().len() == 2).then_some(e)
    });
    assert_eq!(events[0]["kind"], "log_line");
    assert_eq!(events[1]["payload"], "echo world");
    let page = sim.call("GET", "/v1/vms/ok/events?limit=1", Some(ADMIN), None);
    assert_eq!(page.json().as_array().unwrap().len(), 1);
    let cursor = page
        .header("X-Next-Cursor")
        .expect("a next cursor")
        .to_string();
    let rest = sim.get(&format!("/v1/vms/ok/events?limit=1&cursor={cursor}"));
    assert_eq!(rest[0]["payload"], "echo world");
    let failed = eventually("bad fails", || {
        let v = sim.get("/v1/vms/bad");
        (v["status"] == "failed").then_some(v)
    });
    assert_eq!(
        failed["status_message"],
        "VM failed: failed to run startup script: Process exited with status 3"
    );
    assert_eq!(
        sim.call("GET", "/v1/vms/bad/ip", Some(ADMIN), None).status,
        417
    );
    let ip = sim.get("/v1/vms/ok/ip?wait=5");
    assert!(ip["ip"].as_str().unwrap().starts_with("192.168.64."));
}

#[test]
fn an_image_marked_failing_fails_while_cloning() {
    let sim = OrchardSim::start(&["--fail-image", "missing"]);
    create(&sim, json!({"name": "m", "image": "ghcr.io/x/missing:1"}));
    let v = eventually("m fails", || {
        let v = sim.get("/v1/vms/m");
        (v["status"] == "failed").then_some(v)
    });
    assert!(
        v["status_message"]
            .as_str()
            .unwrap()
            .starts_with("failed to clone the VM")
    );
    let w = sim.get("/v1/workers");
    assert_eq!(w.as_array().unwrap().len(), 3);
    assert_eq!(w[0]["resources"]["org.cirruslabs.tart-vms"], 2);
}
