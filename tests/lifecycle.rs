//! Making and changing VMs through the API (api-next §2–§3) against tart-sim: every
//! endpoint and refusal, the simulator's logged argv and the resulting state.

mod support;

use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use support::{Setup, TestServer, eventually};

fn accepted(server: &TestServer, path: &str, body: Value) -> Value {
    let reply = server.post(path, &body.to_string());
    assert_eq!(reply.status, 202, "{path} {body}: {}", reply.text());
    assert!(reply.header("Location").is_some());
    reply.json()
}

fn run(server: &TestServer, path: &str, body: Value) -> Value {
    let task = accepted(server, path, body);
    server.wait_task(task["id"].as_str().unwrap())
}

fn completed(server: &TestServer, path: &str, body: Value) -> Value {
    let done = run(server, path, body);
    assert_eq!(done["status"], "completed", "{done}");
    done
}

/// The status of a refused request, and that it ran no mutating tart command.
fn refused(server: &TestServer, path: &str, body: Value) -> (u16, Value) {
    let before = server.mutating_invocations().len();
    let reply = server.post(path, &body.to_string());
    assert_eq!(
        server.mutating_invocations().len(),
        before,
        "{path} {body} ran tart"
    );
    (reply.status, reply.json())
}

fn argv(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

fn ran(server: &TestServer, args: &[&str]) -> bool {
    server.invocations().contains(&argv(args))
}

fn config(server: &TestServer, name: &str) -> Value {
    let path = server
        .tart_home()
        .join("vms")
        .join(name)
        .join("config.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn set_accessed(path: &std::path::Path, days_ago: u64) {
    let when = SystemTime::now() - Duration::from_secs(days_ago * 86_400);
    let times = std::fs::FileTimes::new().set_accessed(when);
    std::fs::File::open(path).unwrap().set_times(times).unwrap();
}

fn accessed(path: &std::path::Path) -> SystemTime {
    std::fs::metadata(path).unwrap().accessed().unwrap()
}

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
    server.post("/api/vms/refresh", "{}");
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
fn categorized_available_images_and_active_tasks() {
    let server = TestServer::start();
    server.create_vm("vm");
    server.sim(&["pull", "ghcr.io/cirruslabs/ubuntu:latest"]);
    server.post("/api/vms/refresh", "{}");
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
    let vms = server.post("/api/vms/refresh", "{}").json();
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
