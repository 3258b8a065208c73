//! The API end to end: the real server on a real socket, tart-sim as `tart` in real
//! child processes, checked against `api-spec.md` and DESIGN.md's compatibility notes.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use serde_json::Value;
use support::{TestServer, eventually, ws_connect, ws_read_all};

/// The names in a list of VMs, in order.
fn vm_names(vms: &Value) -> Vec<&str> {
    vms.as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect()
}

fn assert_task_shape(task: &Value) {
    for field in ["id", "action", "status", "created_at", "updated_at", "logs"] {
        assert!(task.get(field).is_some(), "task lacks {field}: {task}");
    }
    for field in ["command", "exit_code", "result", "error", "stderr"] {
        assert!(
            task.as_object().unwrap().contains_key(field),
            "task lacks {field}: {task}"
        );
    }
    assert!(
        task["created_at"].is_f64() && task["updated_at"].is_f64(),
        "timestamps are floats: {task}"
    );
    assert!(task["logs"].is_array());
    assert!(
        ["pending", "running", "completed", "failed"].contains(&task["status"].as_str().unwrap())
    );
}

#[test]
fn health_and_tart_version() {
    let server = TestServer::start();
    let health = server.get("/api/health");
    assert_eq!(health.status, 200);
    // api-next §8 adds `backends`; without --orchard only the local one.
    assert_eq!(
        health.json(),
        serde_json::json!({"status": "ok", "version": env!("CARGO_PKG_VERSION"),
                           "backends": {"tart": "ok"}})
    );
    let version = server.get("/api/tart/version");
    assert_eq!(version.status, 200);
    assert_eq!(version.json(), serde_json::json!({"version": "2.32.1"}));
}

#[test]
fn tart_version_is_what_tart_printed_trimmed() {
    let mut setup = support::Setup::default();
    setup
        .env
        .push(("TART_SIM_VERSION".into(), "SNAPSHOT".into()));
    let server = TestServer::start_with(setup);
    assert_eq!(
        server.get("/api/tart/version").json()["version"],
        "SNAPSHOT"
    );
}

#[test]
fn missing_tart_is_a_503_and_the_server_keeps_serving() {
    let setup = support::Setup {
        tart: Some("/nonexistent/tart".into()),
        ..Default::default()
    };
    let server = TestServer::start_with(setup);
    let version = server.get("/api/tart/version");
    assert_eq!(version.status, 503);
    assert!(
        version
            .detail()
            .as_str()
            .unwrap()
            .contains("tart not found"),
        "{}",
        version.text()
    );
    assert_eq!(server.get("/api/vms").json(), serde_json::json!([]));
    let refresh = server.post("/api/vms/refresh", "{}");
    assert_eq!(refresh.status, 502);
    assert!(refresh.detail().as_str().unwrap().contains("tart"));
    assert_eq!(server.get("/api/health").status, 200);
}

#[test]
fn vm_list_refresh_and_fields() {
    let server = TestServer::start();
    server.create_vm("ubuntu");
    let out = server.sim(&["create", "--from-ipsw", "latest", "sequoia"]);
    assert!(out.status.success());
    let vms = server.refresh();
    let names = vm_names(&vms);
    assert_eq!(names, ["sequoia", "ubuntu"]);
    let ubuntu = &vms[1];
    assert_eq!(ubuntu["status"], "stopped");
    assert_eq!(ubuntu["source"], "local");
    assert_eq!(ubuntu["os"], "linux");
    assert_eq!(ubuntu["cpu"], 4);
    assert_eq!(ubuntu["memory"], "4G");
    assert_eq!(ubuntu["disk_size"], "50G");
    assert_eq!(ubuntu["display"], "1024x768");
    assert!(ubuntu["ip_address"].is_null());
    assert_eq!(vms[0]["os"], "darwin");
    // The cached list is what refresh returned.
    assert_eq!(server.get("/api/vms").json(), vms);
    // One VM by name.
    assert_eq!(server.get("/api/vms/ubuntu").json(), vms[1]);
    let missing = server.get("/api/vms/nope");
    assert_eq!(missing.status, 404);
    assert!(missing.detail().is_string());
}

#[test]
fn unknown_vm_is_found_after_an_implicit_refresh() {
    let server = TestServer::start();
    server.refresh();
    server.create_vm("late");
    assert_eq!(server.get("/api/vms/late").status, 200);
}

