//! The performance benchmark (issue 6): starts the release server with the simulator in
//! a temporary world, measures it, measures a bare tiny_http baseline with the same load
//! generator in the same run, and prints one table. Run it with `scripts/bench`.
//!
//! The binary has three roles, chosen at start:
//! - the benchmark itself (the default);
//! - `baseline-server <payload-file>`: a bare tiny_http server with `TCP_NODELAY` that
//!   answers every request with the payload, in its own process like the real server;
//! - `baseline-fanout`: bare tiny_http + tungstenite forwarding the stand-in's lines to
//!   every WebSocket client, one thread per client like the real server;
//! - a `tart` stand-in when `BENCH_AS_TART` is set (the fan-out world): `pull` waits for
//!   a go file and then prints numbered, timestamped lines; every other command is
//!   handed to `tart-sim`.
//!
//! Every child it starts is killed and waited for on the way out (also on a panic), and
//! the temporary world is removed.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

// The parts of the run, one file each. Each says `use super::*`: the imports, constants
// and helpers named here are what they share.
mod baseline;
mod events;
mod fanout;
mod http;
mod inventory;
mod report;
mod standin;
mod system;
mod tasks;

use baseline::{baseline_fanout, baseline_server};
use http::*;
use report::*;
use standin::act_as_tart;
use system::*;

const SERVER_BIN: &str = env!("CARGO_BIN_EXE_taartenfabriek");
const SIM_BIN: &str = env!("CARGO_BIN_EXE_tart-sim");

/// VMs in the inventory world, and how many of them run.
const VMS: usize = 50;
const RUNNING: usize = 20;
/// Simulated per-call latency for the refresh figure.
const TART_LATENCY_MS: u64 = 200;
/// Fan-out: WebSocket clients and lines printed by the task's `tart`.
const WS_CLIENTS: usize = 100;
const WS_LINES: usize = 1_000;
/// Threads that drive the fan-out clients, each polling its share of the sockets. One per
/// client, as 100 browser tabs would be: with 2 or 4 threads polling all the sockets (as
/// `wrk` does), the clients got too small a share of the two cores next to the server's
/// 100 socket threads, and the p99 rose by a third to a half for ours and the baseline alike.
const WS_CLIENT_THREADS: usize = WS_CLIENTS;
/// Short tasks submitted at once, and the connections that submit them.
const SHORT_TASKS: usize = 200;
const SUBMITTERS: usize = 8;
/// Read timeout on every client socket: a hung server fails the run, never hangs it.
const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a WebSocket handshake may take before the client counts as refused.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

fn main() {
    if std::env::var_os("BENCH_AS_TART").is_some() {
        return act_as_tart();
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("baseline-server") {
        return baseline_server(Path::new(&args[1]));
    }
    if args.first().map(String::as_str) == Some("baseline-fanout") {
        return baseline_fanout();
    }
    let opts = Options::parse(&args);
    let mut bench = Bench::new(opts);
    let rows = bench.run();
    print_table(&rows);
}

// ---------------------------------------------------------------------------------------
// Options

struct Options {
    /// Seconds each load run measures (after a warm-up of a fifth of it).
    seconds: f64,
    /// Load runs per configuration; the best of them is reported, for both sides alike.
    rounds: usize,
    /// Fan-out rounds; the median is reported. More than for the load runs: a round's
    /// delays vary by up to a factor of two from one to the next.
    fanout_rounds: usize,
    /// Microseconds between the fan-out lines (0: as fast as tart can print them).
    line_interval_us: u64,
    /// Run only these parts, comma-separated (`inventory`, `fanout`, `tasks`, `events`,
    /// `scale`); all when empty.
    only: String,
}

impl Options {
    fn parse(args: &[String]) -> Options {
        let mut o = Options {
            seconds: 3.0,
            rounds: 3,
            fanout_rounds: 5,
            line_interval_us: 0,
            only: String::new(),
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let mut num = |name: &str| -> f64 {
                it.next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| panic!("{name} needs a number"))
            };
            match a.as_str() {
                "--seconds" => o.seconds = num("--seconds"),
                "--rounds" => o.rounds = num("--rounds") as usize,
                "--fanout-rounds" => o.fanout_rounds = num("--fanout-rounds") as usize,
                "--line-interval-us" => o.line_interval_us = num("--line-interval-us") as u64,
                "--only" => o.only = it.next().cloned().unwrap_or_default(),
                "--quick" => {
                    o.seconds = 1.0;
                    o.rounds = 1;
                    o.fanout_rounds = 1;
                }
                // `cargo bench` passes `--bench`; anything else is a typo worth knowing.
                "--bench" => {}
                other => panic!(
                    "unknown option {other:?} (--seconds S, --rounds N, --fanout-rounds N, --line-interval-us U, --only PART, --quick)"
                ),
            }
        }
        o
    }
}

