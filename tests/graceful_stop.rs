//! The graceful stop (issue 12): `{"graceful": true}` asks the guest to shut down
//! (SIGUSR2 to its `tart run`) and falls back to `tart stop` after the timeout; the
//! default stays the seed's `tart stop --timeout 30`.

mod support;

use serde_json::Value;
use support::{Setup, TestServer};

fn run_log_lines(task: &Value) -> Vec<String> {
    task["logs"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l.as_str().map(str::to_string))
        .collect()
}

fn started(server: &TestServer, name: &str) {
    let reply = server.post(&format!("/api/vms/{name}/start"), r#"{"display":"vnc"}"#);
    let task = server.wait_task(reply.json()["id"].as_str().unwrap());
    assert_eq!(task["status"], "completed", "{task}");
}

fn stopped_by_tart_stop(server: &TestServer) -> bool {
    server
        .invocations()
        .iter()
        .any(|argv| argv.first().map(String::as_str) == Some("stop"))
}

#[test]
fn a_graceful_stop_asks_the_guest_and_a_plain_one_stays_tart_stop() {
    let server = TestServer::start();
    server.create_vm("vm");
    started(&server, "vm");
    let reply = server.post("/api/vms/vm/stop", r#"{"graceful": true, "timeout": 20}"#);
    assert_eq!(reply.status, 202, "{}", reply.text());
    let task = server.wait_task(reply.json()["id"].as_str().unwrap());
    assert_eq!(task["status"], "completed", "{task}");
    assert_eq!(task["result"]["graceful"], true);
    assert!(run_log_lines(&task)[0].starts_with("asked the guest to shut down (SIGUSR2"));
    assert!(!stopped_by_tart_stop(&server), "no tart stop was needed");
    assert_eq!(server.get("/api/vms/vm").json()["status"], "stopped");
    // The VM's own run log says what tart did.
    let logs = std::fs::read_dir(server.data_dir().join("logs")).unwrap();
    let text: String = logs
        .filter_map(|e| std::fs::read_to_string(e.unwrap().path()).ok())
        .collect();
    assert!(text.contains("Requesting guest OS to stop..."), "{text}");
    assert!(
        text.contains("guest has stopped the virtual machine"),
        "{text}"
    );

    // Without the option: the seed's tart stop.
    started(&server, "vm");
    let reply = server.post("/api/vms/vm/stop", "{}");
    let task = server.wait_task(reply.json()["id"].as_str().unwrap());
    assert_eq!(task["status"], "completed", "{task}");
    let sim = support::sim_bin().display().to_string();
    assert_eq!(
        task["command"],
        serde_json::json!([sim, "stop", "--timeout", "30", "--", "vm"])
    );

    for bad in [
        r#"{"graceful":"yes"}"#,
        r#"{"graceful":true,"timeout":0}"#,
        r#"{"graceful":true,"timeout":601}"#,
    ] {
        assert_eq!(server.post("/api/vms/vm/stop", bad).status, 422, "{bad}");
    }
}

#[test]
fn a_guest_that_does_not_go_is_stopped_with_tart_stop_after_the_timeout() {
    let mut setup = Setup::default();
    // A guest that ignores the request (a macOS guest showing a dialog).
    setup
        .env
        .push(("TART_SIM_GUEST_STOP_MS".into(), "600000".into()));
    let server = TestServer::start_with(setup);
    server.create_vm("vm");
    started(&server, "vm");
    let reply = server.post("/api/vms/vm/stop", r#"{"graceful": true, "timeout": 1}"#);
    let task = server.wait_task(reply.json()["id"].as_str().unwrap());
    assert_eq!(task["status"], "completed", "{task}");
    let lines = run_log_lines(&task);
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("the guest did not shut down within 1 s")),
        "{lines:?}"
    );
    assert!(stopped_by_tart_stop(&server));
    assert_eq!(server.get("/api/vms/vm").json()["status"], "stopped");
}
