//! `taartenfabriek --demo`: the simulator beside the binary, a seeded demo home, a live
//! inventory with macOS and Linux VMs (one running) and a pulled image.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use support::{TempDir, eventually};

#[test]
fn demo_serves_a_seeded_simulator() {
    let dir = TempDir::new("demo");
    let mut child = Command::new(support::server_bin())
        .args(["--demo", "--port", "0", "--data-dir"])
        .arg(dir.path().join("data"))
        .env("HOME", dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr: std::net::SocketAddr = line
        .trim()
        .strip_prefix("taartenfabriek listening on http://")
        .expect("URL line")
        .parse()
        .unwrap();
    let token = std::fs::read_to_string(dir.path().join("data/demo/token")).unwrap();
    let client = support::Client {
        addr,
        token: Some(token.trim().to_string()),
    };
    let vms = eventually("the demo VM is running with an IP", || {
        let vms = client.request("POST", "/api/vms/refresh", &[], None).json();
        let running = vms
            .as_array()?
            .iter()
            .any(|v| v["status"] == "running" && v["ip_address"].is_string());
        running.then_some(vms)
    });
    let vms = vms.as_array().unwrap();
    assert!(vms.iter().any(|v| v["os"] == "darwin"));
    assert!(vms.iter().any(|v| v["os"] == "linux"));
    assert!(vms.iter().any(|v| v["source"] == "oci"));
    // Not every VM alike (4 cores / 4 GB / 50 GB each made an unconvincing demo).
    let locals: Vec<_> = vms.iter().filter(|v| v["source"] == "local").collect();
    for field in ["cpu", "memory", "disk_size"] {
        let distinct: std::collections::BTreeSet<String> =
            locals.iter().map(|v| v[field].to_string()).collect();
        assert!(distinct.len() >= 3, "{field} varies: {distinct:?}");
    }
    assert_eq!(
        client.request("GET", "/api/tart/version", &[], None).json()["version"],
        "2.32.1"
    );
    let _ = child.kill();
    let _ = child.wait();
    // Stop the demo's running VM (its tart-sim run process).
    let home = dir.path().join("data/demo/tart-home");
    let _ = Command::new(support::sim_bin())
        .args(["stop", "--timeout", "0", "sequoia-base"])
        .env("TART_HOME", home)
        .status();
}
