//! tart-sim lifecycles with real background processes: run holds the config.json lock,
//! other commands see it, signals end the run process the way tart's does, pulls fill
//! the OCI cache, and clone/rename/set/suspend keep state consistent.

mod sim_support;

use sim_support::{Sim, eventually, read};

/// Whether a line is an IPv4 address in the simulated vmnet subnet.
fn is_vmnet_ip(text: &str) -> bool {
    text.strip_prefix("192.168.64.")
        .and_then(|n| n.parse::<u8>().ok())
        .is_some_and(|n| (2..=253).contains(&n))
}

#[test]
fn run_ip_refusals_stop_and_delete() {
    let sim = Sim::new("lifecycle");
    sim.ok(&["create", "--linux", "ubuntu"]);
    let run = sim.spawn(&["run", "--no-graphics", "ubuntu"]);
    eventually("VM is running", || {
        sim.state("ubuntu").as_deref() == Some("running")
    });

    // ip --wait sees the lease once the (200 ms) boot is over.
    let ip = sim.ok(&["ip", "ubuntu", "--wait", "10"]);
    assert!(is_vmnet_ip(ip.trim_end()), "{ip:?}");

    // S13: a second run is refused; S18: delete refused while running.
    let out = sim.run(&["run", "ubuntu"]);
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (2, "VM \"ubuntu\" is already running!\n")
    );
    let out = sim.run(&["delete", "ubuntu"]);
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (1, "VM \"ubuntu\" is running\n")
    );

    // get reports running, and `set` while running keeps the lock (in-place rewrite).
    assert!(sim.ok(&["get", "ubuntu"]).ends_with(" running\n"));
    sim.ok(&["set", "ubuntu", "--cpu", "6"]);
    assert_eq!(
        sim.state("ubuntu").as_deref(),
        Some("running"),
        "set must not drop run's lock"
    );

    // S12: stop prints nothing; the run process says "Stopping VM..." and exits 0.
    let out = sim.run(&["stop", "ubuntu"]);
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (0, "", "")
    );
    let (code, lines, stderr) = run.wait();
    assert_eq!(
        (code, lines, stderr),
        (0, vec!["Stopping VM...".to_string()], String::new())
    );
    assert_eq!(sim.state("ubuntu").as_deref(), Some("stopped"));

    // The deliberate lease quirk: a stopped VM still has its (unexpired) lease.
    assert_eq!(sim.ok(&["ip", "ubuntu"]), ip);

    sim.ok(&["delete", "ubuntu"]);
    assert_eq!(sim.run(&["get", "ubuntu"]).code, 2);
    assert!(!sim.vm_dir("ubuntu").exists());
}

#[test]
fn run_vnc_prints_url_once_booted() {
    // S14.
    let sim = Sim::new("vnc");
    sim.ok(&["create", "--linux", "vm"]);
    let mut run = sim.spawn(&["run", "--vnc", "--no-graphics", "vm"]);
    let line = run.wait_line(|l| l.starts_with("VNC server is running at vnc://"));
    let ip = line.trim_start_matches("VNC server is running at vnc://");
    assert!(is_vmnet_ip(ip), "{line}");
    assert_eq!(sim.ok(&["ip", "vm"]).trim_end(), ip);
    run.signal("INT");
    let (code, lines, _) = run.wait();
    assert_eq!(code, 0);
    assert_eq!(lines.last().map(String::as_str), Some("Stopping VM..."));
}

#[test]
fn run_vnc_without_ip_fails_with_ip_not_found() {
    let mut sim = Sim::new("noip");
    sim.set("TART_SIM_NO_IP", "1")
        .set("TART_SIM_VNC_TIMEOUT_MS", "300");
    sim.ok(&["create", "--linux", "vm"]);
    let (code, lines, stderr) = sim.spawn(&["run", "--vnc", "vm"]).wait();
    assert_eq!((code, stderr.as_str()), (1, "IPNotFound()\n"));
    assert!(lines.is_empty(), "{lines:?}");
    let out = sim.run(&["ip", "vm"]);
    assert_eq!(out.code, 1);
}

#[test]
fn run_vnc_experimental_and_opening_form() {
    // S15: without --no-graphics and without CI the URL is "opened".
    let mut sim = Sim::new("vncexp");
    sim.ok(&["create", "--linux", "vm"]);
    sim.unset("CI");
    let mut run = sim.spawn(&["run", "--vnc-experimental", "vm"]);
    let line = run.wait_line(|l| l.starts_with("Opening vnc://"));
    let url = line
        .strip_prefix("Opening vnc://:")
        .and_then(|u| u.strip_suffix("..."))
        .unwrap();
    let (password, port) = url.split_once("@127.0.0.1:").unwrap();
    assert_eq!(password.split('-').count(), 4, "{line}");
    assert!(password.chars().all(|c| c.is_ascii_lowercase() || c == '-'));
    assert!(port.parse::<u16>().unwrap() > 0);
    run.signal("TERM");
    assert_eq!(run.wait().0, 0);
}

