//! Changing VMs through the API (api-next §3) against tart-sim: settings, rename,
//! suspend, prune with its preview, registry login and logout, with every refusal, the
//! simulator's logged argv and the resulting state.

mod lifecycle_support;
mod support;

use lifecycle_support::*;
use serde_json::{Value, json};
use std::time::SystemTime;
use support::{Setup, TestServer, eventually};

#[test]
fn settings_change_a_stopped_vm_with_one_set() {
    let server = TestServer::start();
    server.create_vm("vm");
    // tart set drops displayRefit unless passed again: the server passes it.
    assert!(
        server
            .sim(&["set", "--display-refit", "vm"])
            .status
            .success()
    );
    let done = completed(
        &server,
        "/api/vms/vm/settings",
        json!({"cpu": 3, "memory": 6, "display": "1920x1080", "disk_size": 60,
               "random_mac": true}),
    );
    assert_eq!(done["action"], "set_vm");
    let sets: Vec<Vec<String>> = server
        .invocations()
        .into_iter()
        .filter(|a| a[0] == "set")
        .collect();
    assert_eq!(
        sets.last().unwrap(),
        &argv(&[
            "set",
            "--cpu",
            "3",
            "--memory",
            "6144",
            "--display",
            "1920x1080",
            "--display-refit",
            "--random-mac",
            "--disk-size",
            "60",
            "--",
            "vm"
        ])
    );
    let c = config(&server, "vm");
    assert_eq!(c["cpuCount"], 3);
    assert_eq!(c["displayRefit"], true);
    let vm = server.get("/api/vms/vm").json();
    assert_eq!(vm["cpu"], 3);
    assert_eq!(vm["memory"], "6G");
    assert_eq!(vm["display"], "1920x1080");
    let cfg = server.get("/api/vms/vm/config").json();
    assert_eq!(cfg["cpu"], 3, "the config cache shows the new values");

    let (status, _) = refused(&server, "/api/vms/vm/settings", json!({"disk_size": 40}));
    assert_eq!(status, 422, "the disk only grows");
    let (status, _) = refused(&server, "/api/vms/vm/settings", json!({}));
    assert_eq!(status, 422);
    let (status, _) = refused(&server, "/api/vms/vm/settings", json!({"display": "big"}));
    assert_eq!(status, 422);
    let (status, _) = refused(&server, "/api/vms/nope/settings", json!({"cpu": 2}));
    assert_eq!(status, 404);
    completed(&server, "/api/vms/vm/start", json!({}));
    let (status, reply) = refused(&server, "/api/vms/vm/settings", json!({"cpu": 2}));
    assert_eq!(status, 409);
    assert!(reply["detail"].as_str().unwrap().contains("running"));
    completed(&server, "/api/vms/vm/stop", json!({}));
}

/// The 409 comes from the VM's current state: a VM stopped behind the server's back is
/// changed, not refused from a stale cached "running".
#[test]
fn refusals_follow_the_current_state_not_the_cache() {
    let server = TestServer::start();
    server.create_vm("vm");
    completed(&server, "/api/vms/vm/start", json!({}));
    eventually("running in the list", || {
        (server.get("/api/vms/vm").json()["status"] == "running").then_some(())
    });
    assert!(server.sim(&["stop", "vm"]).status.success());
    completed(&server, "/api/vms/vm/settings", json!({"cpu": 5}));
}

#[test]
fn rename_a_stopped_vm_to_a_free_name() {
    let server = TestServer::start();
    server.create_vm("old");
    server.create_vm("taken");
    let done = completed(&server, "/api/vms/old/rename", json!({"new_name": "new"}));
    assert_eq!(done["action"], "rename_vm");
    assert_eq!(done["result"]["name"], "new");
    assert!(ran(&server, &["rename", "--", "old", "new"]));
    assert!(server.tart_home().join("vms/new/config.json").exists());
    assert_eq!(server.get("/api/vms/old").status, 404);
    assert_eq!(server.get("/api/vms/new").status, 200);

    let (status, _) = refused(&server, "/api/vms/new/rename", json!({"new_name": "taken"}));
    assert_eq!(status, 409);
    let (status, _) = refused(&server, "/api/vms/nope/rename", json!({"new_name": "x"}));
    assert_eq!(status, 404);
    let (status, _) = refused(&server, "/api/vms/new/rename", json!({"new_name": ".."}));
    assert_eq!(status, 422);
    completed(&server, "/api/vms/new/start", json!({}));
    let (status, _) = refused(&server, "/api/vms/new/rename", json!({"new_name": "x"}));
    assert_eq!(status, 409, "running");
    completed(&server, "/api/vms/new/stop", json!({}));
}

