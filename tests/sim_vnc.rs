//! tart-sim's VNC server behind `run --vnc-experimental`, driven by a Rust RFB client:
//! the printed URL is real, VNC authentication takes the printed password (its first 8
//! characters), the screen shows the documented test pattern and changes, and the input
//! a client sends lands in `TART_SIM_VNC_LOG`.

mod rfb_support;
mod sim_support;

use std::net::TcpStream;
use std::time::Duration;

use rfb_support::{Event, handshake};
use serde_json::Value;
use sim_support::{Background, Sim, eventually};

/// Read timeout on every client socket here.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

const BARS: [[u8; 3]; 8] = [
    [255, 255, 255],
    [255, 255, 0],
    [0, 255, 255],
    [0, 255, 0],
    [255, 0, 255],
    [255, 0, 0],
    [0, 0, 255],
    [0, 0, 0],
];
const BACKGROUND: [u8; 3] = [64, 64, 64];
const MARKER: [u8; 3] = [255, 128, 0];

/// A running `--vnc-experimental` VM: the process, its VNC address and password.
struct Vm {
    _run: Background,
    addr: String,
    password: String,
    log: std::path::PathBuf,
    _sim: Sim,
}

fn start_vm(test: &str) -> Vm {
    let mut sim = Sim::new(test);
    let log = sim.home.with_extension("vnc.jsonl");
    sim.set("TART_SIM_VNC_LOG", log.to_str().unwrap());
    sim.ok(&["create", "--linux", "vm"]);
    let mut run = sim.spawn(&["run", "--no-graphics", "--vnc-experimental", "vm"]);
    let line = run.wait_line(|l| l.starts_with("VNC server is running at "));
    let url = line.trim_start_matches("VNC server is running at vnc://:");
    let (password, addr) = url.split_once('@').unwrap();
    Vm {
        _run: run,
        addr: addr.to_string(),
        password: password.to_string(),
        log,
        _sim: sim,
    }
}

fn connect(addr: &str) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    stream
}

fn log_records(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Where the marker is on the row through its middle: the x of its left edge.
fn marker_x(client: &rfb_support::RfbClient<TcpStream>) -> Option<u16> {
    let y = client.height / 4 * 3;
    (0..client.width).find(|x| client.pixel(*x, y) == MARKER)
}

#[test]
fn the_printed_password_opens_a_screen_with_the_test_pattern() {
    let vm = start_vm("pattern");
    let mut c = handshake(connect(&vm.addr), Some(&vm.password)).expect("handshake");
    assert_eq!((c.width, c.height), (1024, 768));
    assert_eq!(c.name, "tart-sim: vm");
    assert_eq!(
        c.read_message().unwrap(),
        Event::CutText("tart-sim clipboard of vm".into())
    );
    c.set_encodings(&[1, 0]);
    c.request_update(false);
    assert_eq!(c.read_message().unwrap(), Event::Update(vec![0]));
    for (i, colour) in BARS.iter().enumerate() {
        let x = (i as u16) * 128 + 64;
        assert_eq!(c.pixel(x, 100), *colour, "bar {i}");
    }
    assert_eq!(c.pixel(5, 767), BACKGROUND);
    let first = marker_x(&c).expect("the marker is on its row");
    assert_eq!(first % 64, 0);

    // The pattern changes: the marker moves by CopyRect and its old place is repainted.
    c.request_update(true);
    let update = c.read_message().unwrap();
    assert_eq!(
        update,
        Event::Update(vec![1, 0]),
        "CopyRect for the marker, Raw behind it"
    );
    let moved = marker_x(&c).expect("the marker is still on its row");
    assert_ne!(moved, first);
    assert_eq!(
        c.pixel(first + 32, 768 / 4 * 3),
        BACKGROUND,
        "old place repainted"
    );
}

#[test]
fn without_copy_rect_the_marker_moves_as_raw() {
    let vm = start_vm("raw");
    let mut c = handshake(connect(&vm.addr), Some(&vm.password)).unwrap();
    c.read_message().unwrap();
    c.set_encodings(&[0]);
    c.request_update(false);
    c.read_message().unwrap();
    let first = marker_x(&c).unwrap();
    c.request_update(true);
    assert_eq!(c.read_message().unwrap(), Event::Update(vec![0, 0]));
    assert_ne!(marker_x(&c).unwrap(), first);
}

#[test]
fn input_is_logged() {
    let vm = start_vm("input");
    let mut c = handshake(connect(&vm.addr), Some(&vm.password)).unwrap();
    c.key(0x61, true);
    c.key(0x61, false);
    c.pointer(1, 10, 20);
    c.pointer(0, 10, 20);
    c.cut_text("hello");
    eventually("the input is in the log", || {
        let records = log_records(&vm.log);
        let has = |want: Value| {
            records.iter().any(|r| {
                want.as_object()
                    .unwrap()
                    .iter()
                    .all(|(k, v)| r.get(k) == Some(v))
            })
        };
        has(serde_json::json!({"event": "key", "down": true, "keysym": 0x61}))
            && has(serde_json::json!({"event": "key", "down": false, "keysym": 0x61}))
            && has(serde_json::json!({"event": "pointer", "buttons": 1, "x": 10, "y": 20}))
            && has(serde_json::json!({"event": "cut_text", "text": "hello"}))
    });
}

#[test]
fn a_wrong_password_is_refused_and_only_eight_characters_count() {
    let vm = start_vm("auth");
    let wrong = handshake(connect(&vm.addr), Some("not-the-password")).err();
    assert_eq!(wrong.as_deref(), Some("Authentication failed"));
    // VNC authentication keys DES with the first 8 characters only.
    let eight = format!("{}whatever", &vm.password[..8]);
    assert!(handshake(connect(&vm.addr), Some(&eight)).is_ok());
    let records = log_records(&vm.log);
    let auths: Vec<&Value> = records.iter().filter(|r| r["event"] == "auth").collect();
    assert_eq!(auths.len(), 2);
    assert_eq!(auths[0]["ok"], false);
    assert_eq!(auths[1]["ok"], true);
}
