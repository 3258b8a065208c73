//! Unit tests of [`super`]: refreshes racing task changes, and what the served JSON shows.

use super::*;
use crate::backend::tart::{CliRunner, LocalTart, Tart};
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

/// A `tart` whose `list` takes `list_ms` and shows VM `a`, running.
fn fake_tart(dir: &std::path::Path, list_ms: u64) -> (LocalTart, crossbeam_channel::Sender<()>) {
    let script = dir.join("tart");
    let body = format!(
        "#!/bin/sh\ncase \"$1\" in\n  list) sleep {}; echo '[{{\"Name\":\"a\",\"Source\":\"local\",\"State\":\"running\"}}]';;\n  get) echo '{{\"CPU\":4,\"Memory\":4096}}';;\n  ip) echo 192.168.64.9;;\nesac\n",
        list_ms as f64 / 1000.0
    );
    std::fs::write(&script, body).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (keep_open, cancel) = crossbeam_channel::bounded(0);
    // A home without VM folders: settings come from the fake's `get`.
    let home = vec![("TART_HOME".into(), dir.join("home").into_os_string())];
    let runner = CliRunner::new(script, "tart".into(), home, cancel);
    let tart = Tart::new(runner, Duration::from_secs(10));
    let timeouts = crate::config::Timeouts::default();
    (LocalTart::new(tart, timeouts, dir.join("logs")), keep_open)
}

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tf-inv-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_change_made_while_a_refresh_runs_survives_its_older_result() {
    // Regression: a task deleted a VM while a refresh's `tart list` (taken before the
    // delete) was running; the refresh then put the deleted VM back in the cache.
    let dir = temp_dir("replay");
    let (tart, _keep) = fake_tart(&dir, 300);
    let inventory = Inventory::new(Arc::new(EventHub::starting_after(0)), tart.capabilities());
    std::thread::scope(|s| {
        let refresh = s.spawn(|| inventory.refresh(&tart).is_ok());
        std::thread::sleep(Duration::from_millis(100)); // the list is under way
        inventory.apply("a", Change::Deleted);
        assert!(refresh.join().unwrap());
    });
    assert_eq!(
        inventory.vm("a"),
        None,
        "the delete outlives the older list"
    );
    assert_eq!(&*inventory.json(), b"[]");
    // A refresh that starts after the change sees tart's word again.
    assert!(inventory.refresh(&tart).is_ok());
    assert_eq!(inventory.vm("a").unwrap().status, "running");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn applied_changes_show_at_once_and_in_the_served_json() {
    let dir = temp_dir("apply");
    let (tart, _keep) = fake_tart(&dir, 0);
    let inventory = Inventory::new(Arc::new(EventHub::starting_after(0)), tart.capabilities());
    inventory.refresh(&tart).unwrap();
    let vm = inventory.vm("a").unwrap();
    assert_eq!(
        (vm.status, vm.ip_address.as_deref(), vm.memory.as_deref()),
        ("running", Some("192.168.64.9"), Some("4G"))
    );
    inventory.apply("a", Change::Stopped);
    let vm = inventory.vm("a").unwrap();
    assert_eq!((vm.status, vm.ip_address), ("stopped", None));
    let served: Value = serde_json::from_slice(&inventory.json()).unwrap();
    assert_eq!(served[0]["status"], "stopped");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sizes_are_labelled_as_the_api_shows_them() {
    assert_eq!(memory_label(8192), "8G");
    assert_eq!(memory_label(1536), "1536M");
    assert_eq!(memory_label(512), "512M");
    assert_eq!(disk_label(50), "50G");
}
