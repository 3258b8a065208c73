//! The simulated VM's VNC server, behind `tart run --vnc-experimental` (where real tart
//! serves Virtualization.framework's): RFB 3.8 on 127.0.0.1 with VNC authentication
//! using the password `run` printed, a test-pattern screen (see `pattern`), and a log of
//! the input clients send, in the file `TART_SIM_VNC_LOG` names (docs/simulator.md).
//!
//! Threading: one accept thread for the life of the VM, and per client the threads of
//! `session`. None holds a lock; the VM process ending ends them all.

#[path = "../../../console/des.rs"]
mod des;
mod pattern;
mod session;

use std::fs::OpenOptions;
use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use pattern::Screen;

/// How often the test pattern changes (500 ms): slow enough to watch, fast enough that
/// a test sees a change within a second or two.
const FRAME_INTERVAL: Duration = Duration::from_millis(500);

/// Clients at once (16); more are closed at once. Real consoles have one or two.
const MAX_CLIENTS: usize = 16;

/// Largest screen side served (4,096 px), whatever config.json says.
const MAX_SIDE: u64 = 4096;

/// Smallest screen side served (128 px), so the marker has room to move.
const MIN_SIDE: u64 = 128;

/// What every session of this VM shares.
pub struct Shared {
    password: String,
    vm: String,
    screen: Screen,
    started: Instant,
    log: EventLog,
}

impl Shared {
    /// The test pattern's current frame number.
    fn frame(&self) -> u64 {
        (self.started.elapsed().as_millis() / FRAME_INTERVAL.as_millis()) as u64
    }
}

/// The `TART_SIM_VNC_LOG` file: one JSON object a line, each appended with one write.
pub struct EventLog {
    path: Option<PathBuf>,
}

impl EventLog {
    fn from_env() -> EventLog {
        EventLog {
            path: std::env::var_os("TART_SIM_VNC_LOG")
                .filter(|p| !p.is_empty())
                .map(PathBuf::from),
        }
    }

    /// Appends `record` with the time and this process's id.
    fn record(&self, mut record: Value) {
        let Some(path) = &self.path else { return };
        let time = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        record["pid"] = json!(std::process::id());
        record["time"] = json!(time);
        let mut line = record.to_string();
        line.push('\n');
        if let Ok(mut file) = OpenOptions::new().create(true).append(true).open(path) {
            let _ = file.write_all(line.as_bytes());
        }
    }
}

/// Serves VNC on `listener` for VM `vm` (screen `width`×`height` as config.json says)
/// until the process ends.
pub fn spawn_server(listener: TcpListener, password: String, vm: &str, width: u64, height: u64) {
    let side = |v: u64| v.clamp(MIN_SIDE, MAX_SIDE) as u16;
    let shared = Arc::new(Shared {
        password,
        vm: vm.to_string(),
        screen: Screen {
            width: side(width),
            height: side(height),
        },
        started: Instant::now(),
        log: EventLog::from_env(),
    });
    let clients = Arc::new(AtomicUsize::new(0));
    let accept = move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            if clients.fetch_add(1, Ordering::SeqCst) >= MAX_CLIENTS {
                clients.fetch_sub(1, Ordering::SeqCst);
                continue;
            }
            let (shared, clients) = (shared.clone(), clients.clone());
            let spawned = std::thread::Builder::new()
                .name("vnc-session".into())
                .spawn(move || {
                    session::serve(stream, shared);
                    clients.fetch_sub(1, Ordering::SeqCst);
                });
            if spawned.is_err() {
                eprintln!("tart-sim: cannot start a VNC session thread");
            }
        }
    };
    if std::thread::Builder::new()
        .name("vnc-accept".into())
        .spawn(accept)
        .is_err()
    {
        eprintln!("tart-sim: cannot start the VNC server thread");
    }
}
