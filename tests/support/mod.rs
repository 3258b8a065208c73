//! Test support for the server's integration tests: a real `taartenfabriek` process on a
//! free port with `tart-sim` as its `tart`, a private temp home, a tiny HTTP/1.1 client
//! with read timeouts (raw enough to send malformed requests), a WebSocket client, and
//! readers for the simulator's invocation log.
//!
//! Every wait has a deadline: a hung server fails a test instead of hanging CI.
#![allow(dead_code)] // each test binary uses a different part of this module.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Read timeout on every client socket.
pub const IO_TIMEOUT: Duration = Duration::from_secs(20);

/// How long `eventually` waits before failing a test.
pub const EVENTUALLY: Duration = Duration::from_secs(30);

/// How long `TestServer::refresh` keeps asking for a refresh that ends within the
/// route's own 5 s wait (60 s): on a loaded machine a `tart list` with its `get`s can
/// take longer than 5 s a few times in a row; a refresh that never ends is a hang.
pub const REFRESH_SETTLE: Duration = Duration::from_secs(60);

pub fn server_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_taartenfabriek"))
}

pub fn sim_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_tart-sim"))
}

/// A fresh, empty directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "tf-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Options for a test server.
pub struct Setup {
    /// Extra environment for the server (and so for tart-sim).
    pub env: Vec<(String, String)>,
    /// Replace the tart program (default: tart-sim).
    pub tart: Option<PathBuf>,
    /// Extra command-line flags.
    pub args: Vec<String>,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            env: vec![
                ("TART_SIM_BOOT_MS".into(), "200".into()),
                ("TART_SIM_PULL_MS".into(), "600".into()),
                ("TART_SIM_IP_RETRY_MS".into(), "50".into()),
                ("TART_SIM_LATENCY_MS".into(), "0".into()),
            ],
            tart: None,
            args: vec!["--refresh-interval".into(), "0".into()],
        }
    }
}

/// A running server plus its private world.
pub struct TestServer {
    pub child: Option<Child>,
    pub dir: TempDir,
    pub addr: SocketAddr,
    pub token: String,
    pub setup_env: Vec<(String, String)>,
    stderr_path: PathBuf,
}

impl TestServer {
    /// Starts a server with the default setup on a fresh home.
    pub fn start() -> TestServer {
        TestServer::start_with(Setup::default())
    }

    pub fn start_with(setup: Setup) -> TestServer {
        let dir = TempDir::new("srv");
        std::fs::create_dir_all(dir.path().join("tart-home")).unwrap();
        TestServer::start_in(dir, setup)
    }

