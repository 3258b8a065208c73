//! tart-sim's command-line surface against `shared/tart-cli.md`: exact bytes, streams and
//! exit codes of the samples (S1–S20), ArgumentParser errors, fault knobs and the
//! invocation log. Lifecycle tests with background `run` processes live in
//! `sim_lifecycle.rs`.

mod sim_support;

use std::time::{Duration, Instant};

use sim_support::{Sim, read};

const LIST_USAGE: &str = "Usage: tart list [--source <source>] [--format <format>] [--quiet]\n  See 'tart list --help' for more information.\n";
const ROOT_USAGE: &str = "Usage: tart <subcommand>\n  See 'tart --help' for more information.\n";

#[test]
fn version_prints_release_or_override() {
    let mut sim = Sim::new("version");
    let out = sim.run(&["--version"]);
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (0, "2.32.1\n", "")
    );
    sim.set("TART_SIM_VERSION", "SNAPSHOT");
    assert_eq!(sim.ok(&["--version"]), "SNAPSHOT\n");
}

#[test]
fn dash_v_is_an_unknown_option() {
    let out = Sim::new("dashv").run(&["-v"]);
    assert_eq!(out.code, 64);
    assert_eq!(
        out.stderr,
        format!("Error: Unknown option '-v'\n{ROOT_USAGE}")
    );
}

#[test]
fn help_goes_to_stdout_with_exit_0() {
    let sim = Sim::new("help");
    for args in [
        &[][..],
        &["--help"],
        &["help"],
        &["list", "--help"],
        &["help", "run"],
    ] {
        let out = sim.run(args);
        assert_eq!(out.code, 0, "{args:?}");
        assert!(out.stdout.contains("USAGE: tart"), "{args:?}: {out:?}");
        assert!(out.stderr.is_empty());
    }
}

#[test]
fn empty_list_in_every_format() {
    // S3: one empty line; nothing with -q; "[\n\n]\n" for JSON.
    let sim = Sim::new("emptylist");
    assert_eq!(sim.ok(&["list"]), "\n");
    assert_eq!(sim.ok(&["list", "-q"]), "");
    assert_eq!(sim.ok(&["list", "--quiet", "--format", "json"]), "");
    assert_eq!(sim.ok(&["list", "--format", "json"]), "[\n\n]\n");
    assert!(sim.home.join("cache").is_dir() && sim.home.join("tmp").is_dir());
}

#[test]
fn list_bad_format_is_s19() {
    let out = Sim::new("s19").run(&["list", "--format", "yaml"]);
    assert_eq!(out.code, 64);
    assert_eq!(out.stdout, "");
    assert_eq!(
        out.stderr,
        format!(
            "Error: The value 'yaml' is invalid for '--format <format>'. Please provide one of 'text' and 'json'.\nHelp:  --format <format>  Output format: text or json\n{LIST_USAGE}"
        )
    );
}

#[test]
fn argument_parser_errors() {
    let sim = Sim::new("argparse");
    let cases: &[(&[&str], &str)] = &[
        (
            &["list", "--source", "cloud"],
            "Error: 'cloud' is not a valid <source>\n",
        ),
        (&["list", "--foo"], "Error: Unknown option '--foo'\n"),
        (
            &["list", "--quiet=x"],
            "Error: The option '--quiet' does not take any value, but 'x' was specified.\n",
        ),
        (&["list", "extra"], "Error: Unexpected argument 'extra'\n"),
        (
            &["list", "a", "b"],
            "Error: 2 unexpected arguments: 'a', 'b'\n",
        ),
        (
            &["list", "--format"],
            "Error: Missing value for '--format <format>'\nHelp:  --format <format>  Output format: text or json\n",
        ),
    ];
    for (args, expected) in cases {
        let out = sim.run(args);
        assert_eq!(out.code, 64, "{args:?}");
        assert_eq!(out.stderr, format!("{expected}{LIST_USAGE}"), "{args:?}");
    }
    let out = sim.run(&["get"]);
    assert_eq!(out.code, 64);
    assert_eq!(
        out.stderr,
        "Error: Missing expected argument '<name>'\nUsage: tart get <name> [--format <format>]\n  See 'tart get --help' for more information.\n"
    );
    let out = sim.run(&["delete"]);
    assert!(
        out.stderr
            .starts_with("Error: Missing expected argument '<name> ...'\n")
    );
    let out = sim.run(&["ip", "x", "--resolver", "mdns"]);
    assert_eq!(out.code, 64);
    assert!(out.stderr.starts_with(
        "Error: The value 'mdns' is invalid for '--resolver <resolver>'. Please provide one of 'dhcp', 'arp' or 'agent'.\n"
    ));
    let out = sim.run(&["ip", "x", "--wait", "70000"]);
    assert_eq!(out.code, 64, "--wait is a UInt16: {out:?}");
    let out = sim.run(&["frobnicate"]);
    assert_eq!(out.code, 64);
    assert_eq!(
        out.stderr,
        format!("Error: Unexpected argument 'frobnicate'\n{ROOT_USAGE}")
    );
}

