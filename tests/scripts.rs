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
    let listed = stdout_json(&script(&server, "list", &["--json"]));
    assert_eq!(listed, refreshed);
    // Without --json: a table a person reads.
    let table = script(&server, "list", &[]);
    assert!(table.status.success());
    let table = String::from_utf8_lossy(&table.stdout).into_owned();
    let rows: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows[0],
        ["NAME", "STATUS", "IP", "CPU", "MEMORY", "DISK"],
        "{table}"
    );
    assert_eq!(rows[1][..2], ["ubuntu", "stopped"], "{table}");

    // A Linux guest gets tart's own VNC server: its URL, not (yet) an IP.
    let started = stdout_json(&script(&server, "start", &["ubuntu"]));
    assert_eq!(started["status"], "completed");
    assert!(started["result"]["vnc_url"].is_string());
    let stopped = stdout_json(&script(&server, "stop", &["ubuntu"]));
    assert_eq!(stopped["status"], "completed");
    let started = stdout_json(&script(&server, "start", &["ubuntu", "screen-sharing"]));
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
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("HTTP 422"), "{stderr}");
    // Regression: the message was cut at its first quote; now it comes whole.
    assert!(stderr.contains("oci_url: Value error, "), "{stderr}");
    assert!(
        !stderr.contains("\"loc\""),
        "readable, not the raw JSON: {stderr}"
    );
}

/// Runs a script with `input` on its stdin (not a terminal).
fn script_with_input(server: &TestServer, name: &str, args: &[&str], input: &str) -> Output {
    use std::io::Write;
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("scripts/api")
        .join(name);
    let mut child = Command::new(path)
        .args(args)
        .env("TARTVM_URL", format!("http://127.0.0.1:{}", server.port()))
        .env("TARTVM_DATA_DIR", server.data_dir())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run the script");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn lifecycle_scripts_do_their_actions() {
    let secret = "pa ss\"wo\\rd";
    let mut setup = support::Setup::default();
    // tart-sim accepts only this password: the script's stdin reached tart's.
    setup
        .env
        .push(("TART_SIM_REGISTRY_PASSWORD".into(), secret.into()));
    let server = TestServer::start_with(setup);
    let made = stdout_json(&script(
        &server,
        "create",
        &[
            "dev",
            "--from",
            "ghcr.io/cirruslabs/ubuntu:latest",
            "--cpu",
            "2",
            "--memory",
            "6",
        ],
    ));
    assert_eq!(made["status"], "completed");
    let cloned = stdout_json(&script(&server, "clone", &["dev", "dev2", "--start"]));
    assert!(cloned["result"]["vnc_url"].is_string(), "{cloned}");
    stdout_json(&script(&server, "stop", &["dev2"]));
    let set = stdout_json(&script(
        &server,
        "settings",
        &["dev", "--cpu", "3", "--display", "1280x800", "--random-mac"],
    ));
    assert_eq!(set["status"], "completed");
    let renamed = stdout_json(&script(&server, "rename", &["dev2", "dev-2"]));
    assert_eq!(renamed["status"], "completed");
    let out = script(&server, "suspend", &["dev"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("HTTP 409"));

    let preview = stdout_json(&script(
        &server,
        "prune",
        &["--entries", "vms", "--space-budget", "0"],
    ));
    assert_eq!(preview["entries"].as_array().unwrap().len(), 2);
    assert!(
        server.tart_home().join("vms/dev").exists(),
        "a preview removes nothing"
    );
    let pruned = stdout_json(&script(
        &server,
        "prune",
        &["--entries", "vms", "--space-budget", "0", "--yes"],
    ));
    assert_eq!(pruned["result"]["removed"], preview["entries"]);
    assert!(!server.tart_home().join("vms/dev").exists());

    let login = script_with_input(&server, "login", &["ghcr.io", "me"], &format!("{secret}\n"));
    let login = stdout_json(&login);
    assert_eq!(login["status"], "completed");
    let keychain = std::fs::read_to_string(server.tart_home().join(".sim/credentials")).unwrap();
    assert_eq!(keychain, "ghcr.io me\n");
    let out = stdout_json(&script(&server, "logout", &["ghcr.io"]));
    assert_eq!(out["status"], "completed");
}

/// Names with spaces and any Unicode go through the scripts as UTF-8 path segments.
#[test]
fn scripts_take_any_name_tart_accepts() {
    let server = TestServer::start();
    let name = "taart ü 文 (dev)";
    server.create_vm(name);
    let started = stdout_json(&script(&server, "start", &[name, "none"]));
    assert_eq!(started["status"], "completed");
    assert_eq!(started["vm_name"], name);
    let stopped = stdout_json(&script(&server, "stop", &[name]));
    assert_eq!(stopped["status"], "completed");
    let deleted = stdout_json(&script(&server, "delete", &[name]));
    assert_eq!(deleted["status"], "completed");
    assert!(!server.tart_home().join("vms").join(name).exists());
}
