//! The `/v1/workers` and `/v1/cluster-settings` handlers, and the making of fake workers.
//!
//! Handlers lock the store for their own read or change only.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde_json::{Value, json};

use crate::clock;
use crate::model::{CORES, MEMORY_MIB, TART_VMS, Worker};
use crate::reply::Reply;
use crate::store::{State, Store, WorkerEntry};

/// Adds (or replaces) a fake worker with `cpu` cores, `memory` MiB and `slots` Tart VM
/// slots, heartbeating from now on.
pub fn add(state: &mut State, name: &str, cpu: u64, memory: u64, slots: u64) {
    let now = SystemTime::now();
    let resources = BTreeMap::from([
        (TART_VMS.to_string(), slots),
        (CORES.to_string(), cpu),
        (MEMORY_MIB.to_string(), memory),
    ]);
    let worker = Worker {
        name: name.into(),
        created_at: clock::rfc3339(now),
        last_seen: clock::rfc3339(now),
        machine_id: clock::uuid().replace('-', ""),
        scheduling_paused: false,
        resources,
        labels: BTreeMap::from([(
            "org.cirruslabs.orchard.worker-name".to_string(),
            name.to_string(),
        )]),
        default_cpu: 4,
        default_memory: 8192,
        arch: "arm64".into(),
        runtime: "tart".into(),
    };
    state.workers.insert(
        name.into(),
        WorkerEntry {
            worker,
            heartbeat: true,
            seen: now,
        },
    );
}

pub fn list(store: &Store) -> Reply {
    let state = store.lock();
    let all: Vec<&Worker> = state.workers.values().map(|w| &w.worker).collect();
    Reply::json(&all)
}

pub fn get(store: &Store, name: &str) -> Reply {
    match store.lock().workers.get(name) {
        Some(w) => Reply::json(&w.worker),
        None => Reply::empty(404),
    }
}

/// Pause or resume: Orchard finds the worker by the body's `name`, not the path's.
pub fn update(store: &Store, body: &[u8]) -> Reply {
    let Ok(Value::Object(m)) = serde_json::from_slice::<Value>(body) else {
        return Reply::message(400, "failed to parse worker");
    };
    let name = m.get("name").and_then(Value::as_str).unwrap_or_default();
    let mut state = store.lock();
    let Some(w) = state.workers.get_mut(name) else {
        return Reply::empty(404);
    };
    w.worker.scheduling_paused = m
        .get("scheduling_paused")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    Reply::json(&w.worker)
}

pub fn delete(store: &Store, name: &str) -> Reply {
    if store.lock().workers.remove(name).is_some() {
        Reply::empty(200)
    } else {
        Reply::empty(404)
    }
}

pub fn settings(store: &Store) -> Reply {
    let state = store.lock();
    Reply::json(&json!({
        "hostDirPolicies": [],
        "schedulerProfile": state.scheduler_profile,
    }))
}

pub fn set_settings(store: &Store, body: &[u8]) -> Reply {
    let Ok(Value::Object(m)) = serde_json::from_slice::<Value>(body) else {
        return Reply::message(400, "failed to parse cluster settings");
    };
    let profile = m
        .get("schedulerProfile")
        .and_then(Value::as_str)
        .unwrap_or("optimize-utilization");
    if !["optimize-utilization", "distribute-load"].contains(&profile) {
        return Reply::message(412, &format!("unsupported scheduler profile: {profile:?}"));
    }
    store.lock().scheduler_profile = profile.into();
    settings(store)
}
