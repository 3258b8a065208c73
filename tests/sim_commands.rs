//! tart-sim's lifecycle commands as the next server features use them (issue 13): prune's
//! ordering and budget rule, clone and rename replacing what tart replaces, `set`'s
//! in-place rewrite, suspend's snapshot, ASIF disks, registry login/logout, and names
//! with spaces, punctuation and any Unicode.

mod sim_support;

use std::io::Write;
use std::path::Path;
use std::process::Stdio;

use sim_support::{Sim, WATCHDOG, eventually, read, wait_output};

/// Sets the access date of a VM directory to `days` ago (what prune orders by).
fn age(dir: &Path, days: u32) {
    let status = std::process::Command::new("touch")
        .args(["-a", "-d", &format!("{days} days ago")])
        .arg(dir)
        .status()
        .unwrap();
    assert!(status.success());
}

/// Gives a VM's disk `mib` MiB of allocated blocks (what `--space-budget` counts).
fn allocate(sim: &Sim, name: &str, mib: u64) {
    let status = std::process::Command::new("fallocate")
        .args(["-l", &format!("{}", mib * 1024 * 1024)])
        .arg(sim.vm_dir(name).join("disk.img"))
        .status()
        .unwrap();
    assert!(status.success());
}

fn local_names(sim: &Sim) -> Vec<String> {
    sim.ok(&["list", "--source", "local", "-q"])
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn prune_budget_keeps_what_fits_newest_first() {
    let sim = Sim::new("budget");
    for name in ["old", "mid", "new"] {
        sim.ok(&["create", "--linux", "--disk-size", "2", name]);
    }
    // Newest is too large for a 1 GiB budget; the two older, smaller ones fit together.
    allocate(&sim, "new", 1200);
    allocate(&sim, "mid", 500);
    allocate(&sim, "old", 400);
    age(&sim.vm_dir("new"), 1);
    age(&sim.vm_dir("mid"), 2);
    age(&sim.vm_dir("old"), 3);
    sim.ok(&["prune", "--entries", "vms", "--space-budget", "1"]);
    assert_eq!(local_names(&sim), ["mid", "old"]);

    // Budget 0: every VM has some allocated bytes (config, NVRAM), so all go.
    sim.ok(&["create", "--linux", "small"]);
    sim.ok(&["prune", "--entries", "vms", "--space-budget", "0"]);
    assert!(local_names(&sim).is_empty());
}

#[test]
fn prune_by_age_removes_suspended_vms_never_running_ones() {
    let sim = Sim::new("age");
    sim.ok(&["create", "--from-ipsw", "latest", "sleeper"]);
    sim.ok(&["create", "--linux", "runner"]);
    sim.ok(&["create", "--linux", "fresh"]);
    let run = sim.spawn(&["run", "--no-graphics", "--suspendable", "sleeper"]);
    eventually("running", || {
        sim.state("sleeper").as_deref() == Some("running")
    });
    sim.ok(&["suspend", "sleeper"]);
    assert_eq!(run.wait().0, 0);
    let runner = sim.spawn(&["run", "--no-graphics", "runner"]);
    eventually("running", || {
        sim.state("runner").as_deref() == Some("running")
    });
    age(&sim.vm_dir("sleeper"), 10);
    age(&sim.vm_dir("runner"), 10);
    sim.ok(&["prune", "--entries", "vms", "--older-than", "7"]);
    assert_eq!(local_names(&sim), ["fresh", "runner"]);
    runner.signal("INT");
    assert_eq!(runner.wait().0, 0);
}

#[test]
fn clone_silently_replaces_even_a_running_vm() {
    let sim = Sim::new("replace");
    sim.ok(&["create", "--linux", "src"]);
    sim.ok(&["create", "--linux", "dst"]);
    let mut run = sim.spawn(&["run", "--no-graphics", "dst"]);
    eventually("running", || sim.state("dst").as_deref() == Some("running"));
    assert_eq!(sim.ok(&["clone", "src", "dst"]), "");
    // The old run holds the lock of a deleted inode: the new `dst` is stopped, the old
    // process runs on, and `stop` cannot reach it.
    assert_eq!(sim.state("dst").as_deref(), Some("stopped"));
    assert!(run.child.try_wait().unwrap().is_none());
    assert_eq!(sim.run(&["stop", "dst"]).code, 2);
    run.signal("INT");
    assert_eq!(run.wait().0, 0);
}

#[test]
fn rename_replaces_a_partial_directory_but_not_a_vm() {
    let sim = Sim::new("renamepart");
    sim.ok(&["create", "--linux", "a"]);
    std::fs::create_dir_all(sim.vm_dir("b")).unwrap();
    std::fs::write(sim.vm_dir("b").join("config.json"), "{}").unwrap();
    sim.ok(&["rename", "a", "b"]);
    assert_eq!(local_names(&sim), ["b"]);
    assert!(sim.vm_dir("b").join("disk.img").is_file());
}

#[test]
fn set_rewrites_config_in_place_and_a_reader_can_see_it_empty() {
    let mut sim = Sim::new("inplace");
    sim.ok(&["create", "--linux", "vm"]);
    let config = sim.vm_dir("vm").join("config.json");
    let inode = || std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&config).unwrap());
    let before = inode();
    sim.set("TART_SIM_CONFIG_WRITE_MS", "1000");
    let set = sim.spawn(&["set", "vm", "--cpu", "2", "--display", "800x600"]);
    eventually("config.json is empty mid-rewrite", || {
        read(&config).is_empty()
    });
    assert_eq!(set.wait().0, 0);
    let json: serde_json::Value = serde_json::from_str(&read(&config)).unwrap();
    assert_eq!(
        (json["cpuCount"].as_i64(), json["display"]["width"].as_i64()),
        (Some(2), Some(800))
    );
    assert_eq!(
        inode(),
        before,
        "same inode, so a running VM's lock survives"
    );
}