#[test]
fn suspend_refusals_say_why() {
    let server = TestServer::start();
    server.create_vm("lin");
    let (status, reply) = refused(&server, "/api/vms/lin/suspend", json!({}));
    assert_eq!(status, 409);
    assert!(reply["detail"].as_str().unwrap().contains("not running"));
    completed(&server, "/api/vms/lin/start", json!({}));
    let (status, reply) = refused(&server, "/api/vms/lin/suspend", json!({}));
    assert_eq!(status, 409);
    assert!(reply["detail"].as_str().unwrap().contains("macOS"));
    completed(&server, "/api/vms/lin/stop", json!({}));

    assert!(
        server
            .sim(&["create", "--from-ipsw", "latest", "mac"])
            .status
            .success()
    );
    completed(&server, "/api/vms/mac/start", json!({}));
    let (status, reply) = refused(&server, "/api/vms/mac/suspend", json!({}));
    assert_eq!(status, 409, "started without suspendable");
    assert!(reply["detail"].as_str().unwrap().contains("suspendable"));
    let (status, _) = refused(&server, "/api/vms/nope/suspend", json!({}));
    assert_eq!(status, 404);
    completed(&server, "/api/vms/mac/stop", json!({}));
}

/// The preview lists exactly what tart prune then removes, and the server's own reads
/// never count as an access.
#[test]
fn prune_preview_equals_what_tart_prune_removes() {
    let server = TestServer::start();
    for name in ["a", "b", "c", "run"] {
        server.create_vm(name);
    }
    completed(&server, "/api/vms/run/start", json!({}));
    let vms = server.tart_home().join("vms");
    set_accessed(&vms.join("a"), 40);
    set_accessed(&vms.join("b"), 10);
    set_accessed(&vms.join("run"), 90);
    let before: Vec<SystemTime> = ["a", "b", "c"]
        .iter()
        .map(|n| accessed(&vms.join(n)))
        .collect();

    let body = json!({"entries": "vms", "older_than_days": 7});
    let preview = server.post("/api/prune/preview", &body.to_string());
    assert_eq!(preview.status, 200, "{}", preview.text());
    let preview = preview.json();
    let names: Vec<&str> = preview["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a", "b"], "oldest first; the running VM never");
    assert_eq!(preview["entries"][0]["kind"], "vm");
    assert!(
        preview["entries"][0]["accessed"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    let total: u64 = preview["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["size_bytes"].as_u64().unwrap())
        .sum();
    assert_eq!(preview["total_bytes"], total);

    // Looking through the server is no access. (Not `/config`: the first edition
    // defines it as `tart get`, which tart counts as one.)
    server.refresh();
    server.get("/api/vms/a");
    server.get("/api/vms/categorized");
    server.get("/api/vms/available-images");
    server.post("/api/prune/preview", &body.to_string());
    let after: Vec<SystemTime> = ["a", "b", "c"]
        .iter()
        .map(|n| accessed(&vms.join(n)))
        .collect();
    assert_eq!(before, after);

    let done = completed(&server, "/api/prune", body);
    assert_eq!(done["action"], "prune");
    assert!(ran(
        &server,
        &["prune", "--entries", "vms", "--older-than", "7"]
    ));
    assert_eq!(done["result"]["removed"], preview["entries"]);
    assert_eq!(done["result"]["freed_bytes"], preview["total_bytes"]);
    assert!(!vms.join("a").exists() && !vms.join("b").exists());
    assert!(vms.join("c").exists() && vms.join("run").exists());
    assert_eq!(server.get("/api/vms/a").status, 404);

    // Caches: a budget of 0 takes every image and IPSW, as the preview says.
    server.sim(&["pull", "ghcr.io/cirruslabs/ubuntu:latest"]);
    server.sim(&["pull", "ghcr.io/cirruslabs/debian:latest"]);
    let ipsws = server.tart_home().join("cache/IPSWs");
    std::fs::create_dir_all(&ipsws).unwrap();
    std::fs::write(ipsws.join("x.ipsw"), b"restore image").unwrap();
    let body = json!({"entries": "caches", "space_budget_gb": 0});
    let preview = server.post("/api/prune/preview", &body.to_string()).json();
    assert_eq!(preview["entries"].as_array().unwrap().len(), 3, "{preview}");
    let done = completed(&server, "/api/prune", body);
    let mut removed = done["result"]["removed"].as_array().unwrap().clone();
    let mut expected = preview["entries"].as_array().unwrap().clone();
    let key = |v: &Value| v["name"].as_str().unwrap().to_string();
    removed.sort_by_key(key);
    expected.sort_by_key(key);
    assert_eq!(removed, expected);
    assert!(!ipsws.join("x.ipsw").exists());
    completed(&server, "/api/vms/run/stop", json!({}));
}

#[test]
fn prune_refusals() {
    let server = TestServer::start();
    for body in [
        json!({"entries": "vms"}),
        json!({"entries": "all", "older_than_days": 1}),
        json!({"older_than_days": 1}),
        json!({"entries": "vms", "older_than_days": -1}),
    ] {
        let (status, _) = refused(&server, "/api/prune/preview", body.clone());
        assert_eq!(status, 422, "{body}");
        let (status, _) = refused(&server, "/api/prune", body.clone());
        assert_eq!(status, 422, "{body}");
    }
}

/// The password reaches tart on stdin only: never in argv, the environment, the Task,
/// the journal, the server's output or its logs.
#[test]
fn login_passes_the_password_on_stdin_only() {
    let secret = "s3cret-Pa55-word";
    let mut setup = Setup::default();
    // tart-sim accepts only this password, read from its stdin.
    setup
        .env
        .push(("TART_SIM_REGISTRY_PASSWORD".into(), secret.into()));
    let server = TestServer::start_with(setup);
    let done = completed(
        &server,
        "/api/registries/login",
        json!({"host": "ghcr.io", "username": "me", "password": secret}),
    );
    assert_eq!(done["action"], "login");
    assert!(ran(
        &server,
        &[
            "login",
            "--username",
            "me",
            "--password-stdin",
            "--",
            "ghcr.io"
        ]
    ));
    let keychain = server.tart_home().join(".sim/credentials");
    assert_eq!(std::fs::read_to_string(&keychain).unwrap(), "ghcr.io me\n");
    let wrong = run(
        &server,
        "/api/registries/login",
        json!({"host": "ghcr.io", "username": "me", "password": "not-it"}),
    );
    assert_eq!(wrong["status"], "failed");
    assert!(
        wrong["error"]
            .as_str()
            .unwrap()
            .contains("invalid credentials"),
        "{wrong}"
    );
    for record in server.sim_records() {
        assert!(!record["argv"].to_string().contains(secret), "not in argv");
        let env = record["env"].as_object().cloned().unwrap_or_default();
        for (key, value) in env {
            // The test's own knob for the simulator holds it; nothing else may.
            if key != "TART_SIM_REGISTRY_PASSWORD" {
                assert!(!value.to_string().contains(secret), "not in ${key}");
            }
        }
    }
    assert!(!server.get("/api/tasks").text().contains(secret));
    assert!(!server.stderr().contains(secret));
    fn files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                files(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let mut data = Vec::new();
    files(&server.data_dir(), &mut data);
    assert!(data.iter().any(|p| p.ends_with("tasks.jsonl")));
    for path in data {
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(secret),
            "{} holds the password",
            path.display()
        );
    }
    // A bad body never echoes the password back.
    let reply = server.post(
        "/api/registries/login",
        &json!({"host": "not a host", "username": "me", "password": 42}).to_string(),
    );
    assert_eq!(reply.status, 422);
    assert!(!reply.text().contains("42"));

    let done = completed(
        &server,
        "/api/registries/logout",
        json!({"host": "ghcr.io"}),
    );
    assert_eq!(done["action"], "logout");
    assert!(ran(&server, &["logout", "--", "ghcr.io"]));
    assert_eq!(std::fs::read_to_string(&keychain).unwrap(), "");
    let (status, _) = refused(&server, "/api/registries/logout", json!({}));
    assert_eq!(status, 422);
}

#[test]
fn suspend_a_macos_vm_started_suspendable_and_resume_it() {
    let mut setup = Setup::default();
    setup.env.push(("TART_SIM_SUSPEND_MS".into(), "300".into()));
    let server = TestServer::start_with(setup);
    assert!(
        server
            .sim(&["create", "--from-ipsw", "latest", "mac"])
            .status
            .success()
    );
    let started = completed(&server, "/api/vms/mac/start", json!({"suspendable": true}));
    assert!(
        started["command"]
            .as_array()
            .unwrap()
            .contains(&json!("--suspendable")),
        "{started}"
    );
    let done = completed(&server, "/api/vms/mac/suspend", json!({}));
    assert_eq!(done["action"], "suspend_vm");
    assert!(ran(&server, &["suspend", "--", "mac"]));
    assert!(server.tart_home().join("vms/mac/state.vzvmsave").exists());
    let vm = server.get("/api/vms/mac").json();
    assert_eq!(vm["state"], "suspended", "{vm}");
    let (status, reply) = refused(&server, "/api/vms/mac/suspend", json!({}));
    assert_eq!(status, 409);
    assert!(
        reply["detail"]
            .as_str()
            .unwrap()
            .contains("already suspended")
    );
    let (status, _) = refused(&server, "/api/vms/mac/settings", json!({"cpu": 5}));
    assert_eq!(status, 409, "a new MAC or disk would break the snapshot");

    // Start resumes it; the resumed run can be suspended again.
    let resumed = completed(&server, "/api/vms/mac/start", json!({}));
    assert!(
        resumed["logs"]
            .to_string()
            .contains("restoring VM state from a snapshot"),
        "{resumed}"
    );
    eventually("running again", || {
        (server.get("/api/vms/mac").json()["status"] == "running").then_some(())
    });
    completed(&server, "/api/vms/mac/suspend", json!({}));
    completed(&server, "/api/vms/mac/stop", json!({}));
}
