//! The VM's screen through the server (api-next.md §7), end to end: the real server,
//! tart-sim's VNC server behind `run --vnc-experimental` (display `vnc`, the default for
//! Linux guests), and a Rust RFB client speaking over a real WebSocket to the console
//! listener.

mod rfb_support;
mod support;

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};

use rfb_support::{Event, handshake};
use serde_json::Value;
use support::{EVENTUALLY, IO_TIMEOUT, Setup, TestServer, eventually, sim_bin};
use tungstenite::client::IntoClientRequest;
use tungstenite::{Message, WebSocket};

/// A tart program that runs tart-sim but prints a VNC password its server does not take.
fn wrong_password_tart(dir: &Path) -> PathBuf {
    let path = dir.join("tart-wrong-pw");
    // Keep the URL's shape; change the first 8 characters (the ones that count).
    let script = format!(
        "#!/bin/sh\n'{}' \"$@\" | sed -u 's#^VNC server is running at vnc://:[^@]*@#VNC server is running at vnc://:wrongpass-x@#'\n",
        sim_bin().display()
    );
    std::fs::write(&path, script).unwrap();
    let mut perms = std::fs::metadata(&path).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&path, perms).unwrap();
    path
}

/// A server with the simulator's VNC event log in a folder of its own (`vnc.jsonl`),
/// which must live as long as the server; with `wrong_password`, tart prints a wrong one.
fn vnc_server(wrong_password: bool) -> (TestServer, support::TempDir) {
    let scripts = support::TempDir::new("console-tart");
    let mut setup = Setup {
        tart: wrong_password.then(|| wrong_password_tart(scripts.path())),
        ..Setup::default()
    };
    let log = scripts.path().join("vnc.jsonl");
    setup
        .env
        .push(("TART_SIM_VNC_LOG".into(), log.display().to_string()));
    (TestServer::start_with(setup), scripts)
}

fn vnc_log(scripts: &support::TempDir) -> Vec<Value> {
    std::fs::read_to_string(scripts.path().join("vnc.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn start_vm(server: &TestServer, name: &str) {
    start_vm_with(server, name, "{}");
}

fn start_vm_with(server: &TestServer, name: &str, body: &str) {
    server.create_vm(name);
    let reply = server.post(&format!("/api/vms/{name}/start"), body);
    assert_eq!(reply.status, 202, "{}", reply.text());
    let task = server.wait_task(reply.json()["id"].as_str().unwrap());
    assert_eq!(task["status"], "completed", "{task}");
}

/// `POST /api/vms/{name}/console` → the ticket URL.
fn console_url(server: &TestServer, name: &str) -> String {
    let reply = server.post(&format!("/api/vms/{name}/console"), "");
    assert_eq!(reply.status, 200, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body["expires_in"], 30);
    body["url"].as_str().unwrap().to_string()
}

/// Opens the console WebSocket with the page's Origin (or `origin`, or none), and
/// optionally a Host of our choosing; `Err` carries the HTTP status of a refusal.
fn open(url: &str, origin: Option<&str>, host: Option<&str>) -> Result<WsBytes, u16> {
    let mut request = url.into_client_request().unwrap();
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("Origin", origin.parse().unwrap());
    }
    if let Some(host) = host {
        request.headers_mut().insert("Host", host.parse().unwrap());
    }
    let port: u16 = url
        .split(':')
        .nth(2)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    match tungstenite::client::client(request, stream) {
        Ok((ws, _)) => Ok(WsBytes {
            ws,
            pending: Vec::new(),
        }),
        Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(resp))) => {
            Err(resp.status().as_u16())
        }
        Err(e) => panic!("websocket handshake: {e}"),
    }
}

fn page_origin(server: &TestServer) -> String {
    format!("http://127.0.0.1:{}", server.port())
}

/// The console WebSocket as the byte stream RFB is: binary messages in, one out per write.
struct WsBytes {
    ws: WebSocket<TcpStream>,
    pending: Vec<u8>,
}

impl Read for WsBytes {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pending.is_empty() {
            match self.ws.read() {
                Ok(Message::Binary(data)) => self.pending.extend_from_slice(&data),
                Ok(Message::Close(_)) => return Ok(0),
                Ok(_) => {}
                Err(e) => return Err(io::Error::other(e.to_string())),
            }
        }
        let n = buf.len().min(self.pending.len());
        buf[..n].copy_from_slice(&self.pending[..n]);
        self.pending.drain(..n);
        Ok(n)
    }
}

