//! tart-sim's host rules (issue 12): what a real Mac does around `tart run` that a server
//! must not be fooled by. The macOS guest limit and other failures after the lock, `stop`
//! during the `--vnc` wait, guests without a lease, DHCP pools that renumber, run out or
//! hand out one address twice, and progress printed at tart's cadence with retries.

mod sim_support;

use sim_support::{Sim, eventually};

/// Creates a macOS VM from the (simulated) latest IPSW.
fn create_macos(sim: &Sim, name: &str) {
    sim.ok(&["create", "--from-ipsw", "latest", name]);
}

#[test]
fn third_macos_guest_fails_after_taking_the_lock() {
    let mut sim = Sim::new("limit");
    for name in ["a", "b", "c"] {
        create_macos(&sim, name);
    }
    sim.ok(&["create", "--linux", "tux"]);
    let mut first = sim.spawn(&["run", "--vnc-experimental", "--no-graphics", "a"]);
    let mut second = sim.spawn(&["run", "--vnc-experimental", "--no-graphics", "b"]);
    first.wait_line(|l| l.starts_with("VNC server is running at"));
    second.wait_line(|l| l.starts_with("VNC server is running at"));

    // A long start makes the window visible: the third VM is "running" (locked) before
    // Virtualization.framework refuses it.
    sim.set("TART_SIM_START_MS", "1500");
    let third = sim.spawn(&["run", "--vnc-experimental", "--no-graphics", "c"]);
    eventually("the third VM holds its lock", || {
        sim.state("c").as_deref() == Some("running")
    });
    let (code, lines, stderr) = third.wait();
    assert_eq!(
        (code, stderr.as_str()),
        (
            1,
            "The number of VMs exceeds the system limit (other running VMs: a, b)\n"
        )
    );
    assert!(
        lines.is_empty(),
        "no VNC line for a VM that never started: {lines:?}"
    );
    assert_eq!(sim.state("c").as_deref(), Some("stopped"));

    // Linux guests do not count against the limit.
    sim.set("TART_SIM_START_MS", "50");
    let mut tux = sim.spawn(&["run", "--vnc-experimental", "--no-graphics", "tux"]);
    tux.wait_line(|l| l.starts_with("VNC server is running at"));

    // With the limit raised (a different host), the third macOS guest starts.
    sim.set("TART_SIM_MACOS_LIMIT", "3");
    let mut third = sim.spawn(&["run", "--vnc-experimental", "--no-graphics", "c"]);
    third.wait_line(|l| l.starts_with("VNC server is running at"));
    for run in [first, second, third, tux] {
        run.signal("INT");
        assert_eq!(run.wait().0, 0);
    }
}

#[test]
fn fail_after_lock_fault_ends_a_locked_run() {
    let mut sim = Sim::new("afterlock");
    sim.ok(&["create", "--linux", "vm"]);
    sim.set("TART_SIM_START_MS", "1500").set(
        "TART_SIM_FAULT",
        "fail-after-lock run:vm 1 Error Domain=VZErrorDomain Code=1 \"The virtual machine failed to start.\"",
    );
    let run = sim.spawn(&["run", "--vnc-experimental", "--no-graphics", "vm"]);
    eventually("the VM holds its lock", || {
        sim.state("vm").as_deref() == Some("running")
    });
    let (code, lines, stderr) = run.wait();
    assert_eq!(
        (code, stderr.as_str()),
        (
            1,
            "Error Domain=VZErrorDomain Code=1 \"The virtual machine failed to start.\"\n"
        )
    );
    assert!(lines.is_empty(), "{lines:?}");
    assert_eq!(sim.state("vm").as_deref(), Some("stopped"));
    // The rule only concerns `run`, and only after the lock: other commands are untouched.
    assert_eq!(sim.run(&["get", "vm"]).code, 0);
}

