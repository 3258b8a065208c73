//! Shared helpers for tests that need an Orchard controller: `orchard-sim` as a real child
//! process on port 0, a Basic-auth client for its `/v1` API, and an NDJSON watch reader.
//!
//! Every read has a timeout and every wait a watchdog (`support::eventually`).

#![allow(dead_code)] // Each test binary uses a different subset of these helpers.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::support::{IO_TIMEOUT, Response, request_bytes, send_raw};

/// The account every test simulator knows, with all roles.
pub const ADMIN: (&str, &str) = ("admin", "admin-secret");
/// An account with only `compute:read`.
pub const READER: (&str, &str) = ("reader", "reader-secret");

/// A running orchard-sim, killed on drop.
pub struct OrchardSim {
    child: Child,
    pub addr: SocketAddr,
}

impl OrchardSim {
    /// Starts orchard-sim with the test accounts, a fast phase, and `extra` flags.
    pub fn start(extra: &[&str]) -> OrchardSim {
        let mut child = Command::new(env!("CARGO_BIN_EXE_orchard-sim"))
            .args([
                "--account",
                "admin:admin-secret",
                "--account",
                "reader:reader-secret:compute:read",
                "--phase-ms",
                "60",
            ])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start orchard-sim");
        let line = crate::support::first_stdout_line(&mut child, "orchard-sim printed its address");
        let addr = line
            .trim()
            .strip_prefix("orchard-sim listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .parse()
            .expect("an address");
        OrchardSim { child, addr }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// One request with optional Basic credentials and JSON body.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        creds: Option<(&str, &str)>,
        body: Option<&Value>,
    ) -> Response {
        let host = self.addr.to_string();
        let auth = creds.map(|(u, p)| format!("Basic {}", base64(format!("{u}:{p}").as_bytes())));
        let mut headers = vec![("Host", host.as_str())];
        if let Some(a) = &auth {
            headers.push(("Authorization", a.as_str()));
        }
        let body = body.map(|b| b.to_string().into_bytes());
        if body.is_some() {
            headers.push(("Content-Type", "application/json"));
        }
        send_raw(
            self.addr,
            &request_bytes(method, path, &headers, body.as_deref()),
        )
    }

    /// `GET path` as admin, as JSON.
    pub fn get(&self, path: &str) -> Value {
        let r = self.call("GET", path, Some(ADMIN), None);
        assert_eq!(r.status, 200, "GET {path}: {}", r.text());
        r.json()
    }

    /// The simulator's control API (`/_sim/...`).
    pub fn control(&self, path: &str, body: Value) -> Response {
        self.call("POST", &format!("/_sim{path}"), None, Some(&body))
    }

    /// Opens a watch on VM `name`.
    pub fn watch(&self, name: &str) -> Watch {
        let mut stream = TcpStream::connect(self.addr).expect("connect");
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        let auth = format!(
            "Basic {}",
            base64(format!("{}:{}", ADMIN.0, ADMIN.1).as_bytes())
        );
        let raw = request_bytes(
            "GET",
            &format!("/v1/vms/{name}?watch=true"),
            &[("Host", &self.addr.to_string()), ("Authorization", &auth)],
            None,
        );
        stream.write_all(&raw).unwrap();
        Watch {
            reader: BufReader::new(stream),
            headers_read: false,
        }
    }
}

impl Drop for OrchardSim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A watch stream being read line by line.
pub struct Watch {
    reader: BufReader<TcpStream>,
    headers_read: bool,
}

impl Watch {
    /// The next `{"type", "object"}` message (panics after the read timeout).
    pub fn next(&mut self) -> Value {
        if !self.headers_read {
            loop {
                let mut h = String::new();
                self.reader.read_line(&mut h).expect("watch headers");
                if h.trim().is_empty() {
                    break;
                }
            }
            self.headers_read = true;
        }
        let mut size = String::new();
        self.reader.read_line(&mut size).expect("chunk size");
        let n = usize::from_str_radix(size.trim(), 16).expect("hex chunk size");
        let mut data = vec![0; n + 2];
        self.reader.read_exact(&mut data).expect("chunk");
        serde_json::from_slice(&data[..n]).expect("a JSON line")
    }

    /// Reads messages until one satisfies `f`; returns it.
    pub fn until(&mut self, f: impl Fn(&Value) -> bool) -> Value {
        loop {
            let m = self.next();
            if f(&m) {
                return m;
            }
        }
    }
}

/// Standard base64 with padding, for Basic credentials.
pub fn base64(input: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in input.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A bounded pause between polls.
pub const POLL: Duration = Duration::from_millis(30);