#[test]
fn missing_vm_is_exit_2_everywhere_but_run() {
    // S10 and S11.
    let sim = Sim::new("missing");
    let commands: &[&[&str]] = &[
        &["get", "nope"],
        &["ip", "nope"],
        &["set", "nope", "--cpu", "2"],
        &["stop", "nope"],
        &["delete", "nope"],
        &["suspend", "nope"],
        &["clone", "nope", "other"],
        &["exec", "nope", "true"],
    ];
    for args in commands {
        let out = sim.run(args);
        assert_eq!(out.code, 2, "{args:?}");
        assert_eq!(
            out.stderr, "the specified VM \"nope\" does not exist\n",
            "{args:?}"
        );
        assert_eq!(out.stdout, "");
    }
    let out = sim.run(&["run", "nope"]);
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        "Error: the specified VM \"nope\" does not exist\n"
    );
}

#[test]
fn fresh_linux_vm_get_text_and_json() {
    let sim = Sim::new("get");
    assert_eq!(sim.ok(&["create", "--linux", "ubuntu"]), "");
    // S6's layout for a stopped Linux VM: header padded with two trailing spaces.
    assert_eq!(
        sim.ok(&["get", "ubuntu"]),
        "OS    CPU Memory Disk DiskFormat Size  Display  State  \nlinux 4   4096   50   raw        0.000 1024x768 stopped\n"
    );
    // S7: values, and Apple's `"key" : value` style.
    let text = sim.ok(&["get", "ubuntu", "--format", "json"]);
    assert!(
        text.starts_with("{\n  \"") && text.ends_with("\n}\n"),
        "{text}"
    );
    assert!(text.contains("\"CPU\" : 4,") || text.contains("\"CPU\" : 4\n"));
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let expected = serde_json::json!({
        "DiskFormat": "raw", "CPU": 4, "Display": "1024x768", "OS": "linux", "Memory": 4096,
        "Running": false, "Size": "0.000", "State": "stopped", "Disk": 50
    });
    assert_eq!(json, expected);
    // The VM on disk: pretty config.json with memory in bytes, a sparse 50 GB disk.
    let config: serde_json::Value =
        serde_json::from_str(&read(&sim.vm_dir("ubuntu").join("config.json"))).unwrap();
    assert_eq!(config["memorySize"], 4_294_967_296u64);
    assert_eq!(config["os"], "linux");
    let disk = std::fs::metadata(sim.vm_dir("ubuntu").join("disk.img")).unwrap();
    assert_eq!(disk.len(), 50_000_000_000);
    use std::os::unix::fs::MetadataExt;
    assert!(disk.blocks() * 512 < 1_000_000, "disk.img must be sparse");
}