    /// Starts a server on an existing test home (for restarts).
    pub fn start_in(dir: TempDir, setup: Setup) -> TestServer {
        let stderr_path = dir
            .path()
            .join(format!("server-stderr-{}.log", now_millis()));
        let mut env = setup.env.clone();
        env.push(("HOME".into(), dir.path().display().to_string()));
        // A test that sets TART_HOME itself (even empty: "unset" for tart) keeps it.
        if !setup.env.iter().any(|(k, _)| k == "TART_HOME") {
            env.push((
                "TART_HOME".into(),
                dir.path().join("tart-home").display().to_string(),
            ));
        }
        env.push((
            "TART_SIM_LOG".into(),
            dir.path().join("sim.log").display().to_string(),
        ));
        env.push((
            "TART_SIM_FAULTS".into(),
            dir.path().join("faults").display().to_string(),
        ));
        let tart = setup.tart.clone().unwrap_or_else(sim_bin);
        let mut child = Command::new(server_bin())
            .args(["--port", "0", "--data-dir"])
            .arg(dir.path().join("data"))
            .arg("--tart")
            .arg(&tart)
            .args(&setup.args)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env_remove("TARTVM_PORT")
            .env_remove("TARTVM_HOST")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr_path).unwrap())
            .spawn()
            .expect("start taartenfabriek");
        let line = first_stdout_line(&mut child, "the server printed its URL");
        let url = line
            .trim()
            .strip_prefix("taartenfabriek listening on http://")
            .unwrap_or_else(|| {
                panic!(
                    "unexpected first line {line:?}; stderr: {}",
                    std::fs::read_to_string(&stderr_path).unwrap_or_default()
                )
            });
        let addr: SocketAddr = url.parse().unwrap();
        let token = std::fs::read_to_string(dir.path().join("data/token"))
            .unwrap()
            .trim()
            .to_string();
        TestServer {
            child: Some(child),
            dir,
            addr,
            token,
            setup_env: env,
            stderr_path,
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn tart_home(&self) -> PathBuf {
        self.dir.path().join("tart-home")
    }

    /// What the server printed on stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Runs tart-sim directly against this server's tart home (to seed or inspect).
    pub fn sim(&self, args: &[&str]) -> std::process::Output {
        Command::new(sim_bin())
            .args(args)
            .env("TART_HOME", self.tart_home())
            .env("CI", "1")
            .env("TART_SIM_PULL_MS", "50")
            .env("TART_SIM_IP_RETRY_MS", "50")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// Creates a Linux VM with tart-sim.
    pub fn create_vm(&self, name: &str) {
        let out = self.sim(&["create", "--linux", name]);
        assert!(
            out.status.success(),
            "create {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Writes the simulator's fault file (re-read on every tart invocation).
    pub fn set_faults(&self, rules: &str) {
        std::fs::write(self.dir.path().join("faults"), rules).unwrap();
    }

    /// Every invocation the simulator logged (start records).
    pub fn invocations(&self) -> Vec<Vec<String>> {
        sim_records(&self.dir.path().join("sim.log"))
            .into_iter()
            .filter(|r| r["event"] == "start")
            .map(|r| {
                r["argv"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a.as_str().unwrap().to_string())
                    .collect()
            })
            .collect()
    }

    /// Raw invocation-log records.
    pub fn sim_records(&self) -> Vec<Value> {
        sim_records(&self.dir.path().join("sim.log"))
    }

    /// Invocations whose subcommand is not a read-only query (list/get/ip/--version).
    pub fn mutating_invocations(&self) -> Vec<Vec<String>> {
        self.invocations()
            .into_iter()
            .filter(|argv| {
                !matches!(
                    argv.first().map(String::as_str),
                    Some("list" | "get" | "ip" | "--version")
                )
            })
            .collect()
    }

    pub fn client(&self) -> Client {
        Client {
            addr: self.addr,
            token: Some(self.token.clone()),
        }
    }

    /// A request with the right Host and token.
    pub fn get(&self, path: &str) -> Response {
        self.client().request("GET", path, &[], None)
    }

    pub fn post(&self, path: &str, body: &str) -> Response {
        self.client().request(
            "POST",
            path,
            &[("Content-Type", "application/json")],
            Some(body.as_bytes()),
        )
    }

    /// Starts a pull of `reference` and returns its task id.
    pub fn start_pull(&self, reference: &str) -> String {
        let reply = self.post(
            "/api/vms/pull",
            &serde_json::json!({ "oci_url": reference }).to_string(),
        );
        assert_eq!(reply.status, 202, "pull {reference}: {}", reply.text());
        reply.json()["id"].as_str().unwrap().to_string()
    }

    /// Waits until the refresh the server runs at start is over, so a VM the test then
    /// makes with the CLI is first seen by a refresh the test asks for. (A startup refresh
    /// that runs while the CLI makes VMs may list only some of them and `tart get` those,
    /// which bumps their `accessed`, and the next refresh then reports them `changed`.)
    /// Its `tart list` has begun once the simulator logged it, and a refresh holds the
    /// inventory's refresh gate throughout; the refresh asked for here waits behind it.
    pub fn wait_startup_refresh(&self) {
        eventually("the startup refresh runs tart list", || {
            self.invocations()
                .iter()
                .any(|argv| argv.first().is_some_and(|a| a == "list"))
                .then_some(())
        });
        self.refresh();
    }

    /// `POST /api/vms/refresh` until an answer comes from a refresh that really ended,
    /// and that answer's list. Under load a refresh can outlast the route's wait
    /// (`REFRESH_ROUTE_WAIT`, 5 s); the route then answers the *cached* list marked
    /// `X-Refreshing: true`, which a test that just changed the VMs must not assert on:
    /// it asks again, for at most [`REFRESH_SETTLE`]. Fails the test on any status but 200.
    pub fn refresh(&self) -> Value {
        let deadline = Instant::now() + REFRESH_SETTLE;
        loop {
            let reply = self.post("/api/vms/refresh", "{}");
            assert_eq!(reply.status, 200, "refresh: {}", reply.text());
            if reply.header("x-refreshing").is_none() {
                return reply.json();
            }
            assert!(
                Instant::now() < deadline,
                "every refresh for {REFRESH_SETTLE:?} outlasted the route's wait (X-Refreshing)"
            );
        }
    }

    /// Polls a task until it is completed or failed.
    pub fn wait_task(&self, id: &str) -> Value {
        eventually(&format!("task {id} ends"), || {
            let task = self.get(&format!("/api/tasks/{id}")).json();
            matches!(task["status"].as_str(), Some("completed" | "failed")).then_some(task)
        })
    }

    /// Sends SIGKILL to the server.
    pub fn kill(&mut self) -> TempDir {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        std::mem::replace(&mut self.dir, TempDir(PathBuf::new()))
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        // End every tart-sim process the test left behind (a VM's `run`, a hung `pull`).
        // They are found by the `TART_SIM_LOG` this server gave its children, not by the
        // simulator's log: a child the server started just before it was killed may not
        // have logged its start yet, and would hang on unseen.
        if !self.dir.0.as_os_str().is_empty() {
            let mark = format!("TART_SIM_LOG={}", self.dir.path().join("sim.log").display());
            for pid in processes_with_env(&mark) {
                let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            }
        }
    }
}

/// Processes (other than this one) whose environment holds exactly `entry`
/// (`NAME=value`), read from `/proc`; one that ends meanwhile is skipped.
fn processes_with_env(entry: &str) -> Vec<u32> {
    let me = std::process::id();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    procs
        .filter_map(|p| p.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|&b| b == 0).any(|e| e == entry.as_bytes()))
        })
        .collect()
}

