//! `TART_SIM_LOG`: one JSON line per event, appended with a single `write` on an
//! `O_APPEND` file so lines from concurrent invocations never interleave.
//!
//! `start` records argv, cwd and the full environment; `exit` records the exit code.

use std::fs::OpenOptions;
use std::io::Write;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

/// The log path (if any) and argv, remembered for the exit record.
static INVOCATION: OnceLock<(Option<String>, Vec<String>)> = OnceLock::new();

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn append(record: &Value) {
    let Some((Some(path), _)) = INVOCATION.get() else {
        return;
    };
    let mut line = record.to_string();
    line.push('\n');
    if let Ok(mut file) = OpenOptions::new().create(true).append(true).open(path) {
        let _ = file.write_all(line.as_bytes());
    }
}

/// Writes the start record (if logging is enabled) and remembers argv.
pub fn start(argv: &[String]) {
    let path = std::env::var("TART_SIM_LOG").ok().filter(|p| !p.is_empty());
    let _ = INVOCATION.set((path, argv.to_vec()));
    let env: Map<String, Value> = std::env::vars_os()
        .map(|(k, v)| {
            (
                k.to_string_lossy().into_owned(),
                Value::String(v.to_string_lossy().into_owned()),
            )
        })
        .collect();
    let cwd = std::env::current_dir()
        .map(|d| d.to_string_lossy().into_owned())
        .unwrap_or_default();
    append(&json!({
        "event": "start",
        "pid": std::process::id(),
        "argv": argv,
        "cwd": cwd,
        "env": env,
        "time": now(),
    }));
}

/// Writes the exit record.
pub fn exit(code: i32) {
    let argv = INVOCATION.get().map(|(_, a)| a.clone()).unwrap_or_default();
    append(&json!({
        "event": "exit",
        "pid": std::process::id(),
        "argv": argv,
        "exit": code,
        "time": now(),
    }));
}