#[test]
fn suspend_takes_time_and_writes_the_memory_snapshot() {
    let mut sim = Sim::new("snapshot");
    sim.ok(&["create", "--from-ipsw", "latest", "mac"]);
    sim.set("TART_SIM_SUSPEND_MS", "2000");
    let run = sim.spawn(&["run", "--no-graphics", "--suspendable", "mac"]);
    eventually("running", || sim.state("mac").as_deref() == Some("running"));
    assert_eq!(sim.run(&["suspend", "mac"]).code, 0);
    // `suspend` returned at once; the VM is still running while the snapshot is written.
    assert_eq!(sim.state("mac").as_deref(), Some("running"));
    assert_eq!(run.wait().0, 0);
    assert_eq!(sim.state("mac").as_deref(), Some("suspended"));
    let snapshot = std::fs::metadata(sim.vm_dir("mac").join("state.vzvmsave")).unwrap();
    assert_eq!(
        snapshot.len(),
        4096 * 1024 * 1024,
        "as large as the guest's memory"
    );
}

/// `Disk` of `name` from `list --format json`.
fn listed_disk(sim: &Sim, name: &str) -> i64 {
    let json: serde_json::Value =
        serde_json::from_str(&sim.ok(&["list", "--format", "json"])).unwrap();
    json.as_array()
        .unwrap()
        .iter()
        .find(|vm| vm["Name"] == name)
        .unwrap()["Disk"]
        .as_i64()
        .unwrap()
}

#[test]
fn asif_disks_report_their_file_size_until_tart_2_36() {
    let mut sim = Sim::new("asif");
    let out = sim.run(&["create", "--linux", "--disk-format", "asif", "vm"]);
    assert_eq!(out.code, 64);
    assert!(
        out.stderr
            .starts_with("Error: Disk format 'asif' is not supported on this system.\n")
    );

    sim.set("TART_SIM_ASIF", "1");
    sim.ok(&[
        "create",
        "--linux",
        "--disk-format",
        "asif",
        "--disk-size",
        "60",
        "vm",
    ]);
    let get: serde_json::Value =
        serde_json::from_str(&sim.ok(&["get", "vm", "--format", "json"])).unwrap();
    assert_eq!(
        (get["DiskFormat"].as_str(), get["Disk"].as_i64()),
        (Some("asif"), Some(0))
    );
    assert_eq!(listed_disk(&sim, "vm"), 0);

    sim.set("TART_SIM_VERSION", "2.36.0");
    assert_eq!(listed_disk(&sim, "vm"), 60);
    let out = sim.run(&["set", "vm", "--disk-size", "40"]);
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (
            1,
            "New disk size of 40 GB should be larger than the current disk size of 60 GB\n"
        )
    );
    sim.ok(&["set", "vm", "--disk-size", "80"]);
    assert_eq!(listed_disk(&sim, "vm"), 80);
}