#[test]
fn list_text_table_padding() {
    let sim = Sim::new("table");
    sim.ok(&["create", "--linux", "b-vm"]);
    sim.ok(&["create", "--linux", "a", "--disk-size", "20"]);
    sim.ok(&["create", "--linux", "Zed"]);
    let text = sim.ok(&["list"]);
    let lines: Vec<&str> = text.strip_suffix('\n').unwrap().split('\n').collect();
    assert_eq!(lines.len(), 4);
    // Header: every column padded, State to 7 ("stopped") → two trailing spaces.
    assert!(
        lines[0].starts_with("Source Name Disk Size Accessed"),
        "{text}"
    );
    assert!(lines[0].ends_with("State  "), "{text:?}");
    // Inner lines keep their padding, the last one has none.
    let width = lines[0].len();
    assert!(lines[..3].iter().all(|l| l.len() == width), "{text:?}");
    assert!(!lines[3].ends_with(' '));
    // Code-point order: uppercase first.
    let names: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l[7..].split(' ').next().unwrap())
        .collect();
    assert_eq!(names, ["Zed", "a", "b-vm"]);
    assert_eq!(
        sim.ok(&["list", "--source", "local", "-q"]),
        "Zed\na\nb-vm\n"
    );
    assert_eq!(sim.ok(&["list", "--source", "oci"]), "\n");
    // Disk column: apparent GB.
    let a_row = lines.iter().find(|l| l.starts_with("local  a ")).unwrap();
    let disk_at = lines[0].find("Disk").unwrap();
    assert!(a_row[disk_at..].starts_with("20 "), "{a_row:?}");
}

#[test]
fn ip_of_stopped_vm_without_lease() {
    // S9, with a 50 ms retry knob instead of tart's 1 s.
    let sim = Sim::new("ip");
    sim.ok(&["create", "--linux", "ubuntu"]);
    let out = sim.run(&["ip", "ubuntu"]);
    assert_eq!((out.code, out.stdout.as_str()), (1, ""));
    assert_eq!(out.stderr, "no IP address found, is your VM running?\n");
    let out = sim.run(&["ip", "ubuntu", "--resolver", "agent"]);
    assert_eq!(
        out.stderr,
        "no IP address found, is your VM running? (also make sure that Guest agent for Tart is running inside of a VM)\n"
    );
    let out = sim.run(&["ip", "ubuntu", "--resolver", "arp"]);
    assert_eq!(
        out.stderr,
        "no IP address found, is your VM running? (not all Linux distributions are compatible with the ARP resolver)\n"
    );
}

#[test]
fn stop_and_suspend_of_stopped_vm() {
    // S12 and S20's suspend half.
    let sim = Sim::new("stopstopped");
    sim.ok(&["create", "--linux", "ubuntu"]);
    let out = sim.run(&["stop", "ubuntu"]);
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (2, "VM \"ubuntu\" is not running\n")
    );
    let out = sim.run(&["suspend", "ubuntu"]);
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (2, "VM \"VM \"ubuntu\" is not running\" is not running\n")
    );
}

#[test]
fn rename_errors_use_root_usage() {
    // S20.
    let sim = Sim::new("rename");
    sim.ok(&["create", "--linux", "ubuntu"]);
    sim.ok(&["create", "--linux", "sequoia-base"]);
    let out = sim.run(&["rename", "ubuntu", "sequoia-base"]);
    assert_eq!(out.code, 64);
    assert_eq!(
        out.stderr,
        format!(
            "Error: failed to rename VM ubuntu, target VM sequoia-base already exists, delete it first!\n{ROOT_USAGE}"
        )
    );
    let out = sim.run(&["rename", "ghost", "x"]);
    assert_eq!(
        out.stderr,
        format!("Error: failed to rename a non-existent local VM: ghost\n{ROOT_USAGE}")
    );
    let out = sim.run(&["rename", "ubuntu", "a/b"]);
    assert_eq!(out.code, 64);
    assert!(
        out.stderr.starts_with(
            "Error: a/b should be a local name\nUsage: tart rename <name> <new-name>\n"
        )
    );
}

#[test]
fn pull_reference_errors_and_local_short_circuit() {
    // S17.
    let sim = Sim::new("pullerr");
    for bad in [
        "ubuntu",
        "debian:latest",
        "https://ghcr.io/a/b",
        "ghcr.io/a/b@sha256:12",
    ] {
        let out = sim.run(&["pull", bad]);
        assert_eq!(out.code, 1, "{bad}");
        assert!(
            out.stderr.starts_with("failed to parse remote name: "),
            "{bad}: {out:?}"
        );
        assert!(out.stderr.ends_with(")\n"), "{bad}: {out:?}");
        assert_eq!(out.stdout, "");
    }
    sim.ok(&["create", "--linux", "ubuntu"]);
    assert_eq!(
        sim.ok(&["pull", "ubuntu"]),
        "\"ubuntu\" is a local image, nothing to pull here!\n"
    );
    let out = sim.run(&["pull", "ghcr.io/a/b", "--concurrency", "0"]);
    assert_eq!(out.code, 64);
    assert!(
        out.stderr
            .starts_with("Error: network concurrency cannot be less than 1\n")
    );
}

