//! Memory that stays bounded (issue 11, red team finding 4): a `tart run` that writes a
//! gigabyte of output. The server followed its log with `read_to_end` and one store lock
//! per line, and reached 12.7 GB RSS for 1.4 GB of output; the log file grew without end.

mod sec_support;
mod support;

use support::{TestServer, eventually};

/// Output the simulated `tart run` writes before it boots (1 GiB).
const SPEW_MIB: u64 = 1024;

/// Peak resident memory the server may reach meanwhile (64 MiB).
const MAX_PEAK_RSS_KIB: u64 = 64 * 1024;

/// `VmHWM` (peak resident set) from `/proc/<pid>/status`, in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

#[test]
fn a_gigabyte_of_tart_run_output_keeps_the_server_small_and_the_log_capped() {
    let server = TestServer::start();
    let pid = sec_support::pid(&server);
    server.create_vm("vm1");
    server.set_faults(&format!("spew run:vm1 {SPEW_MIB}\n"));
    let start = server.post("/api/vms/vm1/start", "{}");
    assert_eq!(start.status, 202, "{}", start.text());
    let task = server.wait_task(start.json()["id"].as_str().unwrap());
    assert_eq!(task["status"], "completed", "{task}");
    let logs = task["logs"].as_array().unwrap();
    let kept: usize = logs.iter().map(|l| l.as_str().unwrap().len()).sum();
    assert!(kept <= 64 * 1024, "{kept} log bytes kept");
    assert!(task["logs_dropped"].as_u64().unwrap() > 0);
    // The run log on disk is kept to its cap (16 MiB) while the VM runs.
    let log_dir = server.data_dir().join("logs");
    let log_size = || {
        std::fs::read_dir(&log_dir)
            .unwrap()
            .flatten()
            .map(|e| e.metadata().unwrap().len())
            .max()
            .unwrap_or(0)
    };
    eventually("the run log is back under its cap", || {
        (log_size() <= 16 * 1024 * 1024).then_some(())
    });
    // The API answered throughout, and the whole history is small.
    let list = server.get("/api/tasks");
    assert_eq!(list.status, 200);
    assert!(list.body.len() < 1024 * 1024, "{} bytes", list.body.len());
    let peak = peak_rss_kib(pid);
    assert!(
        peak < MAX_PEAK_RSS_KIB,
        "peak RSS {peak} KiB for {SPEW_MIB} MiB of tart run output"
    );
    eprintln!("peak RSS {peak} KiB for {SPEW_MIB} MiB of tart run output");
}

/// Regression (red team finding 6): a failing `tart list` had its whole stderr (up to
/// 4 MiB) copied raw to the server's stderr at every background refresh, terminal
/// escapes included (title, clear screen, clipboard).
#[test]
fn tarts_stderr_reaches_the_servers_stderr_capped_and_escaped() {
    let setup = support::Setup {
        args: vec!["--refresh-interval".into(), "1".into()],
        ..Default::default()
    };
    let server = TestServer::start_with(setup);
    let hostile = format!(
        "{} Error: \x1b]0;HACKED TITLE\x07\x1b[2J\x1b]52;c;ZWNobyBwd25lZA==\x07 boom",
        "noise ".repeat(400)
    );
    server.set_faults(&format!("fail list 1 {hostile}\n"));
    // The background refresh (every second here) logs its failures.
    let stderr = eventually("the failed refresh was logged", || {
        let stderr = server.stderr();
        stderr.contains("boom").then_some(stderr)
    });
    assert!(
        !stderr.contains('\x1b') && !stderr.contains('\x07'),
        "raw escapes"
    );
    assert!(stderr.contains("\\x1b]0;HACKED TITLE\\x07"), "{stderr}");
    let longest = stderr.lines().map(str::len).max().unwrap_or(0);
    assert!(longest < 2048, "a {longest}-byte line");
}
