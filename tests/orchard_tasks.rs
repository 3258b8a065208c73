//! Cluster tasks go through the scheduler like local ones (the Orchard host behind the
//! backend seam): creates wait on the transfer lane and a waiting one is taken out of
//! its queue by the cancel endpoint, a running create is cancelled (its VM deleted), a
//! running cluster stop refuses to be cancelled, and a cluster VM's name never locks the
//! local VM of the same name.

mod orchard_support;
mod support;

use orchard_support::{ADMIN, OrchardSim};
use serde_json::{Value, json};
use support::{Setup, TestServer, eventually};
use taartenfabriek::limits::TRANSFER_WORKERS;

/// A server pointed at `sim` with the admin account.
fn server_for(sim: &OrchardSim) -> TestServer {
    let mut setup = Setup::default();
    setup.args.extend(
        ["--orchard", &sim.url(), "--orchard-account", ADMIN.0]
            .iter()
            .map(|s| s.to_string()),
    );
    setup
        .env
        .push(("TARTVM_ORCHARD_TOKEN".into(), ADMIN.1.into()));
    TestServer::start_with(setup)
}

fn create(server: &TestServer, name: &str) -> String {
    let body = json!({"backend": "orchard", "name": name, "source_vm": "ghcr.io/x/y:1"});
    let r = server.post("/api/vms/create", &body.to_string());
    assert_eq!(r.status, 202, "create {name}: {}", r.text());
    r.json()["id"].as_str().unwrap().to_string()
}

fn task(server: &TestServer, id: &str) -> Value {
    server.get(&format!("/api/tasks/{id}")).json()
}

fn on_sim(sim: &OrchardSim, name: &str) -> u16 {
    sim.call("GET", &format!("/v1/vms/{name}"), Some(ADMIN), None)
        .status
}

#[test]
fn cluster_creates_wait_on_the_transfer_lane_and_cancel_through_the_endpoint() {
    // No workers: every create waits for one, holding its transfer worker.
    let sim = OrchardSim::start(&["--workers", "0"]);
    let server = server_for(&sim);
    let running: Vec<String> = (0..TRANSFER_WORKERS)
        .map(|i| create(&server, &format!("long-{i}")))
        .collect();
    for id in &running {
        eventually("the create runs and waits for a worker", || {
            (task(&server, id)["stage"] == "pending").then_some(())
        });
    }
    // One more than the lane has workers: it waits in the queue, never sent to Orchard.
    let queued = create(&server, "queued");
    let waiting = task(&server, &queued);
    assert_eq!(waiting["status"], "pending", "{waiting}");
    assert_eq!(on_sim(&sim, "queued"), 404);

    let cancel = server.post(&format!("/api/tasks/{queued}/cancel"), "");
    assert_eq!(cancel.status, 202, "{}", cancel.text());
    let ended = server.wait_task(&queued);
    assert_eq!(
        (&ended["error"], &ended["cancelled"]),
        (&json!("cancelled"), &json!(true))
    );
    assert_eq!(on_sim(&sim, "queued"), 404, "a create taken out never ran");

    // A running create: cancelled through the same endpoint, its VM deleted.
    let cancel = server.post(&format!("/api/tasks/{}/cancel", running[0]), "");
    assert_eq!(cancel.status, 202, "{}", cancel.text());
    let ended = server.wait_task(&running[0]);
    assert_eq!(ended["error"], "cancelled", "{ended}");
    assert!(
        ended["logs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l == "cancelled: deleting long-0 from the cluster"),
        "{ended}"
    );
    assert_eq!(on_sim(&sim, "long-0"), 404);
    assert_eq!(on_sim(&sim, "long-1"), 200, "the others still wait");
}

#[test]
fn a_running_cluster_stop_cannot_be_cancelled() {
    let sim = OrchardSim::start(&["--workers", "1", "--vm", "solo=ghcr.io/x/y:1"]);
    let server = server_for(&sim);
    eventually("solo runs", || {
        let vms = server.get("/api/vms").json();
        vms.as_array()?
            .iter()
            .any(|v| v["name"] == "solo" && v["status"] == "running")
            .then_some(())
    });
    // A silent worker confirms nothing: the stop waits for it.
    assert_eq!(
        sim.control("/workers/worker-1/silence", json!({})).status,
        200
    );
    let stop = server.post("/api/vms/solo/stop?backend=orchard", "{}");
    assert_eq!(stop.status, 202, "{}", stop.text());
    let id = stop.json()["id"].as_str().unwrap().to_string();
    eventually("the stop waits for the worker", || {
        (task(&server, &id)["stage"] == "stopping").then_some(())
    });
    let refused = server.post(&format!("/api/tasks/{id}/cancel"), "");
    assert_eq!(refused.status, 409, "{}", refused.text());
    assert_eq!(task(&server, &id)["cancellable"], false);
    assert_eq!(
        sim.control("/workers/worker-1/online", json!({})).status,
        200
    );
    let done = server.wait_task(&id);
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(
        done["result"]["message"],
        "VM \"solo\" stopped on the cluster"
    );
}

#[test]
fn a_cluster_vm_never_locks_the_local_vm_of_the_same_name() {
    let sim = OrchardSim::start(&["--vm", "twin=ghcr.io/x/y:1"]);
    let server = server_for(&sim);
    server.create_vm("twin");
    let _ = server.post("/api/vms/refresh", "{}");
    // The local delete of `twin` hangs in tart and holds the name `twin`.
    server.set_faults("hang delete:twin");
    let local = server.post("/api/vms/twin/delete", "{}");
    assert_eq!(local.status, 202, "{}", local.text());
    let local_id = local.json()["id"].as_str().unwrap().to_string();
    eventually("the local delete runs", || {
        (task(&server, &local_id)["status"] == "running").then_some(())
    });
    let cluster = server.post("/api/vms/twin/delete?backend=orchard", "{}");
    assert_eq!(cluster.status, 202, "{}", cluster.text());
    let done = server.wait_task(cluster.json()["id"].as_str().unwrap());
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(
        done["result"]["message"],
        "VM \"twin\" deleted from the cluster"
    );
    assert_eq!(on_sim(&sim, "twin"), 404);
    assert_eq!(
        task(&server, &local_id)["status"],
        "running",
        "the local delete still hangs"
    );
}