#[test]
fn refresh_reads_settings_from_config_json_without_tart_get() {
    // `tart get` bumps a VM's access date (which `tart prune --older-than` goes by), so
    // the refresh reads each VM's config.json instead, afresh every time.
    let server = TestServer::start();
    server.create_vm("ubuntu");
    let vms = server.refresh();
    assert_eq!(vms[0]["cpu"], 4);
    assert_eq!(vms[0]["memory"], "4G");
    let out = server.sim(&["set", "ubuntu", "--cpu", "6", "--display", "1920x1080px"]);
    assert!(out.status.success());
    let vms = server.refresh();
    assert_eq!(vms[0]["cpu"], 6);
    assert_eq!(vms[0]["display"], "1920x1080px");
    assert_eq!(vms[0]["os"], "linux");
    let ran: Vec<String> = server.invocations().iter().map(|a| a[0].clone()).collect();
    assert!(!ran.iter().any(|c| c == "get"), "{ran:?}");
}

#[test]
fn settings_come_from_tart_get_when_tart_keeps_its_vms_elsewhere() {
    // A `--tart` wrapper that runs tart with a home of its own: the home the server sees
    // holds another `ubuntu`, whose files must not be taken for tart's.
    let wrap = support::TempDir::new("wrap");
    let tarts_home = wrap.path().join("tarts-home");
    let wrapper = wrap.path().join("tart");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nTART_HOME='{}' exec '{}' \"$@\"\n",
            tarts_home.display(),
            support::sim_bin().display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let server = TestServer::start_with(support::Setup {
        tart: Some(wrapper.clone()),
        ..support::Setup::default()
    });
    server.create_vm("ubuntu"); // in the server's own home: 4 CPUs
    for args in [
        &["create", "--linux", "ubuntu"][..],
        &["set", "ubuntu", "--cpu", "6"],
        &["create", "--linux", "extra"],
    ] {
        let out = Command::new(&wrapper).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
    }
    let vms = server.refresh();
    let names = vm_names(&vms);
    assert_eq!(names, ["extra", "ubuntu"]);
    assert_eq!(vms[1]["cpu"], 6, "tart's ubuntu, not the other home's");
}

#[test]
fn a_cached_config_is_fetched_again_after_a_task_changed_the_vm() {
    let server = TestServer::start();
    server.create_vm("ubuntu");
    server.refresh();
    let before = server.get("/api/vms/ubuntu/config").json();
    assert_eq!(before["raw"]["State"], "stopped");
    let start = server.post("/api/vms/ubuntu/start", "{}").json();
    let done = server.wait_task(start["id"].as_str().unwrap());
    assert_eq!(done["status"], "completed", "{done}");
    // The refreshes after the task read config.json; the cached `tart get` is outdated.
    server.refresh();
    let after = server.get("/api/vms/ubuntu/config").json();
    assert_eq!(after["raw"]["State"], "running", "{after}");
}

#[test]
fn config_is_cached_and_force_refresh_refetches() {
    let server = TestServer::start();
    server.create_vm("ubuntu");
    server.refresh();
    let config = server.get("/api/vms/ubuntu/config");
    assert_eq!(config.status, 200, "{}", config.text());
    let config = config.json();
    assert_eq!(config["name"], "ubuntu");
    assert_eq!(config["cpu"], 4);
    assert_eq!(config["memory"], "4G");
    assert_eq!(config["disk_size"], "50G");
    assert_eq!(config["raw"]["OS"], "linux");
    assert_eq!(config["raw"]["Memory"], 4096);
    let gets = || {
        server
            .invocations()
            .iter()
            .filter(|a| a[0] == "get")
            .count()
    };
    let before = gets();
    assert_eq!(before, 1, "the first config request ran tart get");
    server.get("/api/vms/ubuntu/config");
    assert_eq!(gets(), before, "a cached config runs no tart get");
    let out = server.sim(&["set", "ubuntu", "--cpu", "6", "--memory", "8192"]);
    assert!(out.status.success());
    let fresh = server
        .get("/api/vms/ubuntu/config?force_refresh=true")
        .json();
    assert_eq!(gets(), before + 1);
    assert_eq!(fresh["cpu"], 6);
    assert_eq!(fresh["memory"], "8G");
    let bad = server.get("/api/vms/ubuntu/config?force_refresh=maybe");
    assert_eq!(bad.status, 422);
    assert_eq!(
        bad.detail()[0]["loc"],
        serde_json::json!(["query", "force_refresh"])
    );
    assert_eq!(server.get("/api/vms/nope/config").status, 404);
}