#[test]
fn create_validation() {
    let sim = Sim::new("createval");
    let out = sim.run(&["create", "x"]);
    assert_eq!(out.code, 64);
    assert!(out.stderr.starts_with(
        "Error: Please specify either a --from-ipsw or --linux option!\nUsage: tart create <name>"
    ));
    let out = sim.run(&["create", "x", "--linux", "--disk-format", "ASIF"]);
    assert_eq!(out.code, 64);
    assert!(
        out.stderr
            .starts_with("Error: Disk format 'asif' is not supported on this system.\n")
    );
    let out = sim.run(&["create", "a/b", "--linux"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.starts_with("Error: "));
}

#[test]
fn set_validation_and_effects() {
    let sim = Sim::new("set");
    sim.ok(&["create", "--linux", "vm"]);
    sim.ok(&[
        "set",
        "vm",
        "--cpu",
        "8",
        "--memory",
        "8192",
        "--display",
        "1920x1080px",
        "--disk-size",
        "60",
    ]);
    let get: serde_json::Value =
        serde_json::from_str(&sim.ok(&["get", "vm", "--format", "json"])).unwrap();
    assert_eq!(
        (get["CPU"].as_i64(), get["Memory"].as_i64()),
        (Some(8), Some(8192))
    );
    assert_eq!(
        (get["Display"].as_str(), get["Disk"].as_i64()),
        (Some("1920x1080px"), Some(60))
    );
    let out = sim.run(&["set", "vm", "--disk-size", "40"]);
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        "new disk size of 40 GB should be larger than the current disk size of 60 GB\n"
    );
    let out = sim.run(&["set", "vm", "--cpu", "0"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.starts_with(
        "Error: LessThanMinimalResourcesError: VM should have 1 CPU cores at minimum"
    ));
}

#[test]
fn prune_needs_a_criterion() {
    let sim = Sim::new("prune");
    let out = sim.run(&["prune"]);
    assert_eq!(out.code, 64);
    assert!(
        out.stderr
            .starts_with("Error: at least one pruning criteria must be specified\n")
    );
    let out = sim.run(&["prune", "--entries", "all", "--older-than", "1"]);
    assert_eq!(out.code, 64);
    assert_eq!(
        out.stderr,
        format!(
            "Error: unsupported --entries value, please specify either \"caches\" or \"vms\"\n{ROOT_USAGE}"
        )
    );
    sim.ok(&["create", "--linux", "old"]);
    sim.ok(&["prune", "--entries", "vms", "--space-budget", "0"]);
    assert_eq!(
        sim.ok(&["list", "-q"]),
        "",
        "a 0 GB budget prunes every stopped VM"
    );
}

#[test]
fn tmp_garbage_collection_spares_nothing_unlocked() {
    let sim = Sim::new("gc");
    sim.ok(&["list"]);
    let stale = sim.home.join("tmp").join("stale-entry");
    let fresh = sim.home.join("tmp").join("fresh-entry");
    std::fs::create_dir_all(&stale).unwrap();
    std::fs::create_dir_all(&fresh).unwrap();
    let an_hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::open(&stale)
        .unwrap()
        .set_modified(an_hour_ago)
        .unwrap();
    sim.ok(&["list"]);
    assert!(
        !stale.exists(),
        "list garbage-collects unlocked tmp/ entries"
    );
    // Unlike tart, a just-made entry is spared: it may be about to be locked.
    assert!(fresh.exists(), "entries younger than the GC grace stay");
}

#[test]
fn fault_fail_from_env_and_file_with_name_filter() {
    let mut sim = Sim::new("faultfail");
    sim.ok(&["create", "--linux", "a"]);
    sim.ok(&["create", "--linux", "b"]);
    sim.set(
        "TART_SIM_FAULT",
        "fail get:a 3 simulated failure for a; # comment only",
    );
    let out = sim.run(&["get", "a"]);
    assert_eq!(
        (out.code, out.stderr.as_str(), out.stdout.as_str()),
        (3, "simulated failure for a\n", "")
    );
    assert_eq!(sim.run(&["get", "b"]).code, 0);
    sim.unset("TART_SIM_FAULT");
    let file = sim.home.with_extension("faults");
    std::fs::write(&file, "# all lists fail\nfail list 1 Error: boom\n").unwrap();
    sim.set("TART_SIM_FAULTS", file.to_str().unwrap());
    let out = sim.run(&["list"]);
    assert_eq!((out.code, out.stderr.as_str()), (1, "Error: boom\n"));
    // The file is re-read on every invocation.
    std::fs::write(&file, "fail version 5 no version today\n").unwrap();
    assert_eq!(sim.run(&["list"]).code, 0);
    assert_eq!(sim.run(&["--version"]).code, 5);
    std::fs::write(&file, "fail * 7 everything fails\n").unwrap();
    assert_eq!(sim.run(&["ip", "a"]).code, 7);
    let _ = std::fs::remove_file(&file);
}

#[test]
fn fault_flood_then_normal_output() {
    let mut sim = Sim::new("flood");
    sim.set("TART_SIM_FAULT", "flood list 1000");
    let out = sim.run(&["list"]);
    assert_eq!(out.code, 0);
    assert_eq!(
        out.stdout.lines().count(),
        500 + 1,
        "500 flood lines plus the empty list"
    );
    assert_eq!(out.stderr.lines().count(), 500);
    assert!(out.stdout.ends_with("\n\n"));
    assert!(out.stdout.lines().next().unwrap().len() >= 90);
}

#[test]
fn fault_slow_and_latency_add_delay() {
    let mut sim = Sim::new("slow");
    sim.set("TART_SIM_FAULT", "slow list 300")
        .set("TART_SIM_LATENCY_MS", "200");
    let started = Instant::now();
    sim.ok(&["list"]);
    assert!(started.elapsed() >= Duration::from_millis(500));
}

#[test]
fn fault_hang_blocks_until_killed() {
    let mut sim = Sim::new("hang");
    sim.set("TART_SIM_FAULT", "hang get");
    let mut child = sim.command(&["get", "x"]).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "hang must not exit on its own"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn fault_grandchild_keeps_pipes_open_after_exit() {
    use std::io::Read;
    use std::process::Stdio;
    let mut sim = Sim::new("grandchild");
    sim.set("TART_SIM_FAULT", "grandchild list 2");
    let mut child = sim
        .command(&["list"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        let _ = tx.send(text);
    });
    sim_support::eventually("tart-sim exits", || child.try_wait().unwrap().is_some());
    // The simulator has exited, yet its stdout stays open while the grandchild lives.
    assert!(rx.recv_timeout(Duration::from_millis(500)).is_err());
    let text = rx
        .recv_timeout(sim_support::EVENTUALLY)
        .expect("EOF once the grandchild ends");
    assert_eq!(text, "\n");
}

#[test]
fn invocation_log_records_start_and_exit() {
    let mut sim = Sim::new("log");
    let log = sim.home.with_extension("log");
    sim.set("TART_SIM_LOG", log.to_str().unwrap())
        .set("MARKER", "42");
    sim.ok(&["list", "--quiet"]);
    assert_eq!(sim.run(&["get", "nope"]).code, 2);
    let records: Vec<serde_json::Value> = read(&log)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let _ = std::fs::remove_file(&log);
    assert_eq!(records.len(), 4);
    assert_eq!(records[0]["event"], "start");
    assert_eq!(records[0]["argv"], serde_json::json!(["list", "--quiet"]));
    assert_eq!(records[0]["env"]["MARKER"], "42");
    assert!(records[0]["cwd"].is_string() && records[0]["time"].is_f64());
    assert_eq!(records[1]["event"], "exit");
    assert_eq!(records[1]["exit"], 0);
    assert_eq!(records[1]["pid"], records[0]["pid"]);
    assert_eq!(records[3]["argv"], serde_json::json!(["get", "nope"]));
    assert_eq!(records[3]["exit"], 2);
}
