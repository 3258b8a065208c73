//! The curl scripts in `scripts/api/` against a live server: what a user copies must work.

mod support;

use std::path::PathBuf;
use std::process::{Command, Output};

use support::TestServer;

fn script(server: &TestServer, name: &str, args: &[&str]) -> Output {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("scripts/api")
        .join(name);
    Command::new(path)
        .args(args)
        .env("TARTVM_URL", format!("http://127.0.0.1:{}", server.port()))
        .env("TARTVM_DATA_DIR", server.data_dir())
        .output()
        .expect("run the script (needs bash and curl)")
}

fn stdout_json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "script failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[test]
fn every_script_does_its_action() {
    let server = TestServer::start();
    server.create_vm("ubuntu");

    let refreshed = stdout_json(&script(&server, "refresh", &[]));
    assert_eq!(refreshed[0]["name"], "ubuntu");
    let listed = stdout_json(&script(&server, "list", &[]));
    assert_eq!(listed, refreshed);

    let started = stdout_json(&script(&server, "start", &["ubuntu"]));
    assert_eq!(started["status"], "completed");
    assert!(started["result"]["ip_address"].is_string());

    let stopped = stdout_json(&script(&server, "stop", &["ubuntu"]));
    assert_eq!(stopped["status"], "completed");

    let out = script(&server, "pull", &["ghcr.io/cirruslabs/ubuntu:latest"]);
    let pulled = stdout_json(&out);
    assert_eq!(pulled["status"], "completed");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("100%"),
        "progress is shown"
    );

    let deleted = stdout_json(&script(&server, "delete", &["ubuntu"]));
    assert_eq!(deleted["status"], "completed");
    assert!(!server.tart_home().join("vms/ubuntu").exists());
}

#[test]
fn scripts_fail_loudly() {
    let server = TestServer::start();
    let out = script(&server, "delete", &["nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("HTTP 404"));
    server.create_vm("ubuntu");
    let out = script(&server, "stop", &["ubuntu"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "stopping a stopped VM fails the task"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not running"));
    let out = script(&server, "pull", &["not a reference"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("HTTP 422"));
}