impl Write for WsBytes {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.ws
            .send(Message::Binary(buf.to_vec().into()))
            .map_err(|e| io::Error::other(e.to_string()))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Reads until the server closes the WebSocket; returns the close reason, if one came.
fn read_until_closed(ws: &mut WebSocket<TcpStream>) -> Option<String> {
    let deadline = std::time::Instant::now() + EVENTUALLY;
    loop {
        assert!(
            std::time::Instant::now() < deadline,
            "the console did not close"
        );
        match ws.read() {
            Ok(Message::Close(frame)) => return frame.map(|f| f.reason.to_string()),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
}

#[test]
fn the_console_shows_the_screen_and_passes_input_through() {
    let (server, scripts) = vnc_server(false);
    start_vm(&server, "vm");
    let url = console_url(&server, "vm");
    assert!(
        url.starts_with("ws://127.0.0.1:") && url.contains("/console/"),
        "{url}"
    );
    let ws = open(&url, Some(&page_origin(&server)), None).expect("console opens");
    // The browser side is offered security type None: no password on this side.
    let mut c = handshake(ws, None).expect("RFB handshake through the proxy");
    assert_eq!(c.name, "tart-sim: vm");
    assert_eq!((c.width, c.height), (1024, 768));
    assert_eq!(
        c.read_message().unwrap(),
        Event::CutText("tart-sim clipboard of vm".into())
    );
    c.set_encodings(&[1, 0]);
    c.request_update(false);
    assert_eq!(c.read_message().unwrap(), Event::Update(vec![0]));
    assert_eq!(c.pixel(64, 10), [255, 255, 255]);
    assert_eq!(c.pixel(128 * 5 + 64, 10), [255, 0, 0]);
    assert_eq!(c.pixel(0, 767), [64, 64, 64]);
    c.request_update(true);
    assert_eq!(c.read_message().unwrap(), Event::Update(vec![1, 0]));
    c.key(0x71, true);
    c.key(0x71, false);
    c.pointer(1, 300, 200);
    eventually("the VNC server logged the input", || {
        let log = vnc_log(&scripts);
        let key = log
            .iter()
            .any(|r| r["event"] == "key" && r["keysym"] == 0x71);
        let click = log
            .iter()
            .any(|r| r["event"] == "pointer" && r["buttons"] == 1 && r["x"] == 300);
        (key && click).then_some(())
    });
    // The server authenticated with the printed password; the page never had it.
    assert!(
        vnc_log(&scripts)
            .iter()
            .any(|r| r["event"] == "auth" && r["ok"] == true)
    );
}

#[test]
fn a_ticket_opens_one_console_once() {
    let (server, _scripts) = vnc_server(false);
    start_vm(&server, "vm");
    let url = console_url(&server, "vm");
    let origin = page_origin(&server);
    let first = open(&url, Some(&origin), None).expect("first use");
    assert_eq!(
        open(&url, Some(&origin), None).err(),
        Some(403),
        "second use"
    );
    drop(first);
    let made_up = format!("{}x", &url[..url.len() - 1]);
    assert_eq!(open(&made_up, Some(&origin), None).err(), Some(403));
}

#[test]
fn foreign_origins_and_hosts_are_refused_without_spending_the_ticket() {
    let (server, _scripts) = vnc_server(false);
    start_vm(&server, "vm");
    let url = console_url(&server, "vm");
    let console_port = url.split(':').nth(2).unwrap().split('/').next().unwrap();
    for origin in [
        "http://evil.example".to_string(),
        "null".to_string(),
        // The console listener's own origin is not the page's.
        format!("http://127.0.0.1:{console_port}"),
    ] {
        assert_eq!(
            open(&url, Some(&origin), None).err(),
            Some(403),
            "origin {origin}"
        );
    }
    let foreign_host = format!("evil.example:{console_port}");
    assert_eq!(open(&url, None, Some(&foreign_host)).err(), Some(403));
    let wrong_port = format!("127.0.0.1:{}", server.port());
    assert_eq!(open(&url, None, Some(&wrong_port)).err(), Some(403));
    // None of that spent the ticket.
    let ws = open(
        &url,
        Some(&format!("http://localhost:{}", server.port())),
        None,
    );
    assert!(handshake(ws.expect("the ticket still works"), None).is_ok());
}

#[test]
fn no_console_for_a_vm_without_a_vnc_display() {
    let server = TestServer::start();
    server.create_vm("stopped");
    let reply = server.post("/api/vms/stopped/console", "");
    assert_eq!(reply.status, 409, "stopped: {}", reply.text());
    // Screen sharing (`--vnc`): the URL names the guest's own server, not tart's.
    start_vm_with(&server, "shared", r#"{"display": "screen-sharing"}"#);
    let reply = server.post("/api/vms/shared/console", "");
    assert_eq!(reply.status, 409, "screen sharing: {}", reply.text());
    assert!(reply.json()["detail"].as_str().unwrap().contains("vnc"));
    start_vm_with(&server, "headless", r#"{"display": "none"}"#);
    assert_eq!(server.post("/api/vms/headless/console", "").status, 409);
    assert_eq!(server.post("/api/vms/nope/console", "").status, 404);
    let anonymous = support::Client {
        addr: server.addr,
        token: None,
    };
    assert_eq!(
        anonymous
            .request("POST", "/api/vms/shared/console", &[], None)
            .status,
        401
    );
}

#[test]
fn a_wrong_vnc_password_fails_the_console_cleanly() {
    let (server, scripts) = vnc_server(true);
    start_vm(&server, "vm");
    let url = console_url(&server, "vm");
    let ws = open(&url, Some(&page_origin(&server)), None).unwrap();
    let reason = handshake(ws, None).err().expect("no console");
    assert!(reason.contains("refused the password"), "{reason}");
    eventually("the VNC server saw a failed authentication", || {
        vnc_log(&scripts)
            .iter()
            .any(|r| r["event"] == "auth" && r["ok"] == false)
            .then_some(())
    });
}

#[test]
fn closing_the_page_closes_the_vnc_connection() {
    let (server, scripts) = vnc_server(false);
    start_vm(&server, "vm");
    let ws = open(
        &console_url(&server, "vm"),
        Some(&page_origin(&server)),
        None,
    )
    .unwrap();
    let mut c = handshake(ws, None).unwrap();
    c.read_message().unwrap();
    c.stream.ws.close(None).unwrap();
    let _ = read_until_closed(&mut c.stream.ws);
    eventually("the VNC connection ended", || {
        vnc_log(&scripts)
            .iter()
            .any(|r| r["event"] == "disconnect")
            .then_some(())
    });
}

#[test]
fn stopping_the_vm_closes_the_page_side() {
    let (server, _scripts) = vnc_server(false);
    start_vm(&server, "vm");
    let ws = open(
        &console_url(&server, "vm"),
        Some(&page_origin(&server)),
        None,
    )
    .unwrap();
    let mut c = handshake(ws, None).unwrap();
    c.read_message().unwrap();
    let reply = server.post("/api/vms/vm/stop", "");
    server.wait_task(reply.json()["id"].as_str().unwrap());
    let reason = read_until_closed(&mut c.stream.ws);
    assert_eq!(reason.as_deref(), Some("the VM's screen closed"));
    // A stopped VM has no console.
    eventually("the stop is seen", || {
        (server.post("/api/vms/vm/console", "").status == 409).then_some(())
    });
}

#[test]
fn the_console_page_may_connect_to_the_console_listener_and_nowhere_else() {
    let (server, _scripts) = vnc_server(false);
    start_vm(&server, "vm");
    let url = console_url(&server, "vm");
    let console_port = url.split(':').nth(2).unwrap().split('/').next().unwrap();
    let page = server.client().request("GET", "/console?vm=vm", &[], None);
    assert_eq!(page.status, 200);
    assert!(page.text().contains("js/console/main.js"));
    assert!(!page.text().contains(&server.token), "no token in the page");
    let csp = page.header("Content-Security-Policy").unwrap();
    assert!(
        csp.contains(&format!(
            "connect-src 'self' ws://127.0.0.1:{console_port};"
        )),
        "{csp}"
    );
    assert!(csp.contains("script-src 'self';"), "{csp}");
    // The main page keeps the plain policy, and the console page has one address.
    let index = server.client().request("GET", "/", &[], None);
    assert!(
        index
            .header("Content-Security-Policy")
            .unwrap()
            .contains("connect-src 'self';")
    );
    assert_eq!(
        server
            .client()
            .request("GET", "/console.html", &[], None)
            .status,
        404
    );
}

#[test]
fn consoles_are_bounded_and_a_full_server_does_not_spend_the_ticket() {
    let (server, _scripts) = vnc_server(false);
    start_vm(&server, "vm");
    let origin = page_origin(&server);
    // taartenfabriek::console::MAX_CONSOLES, each proven open by its RFB handshake.
    let mut open_ones: Vec<_> = (0..taartenfabriek::console::MAX_CONSOLES)
        .map(|_| {
            let ws = open(&console_url(&server, "vm"), Some(&origin), None).unwrap();
            handshake(ws, None).expect("console within the limit")
        })
        .collect();
    let url = console_url(&server, "vm");
    assert_eq!(open(&url, Some(&origin), None).err(), Some(503));
    // Closing one makes room, and the refused ticket still works.
    let mut first = open_ones.remove(0);
    first.stream.ws.close(None).unwrap();
    let _ = read_until_closed(&mut first.stream.ws);
    let ws = eventually("a console slot is free", || {
        open(&url, Some(&origin), None).ok()
    });
    assert!(handshake(ws, None).is_ok());
}