#[test]
fn stop_during_the_vnc_wait_is_a_cancellation_error() {
    let mut sim = Sim::new("cancel");
    // With an instant start, a VM seen running is already in the `--vnc` lease wait.
    sim.set("TART_SIM_NO_IP", "1").set("TART_SIM_START_MS", "0");
    sim.ok(&["create", "--linux", "vm"]);
    let run = sim.spawn(&["run", "--vnc", "--no-graphics", "vm"]);
    eventually("the VM is running", || {
        sim.state("vm").as_deref() == Some("running")
    });
    sim.ok(&["stop", "vm"]);
    let (code, lines, stderr) = run.wait();
    assert_eq!((code, stderr.as_str()), (1, "CancellationError()\n"));
    assert!(lines.is_empty(), "no \"Stopping VM...\": {lines:?}");
}

#[test]
fn linux_guests_without_a_lease_die_in_the_vnc_wait() {
    let mut sim = Sim::new("nolinuxip");
    sim.set("TART_SIM_NO_IP", "linux")
        .set("TART_SIM_VNC_TIMEOUT_MS", "300");
    sim.ok(&["create", "--linux", "tux"]);
    create_macos(&sim, "mac");
    let (code, lines, stderr) = sim.spawn(&["run", "--vnc", "--no-graphics", "tux"]).wait();
    assert_eq!((code, stderr.as_str()), (1, "IPNotFound()\n"));
    assert!(lines.is_empty(), "{lines:?}");
    assert_eq!(sim.state("tux").as_deref(), Some("stopped"));

    // --vnc-experimental needs no lease: the Linux guest keeps running.
    let mut tux = sim.spawn(&["run", "--vnc-experimental", "--no-graphics", "tux"]);
    tux.wait_line(|l| l.starts_with("VNC server is running at vnc://:"));
    assert_eq!(sim.run(&["ip", "tux", "--wait", "1"]).code, 1);

    // macOS guests still get a lease.
    sim.set("TART_SIM_VNC_TIMEOUT_MS", "5000");
    let mut mac = sim.spawn(&["run", "--vnc", "--no-graphics", "mac"]);
    mac.wait_line(|l| l.starts_with("VNC server is running at vnc://192.168.64."));
    for run in [tux, mac] {
        run.signal("INT");
        assert_eq!(run.wait().0, 0);
    }
}

/// The `ip` answer for `name`, or None.
fn ip_of(sim: &Sim, name: &str) -> Option<String> {
    let out = sim.run(&["ip", name]);
    (out.code == 0).then(|| out.stdout.trim_end().to_string())
}

#[test]
fn stale_lease_answers_for_a_stopped_and_a_renumbered_vm() {
    let mut sim = Sim::new("stale");
    sim.set("TART_SIM_LEASE_RENUMBER", "1");
    sim.ok(&["create", "--linux", "vm"]);
    let run = sim.spawn(&["run", "--no-graphics", "vm"]);
    let first = sim.ok(&["ip", "vm", "--wait", "10"]).trim_end().to_string();
    run.signal("INT");
    assert_eq!(run.wait().0, 0);
    // Stopped, but the unexpired lease still answers (tart does this for up to 24 h).
    assert_eq!(ip_of(&sim, "vm").as_deref(), Some(first.as_str()));

    // A new run that has not booted yet: running, and `ip` answers with the old lease.
    sim.set("TART_SIM_BOOT_MS", "1500");
    let run = sim.spawn(&["run", "--no-graphics", "vm"]);
    eventually("the VM is running", || {
        sim.state("vm").as_deref() == Some("running")
    });
    assert_eq!(ip_of(&sim, "vm").as_deref(), Some(first.as_str()));
    // Once booted, this run's own lease is a different address.
    eventually("this run's lease", || {
        ip_of(&sim, "vm").is_some_and(|ip| ip != first)
    });
    run.signal("INT");
    assert_eq!(run.wait().0, 0);
}