fn sim_records(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn now_millis() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

/// Calls `f` until it returns `Some`, or panics after [`EVENTUALLY`].
/// Takes `child`'s stdout and returns its first line, waiting at most [`IO_TIMEOUT`]
/// (`what` says what was awaited when it does not come). A thread keeps draining the
/// rest, so the child never blocks on a full pipe.
pub fn first_stdout_line(child: &mut Child, what: &str) -> String {
    let stdout = child.stdout.take().expect("stdout is piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let _ = reader.read_line(&mut line);
        let _ = tx.send(line);
        let _ = std::io::copy(&mut reader, &mut std::io::sink());
    });
    rx.recv_timeout(IO_TIMEOUT)
        .unwrap_or_else(|_| panic!("timed out waiting until {what}"))
}

pub fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + EVENTUALLY;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// An HTTP/1.1 response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `detail` of an error body.
    pub fn detail(&self) -> Value {
        self.json()["detail"].clone()
    }
}

/// A one-request-per-connection HTTP client.
pub struct Client {
    pub addr: SocketAddr,
    pub token: Option<String>,
}

impl Client {
    /// Sends a request with `Host: 127.0.0.1:<port>` and the token, plus `headers`.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Response {
        let host = format!("127.0.0.1:{}", self.addr.port());
        let mut all = vec![("Host", host.as_str())];
        if let Some(token) = &self.token {
            all.push(("X-Local-Token", token));
        }
        all.extend_from_slice(headers);
        send_raw(self.addr, &request_bytes(method, path, &all, body))
    }
}

/// `method path` with exactly `headers`, plus `Connection: close` and, with a body,
/// `Content-Length`.
pub fn request_bytes(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Vec<u8> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(body) = body {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut raw = head.into_bytes();
    raw.extend_from_slice(body.unwrap_or_default());
    raw
}

/// Sends raw bytes and parses the response (the server must close or send a length).
pub fn send_raw(addr: SocketAddr, raw: &[u8]) -> Response {
    try_send_raw(addr, raw).expect("a response")
}

/// Sends raw bytes and reads one response; `None` if the server closed without one.
pub fn try_send_raw(addr: SocketAddr, raw: &[u8]) -> Option<Response> {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    stream.write_all(raw).ok()?;
    read_response(&mut BufReader::new(stream))
}

/// Reads one response (status line, headers, body by Content-Length or to EOF).
pub fn read_response(reader: &mut impl BufRead) -> Option<Response> {
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let status: u16 = line.split_whitespace().nth(1)?.parse().ok()?;
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (n, v) = h.split_once(':')?;
        headers.push((n.trim().to_string(), v.trim().to_string()));
    }
    let len = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok());
    let mut body = Vec::new();
    match len {
        Some(n) => {
            body.resize(n, 0);
            reader.read_exact(&mut body).ok()?;
        }
        None if status == 101 || status == 204 || status == 304 => {}
        None => {
            reader.read_to_end(&mut body).ok()?;
        }
    }
    Some(Response {
        status,
        headers,
        body,
    })
}

/// A connected WebSocket client with a read timeout.
pub type WsClient = tungstenite::WebSocket<TcpStream>;

/// Opens `/ws/tasks/<id>?token=<token>`; `Err` carries the HTTP status of a refusal.
pub fn ws_connect(addr: SocketAddr, path_and_query: &str) -> Result<WsClient, u16> {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let url = format!("ws://127.0.0.1:{}{path_and_query}", addr.port());
    match tungstenite::client::client(url, stream) {
        Ok((ws, _)) => Ok(ws),
        Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(resp))) => {
            Err(resp.status().as_u16())
        }
        Err(e) => panic!("websocket handshake: {e}"),
    }
}

/// Reads text messages until the server closes; returns them parsed.
pub fn ws_read_all(ws: &mut WsClient) -> (Vec<Value>, Option<u16>) {
    let mut messages = Vec::new();
    let deadline = Instant::now() + EVENTUALLY;
    loop {
        assert!(Instant::now() < deadline, "websocket did not close in time");
        match ws.read() {
            Ok(tungstenite::Message::Text(t)) => {
                messages.push(serde_json::from_str(t.as_str()).unwrap())
            }
            Ok(tungstenite::Message::Close(frame)) => {
                return (messages, frame.map(|f| u16::from(f.code)));
            }
            Ok(_) => {}
            Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                return (messages, None);
            }
            Err(e) => panic!("websocket read: {e}"),
        }
    }
}
