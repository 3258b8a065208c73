//! The simulator's own control API under `/_sim` (not Orchard's; no auth, for tests and
//! the demo on loopback): add a worker, make one stop its heartbeats or go offline at
//! once, bring it back, fail a VM, make an image fail to clone, and count a VM's watch
//! streams.
//!
//! Locks the store for each change only.

use std::time::SystemTime;

use serde_json::Value;
use tiny_http::Method;

use crate::reply::Reply;
use crate::store::Store;
use crate::{clock, vms, workers};

pub fn handle(method: &Method, segs: &[&str], body: &[u8], store: &Store) -> Reply {
    let m = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => m,
        _ if body.is_empty() => serde_json::Map::new(),
        _ => return Reply::message(400, "the body must be a JSON object"),
    };
    let num = |k: &str, d: u64| m.get(k).and_then(Value::as_u64).unwrap_or(d);
    let text = |k: &str| {
        m.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    match (method, segs) {
        (Method::Post, ["workers"]) => {
            let name = text("name");
            if name.is_empty() {
                return Reply::message(400, "name is required");
            }
            let mut state = store.lock();
            workers::add(
                &mut state,
                &name,
                num("cpu", 10),
                num("memory", 16_384),
                num("slots", 2),
            );
            Reply::json(&state.workers[&name].worker)
        }
        (Method::Post, ["workers", name, action]) => {
            let mut state = store.lock();
            let offline_after = state.offline_after;
            let Some(w) = state.workers.get_mut(*name) else {
                return Reply::empty(404);
            };
            let now = SystemTime::now();
            match *action {
                // Heartbeats stop; the worker turns offline after the offline timeout.
                "silence" => w.heartbeat = false,
                // Heartbeats stop and the last one is already older than the timeout.
                "offline" => {
                    w.heartbeat = false;
                    let long_ago = offline_after + std::time::Duration::from_secs(1);
                    w.seen = now.checked_sub(long_ago).unwrap_or(SystemTime::UNIX_EPOCH);
                    w.worker.last_seen = clock::rfc3339(w.seen);
                }
                "online" => {
                    w.heartbeat = true;
                    w.seen = now;
                    w.worker.last_seen = clock::rfc3339(now);
                }
                _ => return Reply::empty(404),
            }
            Reply::json(&w.worker)
        }
        (Method::Get, ["vms", name, "watchers"]) => Reply::json(&serde_json::json!({
            "watchers": store.lock().watcher_count(name),
        })),
        (Method::Post, ["vms", name, "fail"]) => {
            let message = text("message");
            let message = if message.is_empty() {
                "VM failed"
            } else {
                &message
            };
            if vms::fail(store, name, message) {
                Reply::empty(200)
            } else {
                Reply::empty(404)
            }
        }
        (Method::Post, ["fail-image"]) => {
            let image = text("image");
            if image.is_empty() {
                return Reply::message(400, "image is required");
            }
            store.lock().fail_images.push(image);
            Reply::empty(200)
        }
        _ => Reply::empty(404),
    }
}
