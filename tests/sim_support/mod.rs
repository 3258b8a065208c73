//! Shared helpers for the tart-sim integration tests: a fresh `TART_HOME` per test, fast
//! knob values, child processes with a watchdog, and "eventually" polling.
//!
//! Every wait here is bounded: a hung simulator fails the test instead of hanging CI.

#![allow(dead_code)] // Each test binary uses a different subset of these helpers.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

/// Upper bound for any single simulator invocation in these tests.
pub const WATCHDOG: Duration = Duration::from_secs(30);

/// Generous bound for "eventually" conditions (state flips, leases, exits).
pub const EVENTUALLY: Duration = Duration::from_secs(15);

/// Knobs that would make a test slow or flaky, removed from the inherited environment.
const SCRUBBED: &[&str] = &[
    "TART_SIM_LATENCY_MS",
    "TART_SIM_BOOT_MS",
    "TART_SIM_PULL_MS",
    "TART_SIM_IP_RETRY_MS",
    "TART_SIM_VNC_TIMEOUT_MS",
    "TART_SIM_NO_IP",
    "TART_SIM_FAULTS",
    "TART_SIM_FAULT",
    "TART_SIM_LOG",
    "TART_SIM_VNC_LOG",
    "TART_SIM_VERSION",
    "TART_SIM_START_MS",
    "TART_SIM_MACOS_LIMIT",
    "TART_SIM_PROGRESS_MS",
    "TART_SIM_PULL_RETRIES",
    "TART_SIM_LEASE_POOL",
    "TART_SIM_LEASE_RENUMBER",
    "TART_SIM_LEASE_DUPLICATE",
    "TART_SIM_ASIF",
    "TART_SIM_SUSPEND_MS",
    "TART_SIM_GUEST_STOP_MS",
    "TART_SIM_CONFIG_WRITE_MS",
    "TART_SIM_REGISTRY_PASSWORD",
    "CI",
];

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// The simulator binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_tart-sim")
}

/// What one invocation produced.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// A simulator environment: its own TART_HOME and knob values.
pub struct Sim {
    pub home: PathBuf,
    env: Vec<(String, Option<String>)>,
}

impl Sim {
    /// A fresh, empty TART_HOME with fast knobs and `CI=1`.
    pub fn new(test: &str) -> Sim {
        let home = std::env::temp_dir().join(format!(
            "tart-sim-test-{test}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&home);
        let mut sim = Sim {
            home,
            env: Vec::new(),
        };
        for (k, v) in [
            ("TART_SIM_BOOT_MS", "200"),
            ("TART_SIM_PULL_MS", "200"),
            ("TART_SIM_IP_RETRY_MS", "50"),
            ("TART_SIM_VNC_TIMEOUT_MS", "5000"),
            ("TART_SIM_START_MS", "50"),
            ("CI", "1"),
        ] {
            sim.set(k, v);
        }
        sim
    }

    /// Sets an environment variable for every later invocation.
    pub fn set(&mut self, key: &str, value: &str) -> &mut Sim {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_string(), Some(value.to_string())));
        self
    }

    /// Removes an environment variable for every later invocation.
    pub fn unset(&mut self, key: &str) -> &mut Sim {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_string(), None));
        self
    }

    /// A `Command` for the simulator with this environment.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(bin());
        command
            .args(args)
            .env("TART_HOME", &self.home)
            .stdin(Stdio::null());
        for key in SCRUBBED {
            command.env_remove(key);
        }
        for (key, value) in &self.env {
            match value {
                Some(v) => command.env(key, v),
                None => command.env_remove(key),
            };
        }
        command
    }

    /// Runs to completion (with the watchdog) and captures everything.
    pub fn run(&self, args: &[&str]) -> Output {
        let child = self
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn tart-sim");
        wait_output(child, WATCHDOG)
    }

    /// Runs and asserts success, returning stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(out.code, 0, "tart-sim {args:?} failed: {out:?}");
        out.stdout
    }

    /// Starts `tart-sim run …` (or any long command) in the background.
    pub fn spawn(&self, args: &[&str]) -> Background {
        let mut child = self
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn tart-sim");
        let (tx, rx) = channel();
        let stdout = child.stdout.take().unwrap();
        let tx_out = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx_out.send(line);
            }
        });
        let stderr = child.stderr.take().unwrap();
        let stderr_thread = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = BufReader::new(stderr).read_to_string(&mut text);
            text
        });
        Background {
            child,
            lines: rx,
            seen: Vec::new(),
            stderr: Some(stderr_thread),
        }
    }

    /// Path of the VM directory `name`.
    pub fn vm_dir(&self, name: &str) -> PathBuf {
        self.home.join("vms").join(name)
    }

    /// `State` of `name` from `list --format json`, or None if not listed.
    pub fn state(&self, name: &str) -> Option<String> {
        let json: serde_json::Value =
            serde_json::from_str(&self.ok(&["list", "--format", "json"])).expect("list json");
        json.as_array()?
            .iter()
            .find(|vm| vm["Name"] == name)
            .map(|vm| vm["State"].as_str().unwrap().to_string())
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

/// A simulator process running in the background, with its stdout lines streamed.
pub struct Background {
    pub child: Child,
    lines: Receiver<String>,
    /// Every stdout line received so far.
    pub seen: Vec<String>,
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl Background {
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Waits for a stdout line satisfying `pred`, failing the test after [`EVENTUALLY`].
    pub fn wait_line(&mut self, pred: impl Fn(&str) -> bool) -> String {
        if let Some(line) = self.seen.iter().find(|l| pred(l)) {
            return line.clone();
        }
        let deadline = Instant::now() + EVENTUALLY;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if pred(&line) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) => panic!("no matching line; saw {:?}", self.seen),
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("stdout closed without a matching line; saw {:?}", self.seen)
                }
            }
        }
    }

    /// Waits for exit (watchdog: kills and fails after [`EVENTUALLY`]); returns the exit
    /// code (or -signal), all stdout lines and stderr.
    pub fn wait(mut self) -> (i32, Vec<String>, String) {
        let deadline = Instant::now() + EVENTUALLY;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("background tart-sim did not exit; saw {:?}", self.seen);
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.seen.push(line);
        }
        let stderr = self.stderr.take().unwrap().join().unwrap();
        (code_of(status), std::mem::take(&mut self.seen), stderr)
    }

    /// Sends a signal to the process.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        // Never leave a simulated VM running after a failed test.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn code_of(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .unwrap_or_else(|| -status.signal().unwrap_or(0))
}

/// Waits for `child` with a watchdog, draining stdout and stderr on their own threads.
pub fn wait_output(mut child: Child, limit: Duration) -> Output {
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out_thread = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err_thread = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("tart-sim did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        code: code_of(status),
        stdout: out_thread.join().unwrap(),
        stderr: err_thread.join().unwrap(),
    }
}

/// Polls `condition` until it holds, failing the test after [`EVENTUALLY`].
pub fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + EVENTUALLY;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Reads a file to a string, or "" if it does not exist.
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}