#[test]
fn run_flag_validation() {
    let sim = Sim::new("runflags");
    sim.ok(&["create", "--linux", "vm"]);
    let out = sim.run(&["run", "vm", "--vnc", "--vnc-experimental"]);
    assert_eq!(out.code, 64);
    assert_eq!(
        out.stderr,
        "Error: --vnc and --vnc-experimental are mutually exclusive\nUsage: tart run [<options>] <name>\n  See 'tart run --help' for more information.\n"
    );
    let out = sim.run(&[
        "run",
        "vm",
        "--net-host",
        "--net-softnet-allow",
        "10.0.0.0/8",
    ]);
    assert_eq!(out.code, 64);
    assert!(out.stderr.starts_with(
        "Error: --net-bridged, --net-softnet and --net-host are mutually exclusive\n"
    ));
    let out = sim.run(&["run", "vm", "--suspendable"]);
    assert!(
        out.stderr
            .starts_with("Error: You can only suspend macOS VMs\n")
    );
    let out = sim.run(&["run", "vm", "--net-bridged", "en9"]);
    assert_eq!(out.code, 64);
    assert!(
        out.stderr.starts_with(
            "Error: no bridge interfaces matched \"[\"en9\"]\", available interfaces: ["
        )
    );
    assert!(
        out.stderr
            .ends_with("Usage: tart <subcommand>\n  See 'tart --help' for more information.\n")
    );
}

#[test]
fn sigusr2_is_a_graceful_guest_shutdown() {
    let sim = Sim::new("usr2");
    sim.ok(&["create", "--linux", "vm"]);
    let mut run = sim.spawn(&["run", "--no-graphics", "vm"]);
    eventually("running", || sim.state("vm").as_deref() == Some("running"));
    run.signal("USR2");
    run.wait_line(|l| l == "Requesting guest OS to stop...");
    let (code, lines, _) = run.wait();
    assert_eq!(code, 0);
    assert_eq!(
        lines.last().map(String::as_str),
        Some("guest has stopped the virtual machine")
    );
}

#[test]
fn run_exit_is_logged_on_sigint() {
    let mut sim = Sim::new("runlog");
    let log = sim.home.with_extension("log");
    sim.set("TART_SIM_LOG", log.to_str().unwrap());
    sim.ok(&["create", "--linux", "vm"]);
    let run = sim.spawn(&["run", "vm"]);
    eventually("running", || sim.state("vm").as_deref() == Some("running"));
    sim.ok(&["stop", "vm"]);
    assert_eq!(run.wait().0, 0);
    let text = read(&log);
    let _ = std::fs::remove_file(&log);
    let exit = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|r| r["event"] == "exit" && r["argv"][0] == "run")
        .expect("exit record of run");
    assert_eq!(exit["exit"], 0);
}