/// Fields drop in order: the children are killed before their world is removed.
struct Bench {
    opts: Options,
    children: Children,
    dir: TempDir,
}

impl Bench {
    fn new(opts: Options) -> Bench {
        Bench {
            opts,
            children: Children::default(),
            dir: TempDir::new(),
        }
    }

    fn run(&mut self) -> Vec<Row> {
        let mut rows = Vec::new();
        eprintln!("bench: world in {}", self.dir.0.display());
        let part =
            |name: &str| self.opts.only.is_empty() || self.opts.only.split(',').any(|p| p == name);
        let (inventory, fanout, tasks) = (part("inventory"), part("fanout"), part("tasks"));
        let (events, scale) = (part("events"), part("scale"));
        if inventory {
            self.inventory_world(&mut rows);
        }
        if fanout {
            self.fan_out(&mut rows);
        }
        if tasks {
            self.short_tasks(&mut rows);
        }
        if events {
            self.event_fan_out(&mut rows);
        }
        if scale {
            self.scale(&mut rows);
        }
        rows.push(row(
            "release binary size",
            mib(std::fs::metadata(SERVER_BIN).map(|m| m.len()).unwrap_or(0)),
            "-",
            "-".into(),
            None,
        ));
        rows
    }

    fn start_server(&mut self, tag: &str, tart: &Path, env: &[(String, String)]) -> Started {
        let data = self.dir.0.join(format!("data-{tag}"));
        let stderr = std::fs::File::create(self.dir.0.join(format!("server-{tag}.log"))).unwrap();
        let t = Instant::now();
        // `BENCH_PERF=<tag>` profiles that server (e.g. `fanout`) into /tmp/perf.data.
        // Its memory and thread figures are then perf's, not the server's.
        let profiled = std::env::var("BENCH_PERF").is_ok_and(|t| t == tag);
        let mut cmd = if profiled {
            let mut c = Command::new("perf");
            c.args([
                "record",
                "-F",
                "9999",
                "-g",
                "-o",
                "/tmp/perf.data",
                "--",
                SERVER_BIN,
            ]);
            c
        } else {
            Command::new(SERVER_BIN)
        };
        cmd.args(["--port", "0", "--refresh-interval", "0", "--tart"])
            .arg(tart)
            .arg("--data-dir")
            .arg(&data)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr);
        let mut child = cmd.spawn().expect("start the server");
        let port = read_port(&mut child);
        let token = std::fs::read_to_string(data.join("token"))
            .unwrap()
            .trim()
            .to_string();
        wait_for_health(port, Some(&token));
        let startup = t.elapsed();
        let pid = child.id();
        if profiled {
            self.children.1 = Some(pid);
        }
        self.children.add(child);
        Started {
            pid,
            port,
            token,
            startup,
        }
    }

    fn start_baseline(&mut self, payload: &Path) -> Started {
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.arg("baseline-server").arg(payload);
        self.start_bare(cmd)
    }

    /// Starts the bare fan-out baseline, with the stand-in `tart` environment.
    fn start_fanout_baseline(&mut self, go: &Path, env: &[(String, String)]) -> Started {
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.arg("baseline-fanout")
            // The baseline itself is no stand-in; it sets that for the child it starts.
            .envs(
                env.iter()
                    .filter(|(k, _)| k != "BENCH_AS_TART")
                    .map(|(k, v)| (k, v)),
            )
            .env("BENCH_GO_FILE", go);
        self.start_bare(cmd)
    }

    /// Starts a baseline process and waits until it answers.
    fn start_bare(&mut self, mut cmd: Command) -> Started {
        let t = Instant::now();
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start a baseline");
        let port = read_port(&mut child);
        wait_for_health(port, None);
        let startup = t.elapsed();
        let pid = child.id();
        self.children.add(child);
        Started {
            pid,
            port,
            token: String::new(),
            startup,
        }
    }

    fn stop(&mut self, started: Started) {
        self.children.kill(started.pid);
    }
}

struct Started {
    pid: u32,
    port: u16,
    token: String,
    startup: Duration,
}

/// Reads `... listening on http://127.0.0.1:<port>` from the child's first stdout line.
fn read_port(child: &mut Child) -> u16 {
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    line.trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"))
}

fn wait_for_health(port: u16, token: Option<&str>) {
    let req = request_bytes(port, "GET", "/api/health", token, None);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(mut c) = Conn::try_open(port)
            && c.raw(&req).is_ok_and(|(status, _)| status == 200)
        {
            return;
        }
        assert!(Instant::now() < deadline, "no health answer in 10 s");
        std::thread::sleep(Duration::from_micros(200));
    }
}
