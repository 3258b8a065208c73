//! Helpers shared by the `security_*` test files, on top of `tests/support`: a raw HTTP
//! request with exactly the headers a case names (nothing implicit but `Connection:
//! close`), a wait until the simulator is quiet, and readers of `/proc` for thread counts
//! and zombies.
#![allow(dead_code)] // each security test file uses a different part of this module.

use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::support::{IO_TIMEOUT, Response, TestServer, eventually, request_bytes, send_raw};

/// Sends `method path` with exactly `headers` (plus `Connection: close` and, with a body,
/// `Content-Length`) and reads the response.
pub fn raw(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Response {
    send_raw(addr, &request_bytes(method, path, headers, body))
}

/// `127.0.0.1:<port>`, the Host every well-behaved client sends.
pub fn host(server: &TestServer) -> String {
    format!("127.0.0.1:{}", server.port())
}

/// `http://127.0.0.1:<port>`, the server's own origin.
pub fn origin(server: &TestServer) -> String {
    format!("http://127.0.0.1:{}", server.port())
}

/// Waits until every simulator invocation that started has also exited, twice in a row
/// 100 ms apart, so a test's "nothing ran" baseline is not moved by a background refresh.
/// The startup refresh is waited for first: on a loaded machine its `tart --version` may
/// not even have started yet, and the simulator would look quiet before it.
pub fn quiet(server: &TestServer) -> usize {
    server.wait_startup_refresh();
    let mut last = usize::MAX;
    eventually("the simulator is quiet", || {
        let records = server.sim_records();
        let starts = records.iter().filter(|r| r["event"] == "start").count();
        let exits = records.iter().filter(|r| r["event"] == "exit").count();
        let stable = starts == exits && starts == last;
        last = starts;
        if stable {
            Some(starts)
        } else {
            std::thread::sleep(Duration::from_millis(100));
            None
        }
    })
}

/// The number of simulator invocations so far.
pub fn invocation_count(server: &TestServer) -> usize {
    server.invocations().len()
}

/// Asserts that tart-sim was not run since `baseline` (from [`quiet`]).
#[track_caller]
pub fn assert_nothing_ran(server: &TestServer, baseline: usize) {
    assert_eq!(
        invocation_count(server),
        baseline,
        "tart ran: {:?}",
        server.invocations()
    );
}

/// The server process id.
pub fn pid(server: &TestServer) -> u32 {
    server.child.as_ref().expect("server running").id()
}

/// `Threads:` from `/proc/<pid>/status`.
pub fn thread_count(pid: u32) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("Threads: line")
}

/// Children of `pid` (by `/proc/*/stat`'s ppid) with their state letter.
pub fn children(pid: u32) -> Vec<(u32, char)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        // pid (comm) state ppid ...; comm may contain spaces, so split after the last ')'.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next().and_then(|s| s.chars().next()).unwrap_or('?');
        let ppid: u32 = fields.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        if ppid == pid {
            out.push((child, state));
        }
    }
    out
}

/// Zombie children of `pid`.
pub fn zombies(pid: u32) -> Vec<u32> {
    children(pid)
        .into_iter()
        .filter(|&(_, s)| s == 'Z')
        .map(|(p, _)| p)
        .collect()
}

/// True if a process with this id exists (and is not a zombie).
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|s| s != "Z" && s != "X"),
        Err(_) => false,
    }
}

/// Polls `f` until it is true or `limit` passes; returns whether it became true.
pub fn within(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A raw WebSocket handshake for `path` with `headers` added; returns the HTTP response.
pub fn ws_handshake(
    server: &TestServer,
    path: &str,
    host: &str,
    extra: &[(&str, &str)],
) -> Response {
    let mut headers = vec![
        ("Host", host),
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Version", "13"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];
    headers.extend_from_slice(extra);
    // A 101 has no body; read_response returns after the headers.
    raw(server.addr, "GET", path, &headers, None)
}

/// Sends raw bytes and reads only the status line and headers; for answers whose body
/// never ends (an abandoned connection).
pub fn send_read_head(addr: SocketAddr, bytes: &[u8]) -> (u16, Vec<(String, String)>) {
    use std::io::BufRead;
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    stream.write_all(bytes).expect("send");
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).expect("status line");
    let status = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).expect("header");
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (n, v) = h.split_once(':').unwrap();
        headers.push((n.trim().to_string(), v.trim().to_string()));
    }
    (status, headers)
}

/// Kills every simulator process this server started that is still alive (a hung
/// `tart-sim` outlives a SIGKILLed server: it has its own process group).
pub fn kill_sim_leftovers(server: &TestServer) {
    kill_sim_leftovers_in(server.dir.path());
}

/// [`kill_sim_leftovers`] for a test home whose server was already killed.
pub fn kill_sim_leftovers_in(home: &std::path::Path) {
    let log = std::fs::read_to_string(home.join("sim.log")).unwrap_or_default();
    for record in log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
    {
        let Some(pid) = record["pid"].as_u64() else {
            continue;
        };
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if record["event"] == "start" && String::from_utf8_lossy(&cmdline).contains("tart-sim") {
            let _ = std::process::Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status();
        }
    }
}

/// SIGKILLs the server first (so no queued job starts another `tart`), then every
/// simulator process it left behind.
pub fn kill_then_clean(mut server: TestServer) {
    if let Some(mut child) = server.child.take() {
        let _ = child.kill();
        let _ = child.wait();
    }
    kill_sim_leftovers(&server);
}

/// A setup whose `tart` calls time out after `secs` seconds.
pub fn setup_with_timeout(secs: u64) -> crate::support::Setup {
    let mut setup = crate::support::Setup::default();
    setup
        .args
        .extend(["--tart-timeout".into(), secs.to_string()]);
    setup
}

/// Process ids whose command line is exactly `argv` (NUL-separated in /proc).
pub fn processes_with_cmdline(argv: &[&str]) -> Vec<u32> {
    let want: Vec<u8> = argv.iter().flat_map(|a| a.bytes().chain([0])).collect();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok())
        .filter(|pid| std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c == want))
        .filter(|&pid| alive(pid))
        .collect()
}
