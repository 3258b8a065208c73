//! Making VMs through the API (api-next §2) against tart-sim: create, clone,
//! categorized, available-images, active tasks and each row's actions, with every
//! refusal, the simulator's logged argv and the resulting state.

mod lifecycle_support;
mod support;

use lifecycle_support::*;
use serde_json::json;
use support::{Setup, TestServer, eventually};

#[test]
fn create_from_an_image_clones_then_sets_once() {
    let server = TestServer::start();
    let done = completed(
        &server,
        "/api/vms/create",
        json!({"name": "dev", "source_vm": "ghcr.io/cirruslabs/ubuntu:latest",
               "cpu": 2, "memory": 8, "disk_size": 40}),
    );
    assert_eq!(done["action"], "create_vm");
    assert_eq!(done["vm_name"], "dev");
    assert_eq!(done["result"]["name"], "dev");
    assert_eq!(
        done["progress"], 100.0,
        "the image was pulled with progress"
    );
    assert!(ran(
        &server,
        &["clone", "--", "ghcr.io/cirruslabs/ubuntu:latest", "dev"]
    ));
    assert!(ran(
        &server,
        &[
            "set",
            "--cpu",
            "2",
            "--memory",
            "8192",
            "--disk-size",
            "40",
            "--",
            "dev"
        ]
    ));
    let c = config(&server, "dev");
    assert_eq!(c["cpuCount"], 2);
    assert_eq!(c["memorySize"], 8u64 << 30);
    let vm = server.get("/api/vms/dev").json();
    assert_eq!(
        vm["cpu"], 2,
        "the row shows the new values when the task ends"
    );
    assert_eq!(vm["memory"], "8G");
}

#[test]
fn create_empty_linux_and_macos_with_two_phases() {
    let mut setup = Setup::default();
    setup.env.retain(|(k, _)| k != "TART_SIM_PULL_MS");
    setup.env.push(("TART_SIM_PULL_MS".into(), "3000".into()));
    let server = TestServer::start_with(setup);
    completed(
        &server,
        "/api/vms/create",
        json!({"name": "lin", "os": "linux", "disk_size": 30}),
    );
    assert!(ran(
        &server,
        &["create", "--linux", "--disk-size", "30", "--", "lin"]
    ));

    let task = accepted(
        &server,
        "/api/vms/create",
        json!({"name": "mac", "os": "macos", "cpu": 6}),
    );
    let id = task["id"].as_str().unwrap();
    let mut stages = Vec::new();
    let done = eventually("the IPSW create ends", || {
        let t = server.get(&format!("/api/tasks/{id}")).json();
        if let Some(stage) = t["stage"].as_str()
            && stages.last().map(String::as_str) != Some(stage)
        {
            stages.push(stage.to_string());
        }
        matches!(t["status"].as_str(), Some("completed" | "failed")).then_some(t)
    });
    assert_eq!(done["status"], "completed", "{done}");
    assert!(
        stages.starts_with(&["downloading".to_string(), "installing".to_string()]),
        "{stages:?}"
    );
    assert!(ran(
        &server,
        &[
            "create",
            "--from-ipsw",
            "latest",
            "--disk-size",
            "50",
            "--",
            "mac"
        ]
    ));
    assert!(ran(&server, &["set", "--cpu", "6", "--", "mac"]));
    assert_eq!(config(&server, "mac")["os"], "darwin");
}

#[test]
fn create_and_clone_refusals() {
    let server = TestServer::start();
    server.create_vm("base");
    for (body, field) in [
        (json!({"name": "-x"}), "name"),
        (json!({"name": "ok", "cpu": 0}), "cpu"),
        (json!({"name": "ok", "memory": 2000}), "memory"),
        (json!({"name": "ok", "disk_size": 5}), "disk_size"),
        (json!({"name": "ok", "os": "windows"}), "os"),
        (json!({"name": "ok", "ipsw": "latest"}), "ipsw"),
        (
            json!({"name": "ok", "os": "macos", "ipsw": "--linux"}),
            "ipsw",
        ),
        (json!({"name": "ok", "source_vm": "a b/c"}), "source_vm"),
        (json!({"cpu": 2}), "name"),
    ] {
        let (status, reply) = refused(&server, "/api/vms/create", body.clone());
        assert_eq!(status, 422, "{body}");
        assert_eq!(reply["detail"][0]["loc"], json!(["body", field]), "{body}");
    }
    let (status, reply) = refused(&server, "/api/vms/create", json!({"name": "base"}));
    assert_eq!(status, 409);
    assert!(reply["detail"].as_str().unwrap().contains("replace"));
    let (status, _) = refused(
        &server,
        "/api/vms/create",
        json!({"name": "new", "source_vm": "nope"}),
    );
    assert_eq!(status, 404);
    let (status, reply) = refused(
        &server,
        "/api/vms/create",
        json!({"name": "new", "source_vm": "base", "disk_size": 20}),
    );
    assert_eq!(status, 422, "base has 50 GB");
    assert_eq!(reply["detail"][0]["loc"], json!(["body", "disk_size"]));

    let (status, _) = refused(&server, "/api/vms/base/clone", json!({"new_name": "base"}));
    assert_eq!(status, 409);
    let (status, _) = refused(&server, "/api/vms/nope/clone", json!({"new_name": "x"}));
    assert_eq!(status, 404);
    let (status, _) = refused(&server, "/api/vms/base/clone", json!({}));
    assert_eq!(status, 422);
}