#[test]
fn an_exhausted_pool_leaves_a_guest_without_address_and_duplicates_share_one() {
    let mut sim = Sim::new("pool");
    sim.set("TART_SIM_LEASE_POOL", "1");
    sim.ok(&["create", "--linux", "one"]);
    sim.ok(&["create", "--linux", "two"]);
    let one = sim.spawn(&["run", "--no-graphics", "one"]);
    assert_eq!(sim.ok(&["ip", "one", "--wait", "10"]), "192.168.64.2\n");
    let two = sim.spawn(&["run", "--no-graphics", "two"]);
    eventually("the second VM is running", || {
        sim.state("two").as_deref() == Some("running")
    });
    // Running, booted, but the only address is leased to `one` for a day.
    let out = sim.run(&["ip", "two", "--wait", "1"]);
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (1, "no IP address found\n")
    );
    two.signal("INT");
    assert_eq!(two.wait().0, 0);

    // A lease file that hands out a held address: both VMs answer with the same IP.
    sim.set("TART_SIM_LEASE_DUPLICATE", "1");
    let two = sim.spawn(&["run", "--no-graphics", "two"]);
    assert_eq!(sim.ok(&["ip", "two", "--wait", "10"]), "192.168.64.2\n");
    assert_eq!(ip_of(&sim, "one").as_deref(), Some("192.168.64.2"));
    for run in [one, two] {
        run.signal("INT");
        assert_eq!(run.wait().0, 0);
    }
}

/// The percentage lines of `out`, as numbers.
fn percents(out: &str) -> Vec<u32> {
    out.lines()
        .filter_map(|l| l.strip_suffix('%')?.parse().ok())
        .collect()
}

#[test]
fn progress_at_most_once_a_second_and_restarted_by_retries() {
    let mut sim = Sim::new("progress");
    sim.set("TART_SIM_PULL_MS", "2500");
    let out = sim.ok(&["pull", "ghcr.io/org/img:v1"]);
    let shown = percents(&out);
    // 0% first, 100% last, strictly increasing, and far fewer than 101 lines: one a second
    // at most over a 2.5 s download (a loaded machine can only print fewer).
    assert_eq!(
        (shown.first(), shown.last()),
        (Some(&0), Some(&100)),
        "{out}"
    );
    assert!(shown.windows(2).all(|w| w[0] < w[1]), "{shown:?}");
    assert!(shown.len() <= 5, "{shown:?}");

    // Two failed attempts: each retry prints tart's message and a new `pulling disk` line,
    // and progress starts over at 0%.
    sim.set("TART_SIM_PULL_MS", "200")
        .set("TART_SIM_PULL_RETRIES", "2");
    let out = sim.ok(&["pull", "ghcr.io/org/img:v2"]);
    let lines: Vec<&str> = out.lines().collect();
    let retry =
        "Error pulling image: \"The network connection was lost.\", attempting to re-try...";
    assert_eq!(lines.iter().filter(|l| **l == retry).count(), 2, "{out}");
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with("pulling disk ("))
            .count(),
        3
    );
    assert_eq!(percents(&out).iter().filter(|p| **p == 0).count(), 3);
    assert_eq!(lines.last(), Some(&"pulling NVRAM..."));

    // Five failed attempts exhaust tart's retries: the pull fails, nothing is cached.
    sim.set("TART_SIM_PULL_RETRIES", "5");
    let out = sim.run(&["pull", "ghcr.io/org/img:v3"]);
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (1, "Error: The network connection was lost.\n")
    );
    assert!(!sim.ok(&["list", "-q"]).contains("img:v3"));
}

#[test]
fn create_from_ipsw_shows_two_progress_phases() {
    let sim = Sim::new("ipsw");
    let out = sim.ok(&["create", "--from-ipsw", "latest", "mac"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "Looking up the latest supported IPSW...");
    assert!(lines[1].starts_with("Fetching UniversalMac_") && lines[1].ends_with(".ipsw..."));
    let install = lines.iter().position(|l| *l == "Installing OS...").unwrap();
    assert_eq!(percents(&lines[2..install].join("\n")), [0, 100]);
    assert_eq!(percents(&lines[install..].join("\n")), [0, 100]);

    // The restore image is cached: the second create skips the download phase.
    let out = sim.ok(&["create", "--from-ipsw", "latest", "mac2"]);
    assert_eq!(
        out,
        "Looking up the latest supported IPSW...\nUsing cached *.ipsw file...\nInstalling OS...\n0%\n100%\n"
    );
}
