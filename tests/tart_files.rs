//! What the server reads of tart's own files and answers (issue 12): `Disk` as tart
//! reports it (ASIF disks), and `config.json` read safely while tart rewrites it in
//! place. Each test failed on the seed.

mod support;

use std::process::{Command, Stdio};

use support::{Setup, TestServer};

/// Regression: the disk size came from the files' apparent size, which for an ASIF disk
/// is the image file's (about 0 GB), not the 60 GB tart reports.
#[test]
fn the_disk_size_is_the_one_tart_lists() {
    let mut setup = Setup::default();
    for (k, v) in [("TART_SIM_ASIF", "1"), ("TART_SIM_VERSION", "2.36.0")] {
        setup.env.push((k.into(), v.into()));
    }
    let server = TestServer::start_with(setup);
    let out = Command::new(support::sim_bin())
        .args([
            "create",
            "--linux",
            "--disk-format",
            "asif",
            "--disk-size",
            "60",
            "vm",
        ])
        .env("TART_HOME", server.tart_home())
        .env("TART_SIM_ASIF", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let vms = server.refresh();
    let vm = &vms.as_array().unwrap()[0];
    assert_eq!(
        (vm["disk_format"].as_str(), vm["disk_size"].as_str()),
        (Some("asif"), Some("60G")),
        "{vm}"
    );
}

/// Regression: a refresh that met `config.json` mid-rewrite (tart truncates, then
/// writes) showed the VM with empty settings.
#[test]
fn a_config_being_rewritten_is_read_again() {
    let server = TestServer::start();
    server.create_vm("vm");
    for round in 0..5 {
        let cpu = (2 + round).to_string();
        let mut set = Command::new(support::sim_bin())
            .args(["set", "vm", "--cpu", &cpu])
            .env("TART_HOME", server.tart_home())
            .env("TART_SIM_CONFIG_WRITE_MS", "120")
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        // Refresh over and over while the file is rewritten: every answer has settings.
        loop {
            let done = set.try_wait().unwrap().is_some();
            let vms = server.refresh();
            let vm = &vms.as_array().unwrap()[0];
            assert!(
                vm["cpu"].is_u64() && vm["memory"].is_string(),
                "round {round}: {vm}"
            );
            if done {
                assert_eq!(vm["cpu"].as_u64(), Some(2 + round), "{vm}");
                break;
            }
        }
    }
}

/// Regression: without `TART_HOME` the server looked in `$HOME/.tart`, while tart uses
/// the user's home as Foundation finds it (`CFFIXED_USER_HOME`, the passwd entry, and
/// only then `$HOME`): it missed tart's files and ran `tart get` for every VM, which
/// bumps each VM's access date (what `tart prune --older-than` goes by).
#[test]
fn the_tart_home_is_found_as_tart_finds_it() {
    let user = support::TempDir::new("cf-home");
    let mut setup = Setup::default();
    setup.env.push(("TART_HOME".into(), String::new()));
    setup.env.push((
        "CFFIXED_USER_HOME".into(),
        user.path().display().to_string(),
    ));
    let server = TestServer::start_with(setup);
    let out = Command::new(support::sim_bin())
        .args(["create", "--linux", "vm"])
        .env("TART_HOME", "")
        .env("CFFIXED_USER_HOME", user.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(user.path().join(".tart/vms/vm/config.json").is_file());
    let vms = server.refresh();
    let vm = &vms.as_array().unwrap()[0];
    assert_eq!(
        (vm["name"].as_str(), vm["cpu"].as_u64()),
        (Some("vm"), Some(4)),
        "{vm}"
    );
    let gets: Vec<_> = server
        .invocations()
        .into_iter()
        .filter(|argv| argv.first().map(String::as_str) == Some("get"))
        .collect();
    assert!(
        gets.is_empty(),
        "settings came from tart's own files: {gets:?}"
    );
}