#[test]
fn start_stop_delete_lifecycle_with_exact_argv() {
    let server = TestServer::start();
    server.create_vm("ubuntu");
    // Screen Sharing, the seed's argv (a Linux guest would default to tart's own VNC
    // server; tests/start.rs covers the display modes).
    let start = server.post("/api/vms/ubuntu/start", r#"{"display":"screen-sharing"}"#);
    assert_eq!(start.status, 202, "{}", start.text());
    let task = start.json();
    assert_task_shape(&task);
    assert_eq!(task["action"], "start_vm");
    assert_eq!(task["vm_name"], "ubuntu");
    assert_eq!(
        start.header("Location").unwrap(),
        format!("/api/tasks/{}", task["id"].as_str().unwrap())
    );
    let done = server.wait_task(task["id"].as_str().unwrap());
    assert_eq!(done["status"], "completed", "{done}");
    let ip = done["result"]["ip_address"]
        .as_str()
        .expect("an IP")
        .to_string();
    assert!(ip.starts_with("192.168.64."));
    assert_eq!(done["result"]["vnc_url"], format!("vnc://{ip}"));
    assert!(done["result"]["message"].is_string());
    let sim = support::sim_bin().display().to_string();
    assert_eq!(
        done["command"],
        serde_json::json!([sim, "run", "--vnc", "--no-graphics", "--", "ubuntu"])
    );
    assert!(
        done["logs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l.as_str().unwrap().contains("VNC server is running"))
    );
    // The run log is in the data folder.
    let logs: Vec<_> = std::fs::read_dir(server.data_dir().join("logs"))
        .unwrap()
        .collect();
    assert_eq!(logs.len(), 1);

    let vm = eventually("the VM shows as running", || {
        let vm = server.get("/api/vms/ubuntu").json();
        (vm["status"] == "running").then_some(vm)
    });
    assert_eq!(vm["ip_address"], ip.as_str());

    // Refused while running: a second start, and delete.
    let again = server.post("/api/vms/ubuntu/start", "{}");
    assert_eq!(again.status, 409);
    let delete = server.post("/api/vms/ubuntu/delete", "{}");
    assert_eq!(delete.status, 409);
    assert!(delete.detail().as_str().unwrap().contains("stop it first"));

    let stop = server.post("/api/vms/ubuntu/stop", "{}").json();
    let stopped = server.wait_task(stop["id"].as_str().unwrap());
    assert_eq!(stopped["status"], "completed", "{stopped}");
    assert_eq!(stopped["exit_code"], 0);
    assert_eq!(
        stopped["command"],
        serde_json::json!([sim, "stop", "--timeout", "30", "--", "ubuntu"])
    );
    eventually("the VM shows as stopped", || {
        (server.get("/api/vms/ubuntu").json()["status"] == "stopped").then_some(())
    });

    let delete = server.post("/api/vms/ubuntu/delete", "{}").json();
    let deleted = server.wait_task(delete["id"].as_str().unwrap());
    assert_eq!(deleted["status"], "completed", "{deleted}");
    assert_eq!(
        deleted["command"],
        serde_json::json!([sim, "delete", "--", "ubuntu"])
    );
    assert_eq!(deleted["result"]["message"], "VM ubuntu deleted");
    assert_eq!(server.get("/api/vms/ubuntu").status, 404);
    assert!(!server.tart_home().join("vms/ubuntu").exists());
}

#[test]
fn stopping_a_stopped_vm_fails_the_task_with_tarts_message() {
    let server = TestServer::start();
    server.create_vm("ubuntu");
    let stop = server.post("/api/vms/ubuntu/stop", "{}").json();
    let task = server.wait_task(stop["id"].as_str().unwrap());
    assert_eq!(task["status"], "failed");
    assert_eq!(task["exit_code"], 2);
    assert_eq!(task["stderr"], "VM \"ubuntu\" is not running");
    assert!(
        task["error"].as_str().unwrap().contains("is not running"),
        "{task}"
    );
}

#[test]
fn stop_falls_back_when_timeout_is_an_unknown_option() {
    let server = TestServer::start();
    server.create_vm("old");
    server.set_faults("fail stop 64 Error: Unknown option '--timeout'\n");
    let stop = server.post("/api/vms/old/stop", "{}").json();
    let task = server.wait_task(stop["id"].as_str().unwrap());
    let stops: Vec<_> = server
        .invocations()
        .into_iter()
        .filter(|a| a[0] == "stop")
        .collect();
    assert_eq!(
        stops,
        vec![
            vec!["stop", "--timeout", "30", "--", "old"],
            vec!["stop", "--", "old"]
        ]
    );
    assert_eq!(task["status"], "failed"); // the fault fails the fallback too
}

#[test]
fn start_fails_with_exit_code_and_stderr_when_tart_run_exits() {
    let mut setup = support::Setup::default();
    setup.env.push(("TART_SIM_NO_IP".into(), "1".into()));
    setup
        .env
        .push(("TART_SIM_VNC_TIMEOUT_MS".into(), "300".into()));
    let server = TestServer::start_with(setup);
    server.create_vm("ubuntu");
    // `--vnc` ends a guest without a lease: what Screen Sharing does to a Linux guest.
    let start = server
        .post("/api/vms/ubuntu/start", r#"{"display":"screen-sharing"}"#)
        .json();
    let task = server.wait_task(start["id"].as_str().unwrap());
    assert_eq!(task["status"], "failed", "{task}");
    assert_eq!(task["exit_code"], 1);
    assert!(
        task["stderr"].as_str().unwrap().contains("IPNotFound()"),
        "{task}"
    );
    assert!(
        task["error"].as_str().unwrap().contains("IPNotFound()"),
        "{task}"
    );
    assert_eq!(server.get("/api/health").status, 200);
}

#[test]
fn pull_streams_progress_and_the_image_appears() {
    let server = TestServer::start();
    let pull = server.post(
        "/api/vms/pull",
        r#"{"oci_url":"ghcr.io/cirruslabs/macos-sequoia-base:latest"}"#,
    );
    assert_eq!(pull.status, 202, "{}", pull.text());
    let task = pull.json();
    assert_eq!(task["action"], "pull_vm");
    let done = server.wait_task(task["id"].as_str().unwrap());
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["progress"], 100.0);
    let logs: Vec<&str> = done["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert_eq!(
        logs[0],
        "pulling ghcr.io/cirruslabs/macos-sequoia-base:latest..."
    );
    assert!(logs.contains(&"100%"));
    assert!(
        logs.iter()
            .all(|l| !l.contains('\x1b') && !l.contains('\r'))
    );
    assert_eq!(
        done["result"]["image"],
        "ghcr.io/cirruslabs/macos-sequoia-base:latest"
    );
    let sim = support::sim_bin().display().to_string();
    assert_eq!(
        done["command"],
        serde_json::json!([
            sim,
            "pull",
            "--",
            "ghcr.io/cirruslabs/macos-sequoia-base:latest"
        ])
    );
    let vms = server.get("/api/vms").json();
    let images: Vec<&Value> = vms
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["source"] == "oci")
        .collect();
    assert_eq!(images.len(), 2, "{vms}"); // the tag and the digest rows
    assert!(
        images
            .iter()
            .any(|v| v["name"] == "ghcr.io/cirruslabs/macos-sequoia-base:latest")
    );
}

#[test]
fn pull_validation_errors_have_fastapis_shape_and_run_nothing() {
    let server = TestServer::start();
    let cases: [(&str, &str, Value); 5] = [
        ("{}", "missing", serde_json::json!(["body", "oci_url"])),
        (
            r#"{"oci_url": 5}"#,
            "string_type",
            serde_json::json!(["body", "oci_url"]),
        ),
        (
            r#"{"oci_url": "ubuntu"}"#,
            "value_error",
            serde_json::json!(["body", "oci_url"]),
        ),
        (
            r#"{"oci_url": "--help"}"#,
            "value_error",
            serde_json::json!(["body", "oci_url"]),
        ),
        ("[1]", "model_attributes_type", serde_json::json!(["body"])),
    ];
    for (body, kind, loc) in cases {
        let r = server.post("/api/vms/pull", body);
        assert_eq!(r.status, 422, "{body}: {}", r.text());
        let detail = r.detail();
        assert_eq!(detail[0]["type"], kind, "{body}");
        assert_eq!(detail[0]["loc"], loc, "{body}");
        assert!(detail[0]["msg"].is_string());
        assert!(detail[0].as_object().unwrap().contains_key("input"));
    }
    let missing = server.post("/api/vms/pull", r#"{"other": 1}"#).detail();
    assert_eq!(missing[0]["msg"], "Field required");
    assert_eq!(missing[0]["input"], serde_json::json!({"other": 1}));
    assert!(
        server.mutating_invocations().is_empty(),
        "{:?}",
        server.mutating_invocations()
    );
}

#[test]
fn failing_pull_fails_the_task_with_stderr_and_exit_code() {
    let server = TestServer::start();
    server.set_faults("fail pull 1 Error: UnexpectedHTTPStatusCode(when: \"pulling manifest\", code: 404, details: \"\")\n");
    let pull = server
        .post("/api/vms/pull", r#"{"oci_url":"ghcr.io/a/b:nope"}"#)
        .json();
    let task = server.wait_task(pull["id"].as_str().unwrap());
    assert_eq!(task["status"], "failed");
    assert_eq!(task["exit_code"], 1);
    assert!(
        task["stderr"]
            .as_str()
            .unwrap()
            .contains("UnexpectedHTTPStatusCode")
    );
    assert!(task["error"].as_str().unwrap().contains("code: 404"));
    assert_eq!(server.get("/api/health").status, 200);
}

#[test]
fn actions_on_unknown_or_invalid_vms() {
    let server = TestServer::start();
    for action in ["start", "stop", "delete"] {
        let r = server.post(&format!("/api/vms/nope/{action}"), "{}");
        assert_eq!(r.status, 404, "{action}: {}", r.text());
        // No VM can be named so (api-next.md §1): 404, and tart never runs.
        let r = server.post(&format!("/api/vms/-rf/{action}"), "{}");
        assert_eq!(r.status, 404, "{action}: {}", r.text());
    }
    assert!(server.mutating_invocations().is_empty());
}

#[test]
fn tasks_by_id_and_list() {
    let server = TestServer::start();
    server.create_vm("a");
    let stop = server.post("/api/vms/a/stop", "{}").json();
    let id = stop["id"].as_str().unwrap();
    let task = server.wait_task(id);
    assert_task_shape(&task);
    assert_eq!(server.get("/api/tasks").json()[0]["id"], id);
    let missing = server.get("/api/tasks/does-not-exist");
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.json(),
        serde_json::json!({"detail": "Task not found"})
    );
}

#[test]
fn actions_on_one_vm_run_in_order() {
    let server = TestServer::start();
    server.create_vm("a");
    server.set_faults("slow stop 300\n");
    let ids: Vec<String> = (0..3)
        .map(|_| {
            server.post("/api/vms/a/stop", "{}").json()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let tasks: Vec<Value> = ids.iter().map(|id| server.wait_task(id)).collect();
    let records = server.sim_records();
    let stop_pids: Vec<i64> = records
        .iter()
        .filter(|r| r["event"] == "start" && r["argv"][0] == "stop")
        .map(|r| r["pid"].as_i64().unwrap())
        .collect();
    assert_eq!(stop_pids.len(), 3);
    // Each stop started only after the previous one exited.
    for pair in stop_pids.windows(2) {
        let exit_of_first = records
            .iter()
            .position(|r| r["event"] == "exit" && r["pid"] == pair[0])
            .unwrap();
        let start_of_second = records
            .iter()
            .position(|r| r["event"] == "start" && r["pid"] == pair[1])
            .unwrap();
        assert!(exit_of_first < start_of_second);
    }
    for pair in tasks.windows(2) {
        assert!(pair[0]["updated_at"].as_f64() <= pair[1]["created_at"].as_f64().map(|c| c + 10.0));
    }
}

#[test]
fn websocket_streams_from_first_state_to_close() {
    let server = TestServer::start();
    let id = server.start_pull("ghcr.io/cirruslabs/ubuntu:latest");
    let id = id.as_str();
    let mut ws = ws_connect(
        server.addr,
        &format!("/ws/tasks/{id}?token={}", server.token),
    )
    .expect("upgrade");
    let (messages, close) = ws_read_all(&mut ws);
    assert_eq!(close, Some(1000), "normal close");
    assert!(
        messages.len() >= 2,
        "the first state and at least one change: {}",
        messages.len()
    );
    for m in &messages {
        assert_task_shape(m);
        assert_eq!(m["id"], id);
    }
    let last = messages.last().unwrap();
    assert_eq!(last["status"], "completed");
    assert_eq!(last["progress"], 100.0);
    // Progress never goes backwards across messages.
    let progress: Vec<f64> = messages
        .iter()
        .filter_map(|m| m["progress"].as_f64())
        .collect();
    assert!(progress.windows(2).all(|w| w[0] <= w[1]), "{progress:?}");

    // A subscriber that arrives after the end gets the final task and the close.
    let mut late = ws_connect(
        server.addr,
        &format!("/ws/tasks/{id}?token={}", server.token),
    )
    .expect("upgrade");
    let (messages, close) = ws_read_all(&mut late);
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["status"], "completed");
    assert_eq!(close, Some(1000));
}

#[test]
fn websocket_refusals_are_plain_http() {
    let server = TestServer::start();
    server.create_vm("a");
    let id = server.post("/api/vms/a/stop", "{}").json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        ws_connect(server.addr, &format!("/ws/tasks/{id}")).err(),
        Some(401)
    );
    assert_eq!(
        ws_connect(server.addr, &format!("/ws/tasks/{id}?token=wrong")).err(),
        Some(401)
    );
    assert_eq!(
        ws_connect(
            server.addr,
            &format!("/ws/tasks/nope?token={}", server.token)
        )
        .err(),
        Some(404)
    );
}

#[test]
fn unknown_paths_and_methods_answer_like_fastapi() {
    let server = TestServer::start();
    let r = server.get("/api/nope");
    assert_eq!(
        (r.status, r.json()),
        (404, serde_json::json!({"detail": "Not Found"}))
    );
    let r = server.client().request("DELETE", "/api/vms", &[], None);
    assert_eq!(
        (r.status, r.json()),
        (405, serde_json::json!({"detail": "Method Not Allowed"}))
    );
    let r = server
        .client()
        .request("GET", "/api/vms/refresh/extra/x", &[], None);
    assert_eq!(r.status, 404);
    assert_eq!(server.get("/nope.js").status, 404);
}

#[test]
fn ui_is_served_without_the_token_and_with_strict_headers() {
    let server = TestServer::start();
    let page = support::Client {
        addr: server.addr,
        token: None,
    }
    .request("GET", "/", &[], None);
    assert_eq!(page.status, 200);
    assert!(
        page.header("Content-Type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        !page.text().contains(&server.token),
        "the token is never in the page: the page takes it from the URL's fragment"
    );
    assert_eq!(page.header("Cache-Control"), Some("no-store"));
    let csp = page.header("Content-Security-Policy").unwrap();
    assert!(
        csp.contains("frame-ancestors 'none'")
            && csp.contains("script-src 'self'")
            && !csp.contains("unsafe-inline")
    );
    assert_eq!(page.header("X-Content-Type-Options"), Some("nosniff"));
    assert_eq!(page.header("Referrer-Policy"), Some("no-referrer"));
    for asset in ["/js/main.js", "/style.css", "/favicon.svg"] {
        let r = server.client().request("GET", asset, &[], None);
        assert_eq!(r.status, 200, "{asset}");
        assert!(!r.text().contains(&server.token));
    }
}

/// Every file under `www/` (the generated asset table) is served at its path, byte
/// for byte, with a content type by its extension; module scripts in folders too.
#[test]
fn every_file_of_www_is_served_with_its_content_type() {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let www = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("www");
    let mut files = Vec::new();
    walk(&www, &mut files);
    assert!(files.len() > 10, "the UI is split into modules");
    let server = TestServer::start();
    let mut served = 0;
    for file in files {
        let rel = file
            .strip_prefix(&www)
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        if rel == "index.html" || rel.rsplit('/').next().unwrap().starts_with('.') {
            continue;
        }
        // The console page has its own route, like index.html has `/`.
        let path = match rel.as_str() {
            "console.html" => "/console".to_string(),
            _ => format!("/{rel}"),
        };
        let r = server.client().request("GET", &path, &[], None);
        assert_eq!(r.status, 200, "{rel}");
        assert_eq!(r.body, std::fs::read(&file).unwrap(), "{rel}");
        let expected = match rel.rsplit_once('.').unwrap().1 {
            "js" => "text/javascript; charset=utf-8",
            "css" => "text/css; charset=utf-8",
            "svg" => "image/svg+xml",
            "html" => "text/html; charset=utf-8",
            other => panic!("{rel}: add the expected type of .{other} here"),
        };
        assert_eq!(r.header("Content-Type"), Some(expected), "{rel}");
        served += 1;
    }
    assert!(served > 10);
    // A path the table does not know, and one that tries to climb out of www/.
    for missing in ["/js/nope.js", "/js/../Cargo.toml", "/js%2Fmain.js/x"] {
        let r = server.client().request("GET", missing, &[], None);
        assert_eq!(r.status, 404, "{missing}");
    }
}

#[test]
fn curl_style_keep_alive_requests_share_a_connection() {
    use std::io::{BufReader, Write};
    let server = TestServer::start();
    let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
    stream.set_read_timeout(Some(support::IO_TIMEOUT)).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    for _ in 0..3 {
        let req = format!(
            "GET /api/vms HTTP/1.1\r\nHost: localhost:{}\r\nX-Local-Token: {}\r\n\r\n",
            server.port(),
            server.token
        );
        stream.write_all(req.as_bytes()).unwrap();
        let r = support::read_response(&mut reader).unwrap();
        assert_eq!(r.status, 200);
    }
}

#[test]
fn a_pulled_image_can_be_deleted_by_its_reference() {
    let server = TestServer::start();
    let out = server.sim(&["pull", "ghcr.io/cirruslabs/ubuntu:latest"]);
    assert!(out.status.success());
    server.refresh();
    let path = "/api/vms/ghcr.io%2Fcirruslabs%2Fubuntu%3Alatest";
    let image = server.get(path);
    assert_eq!(image.status, 200, "{}", image.text());
    assert_eq!(image.json()["source"], "oci");
    assert_eq!(
        server.get(&format!("{path}/config")).status,
        400,
        "config is for local VMs"
    );
    assert_eq!(
        server.post(&format!("{path}/start"), "{}").status,
        400,
        "an image cannot run"
    );
    let delete = server.post(&format!("{path}/delete"), "{}").json();
    let task = server.wait_task(delete["id"].as_str().unwrap());
    assert_eq!(task["status"], "completed", "{task}");
    let last = task["command"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last, "ghcr.io/cirruslabs/ubuntu:latest");
    // Regression: the message said "VM … deleted" for an image too.
    assert_eq!(
        task["result"]["message"],
        "Image ghcr.io/cirruslabs/ubuntu:latest deleted"
    );
    assert_eq!(server.get(path).status, 404);
}

#[test]
fn a_failed_refresh_keeps_the_last_good_inventory_and_says_why() {
    let server = TestServer::start();
    server.create_vm("ubuntu");
    let good = server.refresh();
    server.set_faults("fail list 1 Error: something broke\n");
    let failed = server.post("/api/vms/refresh", "{}");
    assert_eq!(failed.status, 502);
    let body = failed.json();
    assert!(
        body["detail"].as_str().unwrap().contains("something broke"),
        "{body}"
    );
    assert_eq!(body["vms"], good);
    assert_eq!(server.get("/api/vms").json(), good);
    server.set_faults("");
    server.refresh();
}

#[test]
fn websocket_with_new_lines_only_sends_each_line_once() {
    let server = TestServer::start();
    let id = server.start_pull("ghcr.io/cirruslabs/ubuntu:latest");
    let id = id.as_str();
    let path = format!("/ws/tasks/{id}?token={}&logs=new", server.token);
    let mut ws = ws_connect(server.addr, &path).expect("upgrade");
    let (messages, close) = ws_read_all(&mut ws);
    assert_eq!(close, Some(1000));
    let mut lines = Vec::new();
    for m in &messages {
        assert_task_shape(m);
        assert_eq!(
            m["logs_from"].as_u64().unwrap(),
            lines.len() as u64,
            "messages continue each other"
        );
        lines.extend(m["logs"].as_array().unwrap().iter().cloned());
    }
    let last = messages.last().unwrap();
    assert_eq!(last["status"], "completed");
    let task = server.get(&format!("/api/tasks/{id}")).json();
    assert_eq!(
        Value::Array(lines),
        task["logs"],
        "every line exactly once, in order"
    );
}