#[test]
fn pull_fills_the_cache_and_lists_two_oci_rows() {
    // S16 and the list rows after a tag pull.
    let sim = Sim::new("pull");
    let image = "ghcr.io/cirruslabs/macos-sequoia-base";
    let out = sim.ok(&["pull", image]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        &lines[..2],
        [
            format!("pulling {image}:latest...").as_str(),
            "pulling manifest..."
        ]
    );
    assert!(lines[2].starts_with("pulling disk (") && lines[2].ends_with(" GB compressed)..."));
    // A download faster than tart's one-second progress interval shows only both ends.
    assert_eq!(lines[3..], ["0%", "100%", "pulling NVRAM..."]);

    let rows = sim.ok(&["list", "--source", "oci", "--quiet"]);
    let rows: Vec<&str> = rows.lines().collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0], format!("{image}:latest"));
    let digest = rows[1].strip_prefix(&format!("{image}@sha256:")).unwrap();
    assert!(digest.len() == 64 && digest.chars().all(|c| c.is_ascii_hexdigit()));

    // JSON escapes slashes; both rows are OCI, stopped, same disk.
    let text = sim.ok(&["list", "--format", "json"]);
    assert!(text.contains("\"ghcr.io\\/cirruslabs\\/macos-sequoia-base:latest\""));
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    for row in json.as_array().unwrap() {
        assert_eq!(
            (row["Source"].as_str(), row["State"].as_str()),
            (Some("OCI"), Some("stopped"))
        );
        assert_eq!(row["Disk"], 50);
    }

    // Repeat: already cached and linked, with the same digest.
    let again = sim.ok(&["pull", image]);
    assert_eq!(
        again,
        format!(
            "pulling {image}:latest...\npulling manifest...\n{image}@sha256:{digest} image is already cached and linked!\n"
        )
    );

    // The cache layout: tag symlink → digest directory.
    let repo = sim
        .home
        .join("cache/OCIs/ghcr.io/cirruslabs/macos-sequoia-base");
    assert!(
        std::fs::symlink_metadata(repo.join("latest"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(
        repo.join(format!("sha256:{digest}"))
            .join("config.json")
            .is_file()
    );

    // Clone from the cache, then delete the tag (which also drops the orphaned digest).
    sim.ok(&["clone", &format!("{image}:latest"), "sequoia"]);
    assert_eq!(sim.state("sequoia").as_deref(), Some("stopped"));
    let get: serde_json::Value =
        serde_json::from_str(&sim.ok(&["get", "sequoia", "--format", "json"])).unwrap();
    assert_eq!(get["OS"], "darwin");
    sim.ok(&["delete", &format!("{image}:latest")]);
    assert_eq!(sim.ok(&["list", "--source", "oci", "-q"]), "");
    let out = sim.run(&["delete", &format!("{image}:latest")]);
    assert_eq!(out.code, 2);
}

#[test]
fn pull_progress_uses_ansi_rewrites_without_ci() {
    let mut sim = Sim::new("ansi");
    sim.unset("CI").set("TART_SIM_PROGRESS_MS", "0");
    let out = sim.ok(&["pull", "localhost:5000/team/ubuntu:22.04"]);
    assert!(out.starts_with("pulling localhost:5000/team/ubuntu:22.04...\npulling manifest...\n"));
    assert!(
        out.contains("compressed)...\n0%\n\x1b[1A\r\x1b["),
        "{out:?}"
    );
    assert!(out.ends_with("\x1b[1A\r\x1b[J100%\npulling NVRAM...\n"));
    // Percent-encoded host on disk, decoded in list.
    assert!(
        sim.home
            .join("cache/OCIs/localhost%3A5000/team/ubuntu/22.04")
            .exists()
    );
    assert!(
        sim.ok(&["list", "-q"])
            .starts_with("localhost:5000/team/ubuntu:22.04\n")
    );
    let cloned = sim.ok(&["clone", "localhost:5000/team/ubuntu:22.04", "u"]);
    assert_eq!(cloned, "");
}

#[test]
fn clone_of_uncached_image_pulls_first() {
    let sim = Sim::new("clonepull");
    let out = sim.ok(&["clone", "ghcr.io/org/img:v1", "copy"]);
    assert!(
        out.starts_with("pulling manifest...\n"),
        "no 'pulling <name>...' line: {out:?}"
    );
    assert!(out.ends_with("100%\npulling NVRAM...\n"));
    assert_eq!(sim.ok(&["list", "-q"]).lines().count(), 3);
}

#[test]
fn clone_rename_set_keep_state_consistent() {
    let sim = Sim::new("clone");
    sim.ok(&["create", "--linux", "base"]);
    sim.ok(&["clone", "base", "copy"]);
    let mac = |name: &str| {
        let config: serde_json::Value =
            serde_json::from_str(&read(&sim.vm_dir(name).join("config.json"))).unwrap();
        config["macAddress"].as_str().unwrap().to_string()
    };
    assert_ne!(mac("base"), mac("copy"), "a local clone gets a fresh MAC");
    sim.ok(&["rename", "copy", "renamed"]);
    assert_eq!(sim.ok(&["list", "-q"]), "base\nrenamed\n");
    sim.ok(&["set", "renamed", "--memory", "2048", "--display", "800x600"]);
    let get: serde_json::Value =
        serde_json::from_str(&sim.ok(&["get", "renamed", "--format", "json"])).unwrap();
    assert_eq!(
        (get["Memory"].as_i64(), get["Display"].as_str()),
        (Some(2048), Some("800x600"))
    );
    // clone replaces an existing VM of the same name.
    sim.ok(&["clone", "base", "renamed"]);
    let get: serde_json::Value =
        serde_json::from_str(&sim.ok(&["get", "renamed", "--format", "json"])).unwrap();
    assert_eq!(get["Memory"], 4096);
    let out = sim.run(&["clone", "base", "x/y"]);
    assert_eq!(out.code, 64);
    assert!(
        out.stderr
            .starts_with("Error: x/y should be a local name\n")
    );
}

#[test]
fn suspend_resume_and_discard() {
    let sim = Sim::new("suspend");
    let out = sim.ok(&["create", "--from-ipsw", "latest", "mac"]);
    assert!(out.starts_with("Looking up the latest supported IPSW...\nFetching UniversalMac_"));
    assert!(out.contains("\nInstalling OS...\n0%\n"));
    let again = sim.ok(&["create", "--from-ipsw", "latest", "mac"]);
    assert!(again.contains("Using cached *.ipsw file...\nInstalling OS...\n"));

    let run = sim.spawn(&["run", "--no-graphics", "--suspendable", "mac"]);
    eventually("running", || sim.state("mac").as_deref() == Some("running"));
    let out = sim.run(&["suspend", "mac"]);
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (0, "", "")
    );
    let (code, lines, _) = run.wait();
    assert_eq!(code, 0);
    assert_eq!(
        lines,
        [
            "pausing VM to take a snapshot...",
            "creating a snapshot...",
            "snapshot created successfully! shutting down the VM..."
        ]
    );
    assert_eq!(sim.state("mac").as_deref(), Some("suspended"));

    // Resume prints the restore lines; a suspended VM can also be stopped (discarded).
    let mut run = sim.spawn(&["run", "--no-graphics", "mac"]);
    run.wait_line(|l| l == "resuming VM...");
    assert_eq!(run.seen[0], "restoring VM state from a snapshot...");
    sim.ok(&["suspend", "mac"]);
    assert_eq!(run.wait().0, 0);
    assert_eq!(sim.state("mac").as_deref(), Some("suspended"));
    sim.ok(&["stop", "mac"]);
    assert_eq!(sim.state("mac").as_deref(), Some("stopped"));

    // Without --suspendable the suspend fails inside run: stdout message, exit 1.
    let run = sim.spawn(&["run", "--no-graphics", "mac"]);
    eventually("running", || sim.state("mac").as_deref() == Some("running"));
    sim.ok(&["suspend", "mac"]);
    let (code, lines, _) = run.wait();
    assert_eq!(code, 1);
    assert!(
        lines
            .last()
            .unwrap()
            .starts_with("Failed to suspend the VM: ")
    );
}

#[test]
fn concurrent_invocations_share_one_home() {
    let sim = Sim::new("concurrent");
    sim.ok(&["create", "--linux", "vm"]);
    let run = sim.spawn(&["run", "vm"]);
    let pulls: Vec<_> = (0..3)
        .map(|i| sim.spawn(&["pull", &format!("ghcr.io/org/img{i}:latest")]))
        .collect();
    for _ in 0..10 {
        let json: serde_json::Value =
            serde_json::from_str(&sim.ok(&["list", "--format", "json"])).unwrap();
        assert!(json.is_array());
    }
    for pull in pulls {
        assert_eq!(pull.wait().0, 0);
    }
    assert_eq!(
        sim.ok(&["list", "--source", "oci", "-q"]).lines().count(),
        6
    );
    sim.ok(&["stop", "vm"]);
    assert_eq!(run.wait().0, 0);
}

#[test]
fn stop_falls_back_to_sigkill_after_timeout() {
    // A SIGSTOPped run process holds its lock but cannot handle SIGINT, so `stop` must
    // give up after --timeout and SIGKILL it (and return at once, exit 0).
    let sim = Sim::new("sigkill");
    sim.ok(&["create", "--linux", "vm"]);
    let run = sim.spawn(&["run", "vm"]);
    eventually("running", || sim.state("vm").as_deref() == Some("running"));
    run.signal("STOP");
    let out = sim.run(&["stop", "vm", "--timeout", "1"]);
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (0, "", "")
    );
    let (code, lines, _) = run.wait();
    assert_eq!(code, -9, "killed by SIGKILL");
    assert!(lines.is_empty());
    eventually("lock released", || {
        sim.state("vm").as_deref() == Some("stopped")
    });
}

#[test]
fn delete_many_stops_at_first_error() {
    let sim = Sim::new("deletemany");
    for name in ["a", "b", "c"] {
        sim.ok(&["create", "--linux", name]);
    }
    let out = sim.run(&["delete", "a", "missing", "c"]);
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (2, "the specified VM \"missing\" does not exist\n")
    );
    assert_eq!(
        sim.ok(&["list", "-q"]),
        "b\nc\n",
        "earlier names stay deleted, later ones stay"
    );
    sim.ok(&["delete", "b", "c"]);
    assert_eq!(sim.ok(&["list", "-q"]), "");
}