/// Runs `tart-sim login …` with `input` on stdin.
fn login(sim: &Sim, args: &[&str], input: &str) -> sim_support::Output {
    let mut child = sim
        .command(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A login that rejects its arguments exits before it reads stdin: writing to it then
    // fails with a broken pipe, which is not the test's concern (the exit code and stderr
    // below are). Any other write error is.
    let written = child.stdin.take().unwrap().write_all(input.as_bytes());
    if let Err(e) = written {
        assert_eq!(
            e.kind(),
            std::io::ErrorKind::BrokenPipe,
            "writing stdin: {e}"
        );
    }
    wait_output(child, WATCHDOG)
}

#[test]
fn login_reads_the_password_from_stdin_and_logout_forgets() {
    let mut sim = Sim::new("login");
    sim.set("TART_SIM_REGISTRY_PASSWORD", "s3cret");
    let credentials = sim.home.join(".sim/credentials");
    let args = ["login", "ghcr.io", "--username", "me", "--password-stdin"];
    let out = login(&sim, &args, "wrong\n");
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.starts_with("invalid credentials: AuthFailed("),
        "{out:?}"
    );
    assert_eq!(read(&credentials), "");

    let out = login(&sim, &args, "s3cret\n");
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (0, "", "")
    );
    assert_eq!(read(&credentials), "ghcr.io me\n");
    assert!(!read(&credentials).contains("s3cret"));

    let out = login(&sim, &["login", "ghcr.io", "--username", "me"], "");
    assert_eq!(out.code, 64);
    assert!(
        out.stderr
            .starts_with("Error: both --username and --password-stdin are required\n")
    );
    let out = login(
        &sim,
        &[
            "login",
            "https://ghcr.io",
            "--username",
            "me",
            "--password-stdin",
        ],
        "s3cret",
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("make sure that it doesn't start with http:// or https://")
    );

    sim.ok(&["logout", "ghcr.io"]);
    assert_eq!(read(&credentials), "");
    sim.ok(&["logout", "ghcr.io"]);
}

#[test]
fn names_with_spaces_punctuation_and_unicode_work_everywhere() {
    let mut sim = Sim::new("names");
    let names = [
        "my vm (dev)",
        "taart-ü-文",
        "Sonoma 14.5 — Xcode",
        ".hidden",
        "a:b'c\"d",
        "-dash",
    ];
    for name in names {
        sim.ok(&["create", "--linux", "--", name]);
    }
    let mut listed = local_names(&sim);
    listed.sort();
    let mut expected: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    expected.sort();
    assert_eq!(listed, expected);
    let json: serde_json::Value =
        serde_json::from_str(&sim.ok(&["list", "--format", "json"])).unwrap();
    assert_eq!(json.as_array().unwrap().len(), names.len());

    // A fault can single out a name with spaces.
    sim.set("TART_SIM_FAULT", "fail get:\"my vm (dev)\" 1 singled out");
    let out = sim.run(&["get", "--", "my vm (dev)"]);
    assert_eq!((out.code, out.stderr.as_str()), (1, "singled out\n"));
    sim.unset("TART_SIM_FAULT");

    let name = "Sonoma 14.5 — Xcode";
    let mut run = sim.spawn(&["run", "--vnc-experimental", "--no-graphics", "--", name]);
    run.wait_line(|l| l.starts_with("VNC server is running at"));
    assert_eq!(sim.state(name).as_deref(), Some("running"));
    assert!(
        sim.ok(&["ip", "--wait", "10", "--", name])
            .starts_with("192.168.64.")
    );
    sim.ok(&["stop", "--", name]);
    assert_eq!(run.wait().0, 0);
    sim.ok(&["set", "--cpu", "2", "--", name]);
    sim.ok(&["clone", "--", name, "kopie ü"]);
    sim.ok(&["rename", "--", "kopie ü", "-renamed"]);
    sim.ok(&["delete", "--", "-renamed", name]);
    assert!(!local_names(&sim).contains(&name.to_string()));
}