/// Regression: tart clone silently replaces an existing VM, even a running one; the
/// server refuses instead, so the running VM is untouched.
#[test]
fn clone_never_replaces_a_running_vm() {
    let server = TestServer::start();
    server.create_vm("a");
    server.create_vm("b");
    completed(&server, "/api/vms/b/start", json!({}));
    let mac = config(&server, "b")["macAddress"].clone();
    let (status, _) = refused(&server, "/api/vms/a/clone", json!({"new_name": "b"}));
    assert_eq!(status, 409);
    assert_eq!(config(&server, "b")["macAddress"], mac);
    completed(&server, "/api/vms/b/stop", json!({}));
}

#[test]
fn clone_a_local_vm_and_start_it() {
    let server = TestServer::start();
    server.create_vm("src");
    let done = completed(
        &server,
        "/api/vms/src/clone",
        json!({"new_name": "copy", "start_after_clone": true}),
    );
    assert_eq!(done["action"], "clone_vm");
    assert_eq!(done["vm_name"], "copy");
    assert_eq!(done["result"]["name"], "copy");
    // A Linux guest starts with tart's own VNC server: its URL proves the start; the IP
    // comes later (issue 12).
    let url = done["result"]["vnc_url"].as_str().unwrap_or_default();
    assert!(
        url.starts_with("vnc://:") && url.contains("@127.0.0.1:"),
        "{done}"
    );
    assert!(ran(&server, &["clone", "--", "src", "copy"]));
    eventually("the clone runs", || {
        (server.get("/api/vms/copy").json()["status"] == "running").then_some(())
    });
    completed(&server, "/api/vms/copy/stop", json!({}));
    let done = completed(
        &server,
        "/api/vms/ghcr.io%2Fcirruslabs%2Fdebian%3Alatest/clone",
        json!({"new_name": "deb"}),
    );
    assert_eq!(done["progress"], 100.0);
    assert!(ran(
        &server,
        &["clone", "--", "ghcr.io/cirruslabs/debian:latest", "deb"]
    ));
}

#[test]
fn categorized_available_images_and_active_tasks() {
    let server = TestServer::start();
    server.create_vm("vm");
    server.sim(&["pull", "ghcr.io/cirruslabs/ubuntu:latest"]);
    server.refresh();
    let cat = server.get("/api/vms/categorized").json();
    assert_eq!(cat["working_vms"][0]["name"], "vm");
    assert!(
        cat["base_images"]
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v["source"] == "oci")
    );
    assert_eq!(
        cat["base_images"].as_array().unwrap().len(),
        2,
        "tag and digest"
    );

    let images = server.get("/api/vms/available-images").json();
    let ubuntu = images
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "ubuntu")
        .unwrap();
    assert_eq!(ubuntu["url"], "ghcr.io/cirruslabs/ubuntu");
    assert_eq!(ubuntu["pulled"], true);
    assert!(
        ubuntu["tags"]
            .as_array()
            .unwrap()
            .contains(&json!("latest"))
    );
    assert!(ubuntu["description"].is_string() && ubuntu["updated_at"].is_string());
    let sequoia = images
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "macos-sequoia-base")
        .unwrap();
    assert_eq!(sequoia["pulled"], false);

    assert_eq!(server.get("/api/tasks/active").json(), json!([]));
    server.set_faults("hang pull");
    let task = server.start_pull("ghcr.io/cirruslabs/fedora:latest");
    let active = eventually("the pull is active", || {
        let a = server.get("/api/tasks/active").json();
        (a.as_array().unwrap().len() == 1).then_some(a)
    });
    assert_eq!(active[0]["id"], task.as_str());
}

/// Every name tart accepts works through create, settings and rename (api-next §1).
#[test]
fn names_with_spaces_and_unicode_go_through() {
    let server = TestServer::start();
    completed(
        &server,
        "/api/vms/create",
        json!({"name": "my vm (dev)", "os": "linux"}),
    );
    completed(
        &server,
        "/api/vms/my%20vm%20(dev)/settings",
        json!({"cpu": 2}),
    );
    completed(
        &server,
        "/api/vms/my%20vm%20(dev)/rename",
        json!({"new_name": "taart-ü-文"}),
    );
    assert!(ran(&server, &["rename", "--", "my vm (dev)", "taart-ü-文"]));
    assert_eq!(config(&server, "taart-ü-文")["cpuCount"], 2);
    let (status, _) = refused(&server, "/api/vms/create", json!({"name": "a/b"}));
    assert_eq!(status, 422);
    let (status, _) = refused(&server, "/api/vms/a%2Fb/rename", json!({"new_name": "c"}));
    assert_eq!(status, 404);
}

#[test]
fn every_vm_row_lists_the_actions_allowed_now() {
    let server = TestServer::start();
    server.create_vm("vm");
    server.sim(&["pull", "ghcr.io/cirruslabs/ubuntu:latest"]);
    let vms = server.refresh();
    let row = |name: &str| {
        vms.as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(
        row("vm")["actions"],
        json!(["start", "clone", "settings", "rename", "delete"])
    );
    assert_eq!(
        row("ghcr.io/cirruslabs/ubuntu:latest")["actions"],
        json!(["clone", "delete"])
    );
    completed(&server, "/api/vms/vm/start", json!({}));
    let vm = eventually("running with its actions", || {
        let vm = server.get("/api/vms/vm").json();
        (vm["status"] == "running").then_some(vm)
    });
    assert_eq!(vm["actions"], json!(["stop", "clone"]));
    completed(&server, "/api/vms/vm/stop", json!({}));
}
