//! The `/v1/vms` handlers: list, create (validation and defaults of `api_vms.go`
//! `createVM`), get, update (`updateVMSpec`: only the power state moves here, and only
//! away from `running`), delete, events with Orchard's pagination, and the IP.
//!
//! Each handler takes the store lock for its own read or change, never across a wait.

use std::collections::BTreeMap;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use crate::clock;
use crate::lifecycle;
use crate::model::{StartupScript, TART_VMS, Vm};
use crate::query::Query;
use crate::reply::Reply;
use crate::scheduler;
use crate::store::{Stage, Store};

/// Longest `?wait=` the IP endpoint honours, so a test's mistake cannot pin a thread.
pub const MAX_IP_WAIT: Duration = Duration::from_secs(120);

/// How often a waiting IP request looks at the VM again.
const IP_POLL: Duration = Duration::from_millis(20);

pub fn list(store: &Store, filter: Option<&str>) -> Reply {
    let worker = filter.and_then(|f| {
        f.split(',')
            .find_map(|p| p.strip_prefix("worker=").map(str::to_string))
    });
    let state = store.lock();
    let vms: Vec<&Vm> = state
        .vms
        .values()
        .map(|e| &e.vm)
        .filter(|vm| worker.as_ref().is_none_or(|w| &vm.worker == w))
        .collect();
    Reply::json(&vms)
}

pub fn get(store: &Store, name: &str) -> Reply {
    match store.lock().vms.get(name) {
        Some(e) => Reply::json(&e.vm),
        None => Reply::empty(404),
    }
}

pub fn delete(store: &Store, name: &str) -> Reply {
    if store.lock().remove(name) {
        Reply::empty(200)
    } else {
        Reply::empty(404)
    }
}

fn object(body: &[u8]) -> Result<Map<String, Value>, Reply> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(Reply::message(400, "failed to parse VM specification")),
    }
}

fn text(m: &Map<String, Value>, key: &str) -> String {
    m.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn uint(m: &Map<String, Value>, key: &str) -> Result<u64, Reply> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(0),
        Some(v) => v.as_u64().ok_or_else(|| {
            Reply::message(400, &format!("failed to parse VM specification: {key}"))
        }),
    }
}

fn flag(m: &Map<String, Value>, key: &str) -> bool {
    m.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// `value` if it is one of `allowed`, `default` if empty, else a 412 naming `what`.
fn choice(value: String, allowed: &[&str], default: &str, what: &str) -> Result<String, Reply> {
    if value.is_empty() {
        Ok(default.into())
    } else if allowed.contains(&value.as_str()) {
        Ok(value)
    } else {
        Err(Reply::message(
            412,
            &format!("unsupported {what}: {value:?}"),
        ))
    }
}

fn valid_name(name: &str) -> bool {
    name.chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '-' | '_' | '.'))
}

pub fn create(store: &Store, body: &[u8]) -> Reply {
    match build(body) {
        Ok(vm) => {
            let mut state = store.lock();
            if state.vms.contains_key(&vm.name) {
                return Reply::message(409, &format!("VM with name {:?} already exists", vm.name));
            }
            let name = vm.name.clone();
            state.insert(vm);
            scheduler::run(&mut state);
            Reply::json(&state.vms[&name].vm)
        }
        Err(r) => r,
    }
}

/// A new VM from a create body, with Orchard's defaults.
pub fn build(body: &[u8]) -> Result<Vm, Reply> {
    let m = object(body)?;
    let name = text(&m, "name");
    if name.is_empty() {
        return Err(Reply::message(412, "VM name is empty"));
    }
    if !valid_name(&name) {
        return Err(Reply::message(
            412,
            "VM name contains invalid characters: only letters, digits, ':', '-', '_' and '.' are allowed",
        ));
    }
    let image = text(&m, "image");
    if image.is_empty() {
        return Err(Reply::message(412, "VM image is empty"));
    }
    let os = choice(text(&m, "os"), &["darwin", "linux"], "darwin", "os")?;
    let arch = choice(
        text(&m, "arch"),
        &["arm64", "amd64"],
        "arm64",
        "architecture",
    )?;
    let runtime = choice(text(&m, "runtime"), &["tart", "vetu"], "tart", "runtime")?;
    let mut resources: BTreeMap<String, u64> = BTreeMap::new();
    if let Some(Value::Object(r)) = m.get("resources") {
        for (k, v) in r {
            let n = v.as_u64().ok_or_else(|| {
                Reply::message(400, "failed to parse VM specification: resources")
            })?;
            resources.insert(k.clone(), n);
        }
    }
    if os == "darwin" && runtime == "tart" {
        resources.entry(TART_VMS.into()).or_insert(1);
    }
    let mut labels = BTreeMap::new();
    if let Some(Value::Object(l)) = m.get("labels") {
        for (k, v) in l {
            labels.insert(k.clone(), v.as_str().unwrap_or_default().to_string());
        }
    }
    let startup_script = match m.get("startup_script") {
        Some(Value::Object(s)) => Some(StartupScript {
            script_content: text(s, "script_content"),
            env: match s.get("env") {
                Some(Value::Object(e)) => e
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect(),
                _ => BTreeMap::new(),
            },
        }),
        _ => None,
    };
    let uid = clock::uuid();
    let local_name = format!("orchard-{name}-{uid}-0");
    let or = |v: String, d: &str| if v.is_empty() { d.to_string() } else { v };
    let mut vm = Vm {
        image,
        image_pull_policy: choice(
            text(&m, "imagePullPolicy"),
            &["IfNotPresent", "Always"],
            "IfNotPresent",
            "image pull policy",
        )?,
        cpu: uint(&m, "cpu")?,
        memory: uint(&m, "memory")?,
        disk_size: uint(&m, "diskSize")?,
        headless: flag(&m, "headless"),
        net_bridged: text(&m, "net-bridged"),
        net_softnet: flag(&m, "netSoftnet"),
        nested: flag(&m, "nested"),
        os,
        arch,
        runtime,
        suspendable: flag(&m, "suspendable"),
        power_state: "running".into(),
        username: or(text(&m, "username"), "admin"),
        password: or(text(&m, "password"), "admin"),
        startup_script,
        local_name: local_name.clone(),
        tart_name: local_name,
        status: "pending".into(),
        restart_policy: choice(
            text(&m, "restart_policy"),
            &["Never", "OnFailure"],
            "Never",
            "restart policy",
        )?,
        uid,
        resources,
        labels,
        name,
        created_at: clock::now(),
        ..Vm::zero()
    };
    vm.set_condition("scheduled", false);
    Ok(vm)
}

pub fn update(store: &Store, name: &str, body: &[u8]) -> Reply {
    let m = match object(body) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let mut state = store.lock();
    let Some(e) = state.vms.get(name) else {
        return Reply::empty(404);
    };
    let vm = &e.vm;
    for (key, current) in [("os", &vm.os), ("arch", &vm.arch), ("runtime", &vm.runtime)] {
        if &text(&m, key) != current {
            return Reply::message(412, &format!("field {key:?} cannot be modified"));
        }
    }
    if vm.status == "failed" {
        return Reply::message(412, "cannot update a failed VM");
    }
    let wanted = text(&m, "powerState");
    let wanted = if wanted.is_empty() {
        vm.power_state.clone()
    } else {
        wanted
    };
    if !["running", "stopped", "suspended"].contains(&wanted.as_str()) {
        return Reply::message(412, &format!("unsupported power state: {wanted:?}"));
    }
    if wanted != vm.power_state && vm.power_state != "running" {
        return Reply::message(
            412,
            &format!(
                "cannot change power state from {:?} to {wanted:?}",
                vm.power_state
            ),
        );
    }
    if wanted == "suspended" && !vm.suspendable {
        return Reply::message(412, "cannot suspend a VM that is not suspendable");
    }
    let softnet = flag(&m, "netSoftnet");
    if wanted != vm.power_state || softnet != vm.net_softnet {
        let started = e.stage != Stage::Waiting;
        let stopping = wanted != vm.power_state;
        let e = state.vms.get_mut(name).expect("looked up above");
        e.vm.generation += 1;
        e.vm.net_softnet = softnet;
        e.vm.power_state = wanted.clone();
        if stopping && started {
            let message = if wanted == "suspended" {
                "Suspending VM"
            } else {
                "Stopping VM"
            };
            state.advance(name, Stage::Stopping, message);
        } else {
            state.touch(name);
        }
    }
    Reply::json(&state.vms[name].vm)
}

pub fn events(store: &Store, name: &str, query: &Query) -> Reply {
    let state = store.lock();
    let Some(e) = state.vms.get(name) else {
        return Reply::empty(404);
    };
    let mut all = e.events.clone();
    if query.get("order") == Some("desc") {
        all.reverse();
    }
    let start: usize = query
        .get("cursor")
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let limit: usize = match query.get("limit").map(str::parse::<usize>) {
        None => usize::MAX,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => return Reply::message(400, "limit must be a positive integer"),
    };
    let page: Vec<_> = all.iter().skip(start).take(limit).cloned().collect();
    let next = start.saturating_add(limit);
    let reply = Reply::json(&page);
    if next < all.len() {
        // Orchard's cursor is opaque; this one is the position of the next page.
        reply.with_header("X-Next-Cursor", &next.to_string())
    } else {
        reply
    }
}

pub fn ip(store: &Store, name: &str, wait: Option<&str>) -> Reply {
    let wait = Duration::from_secs(wait.and_then(|w| w.parse().ok()).unwrap_or(0)).min(MAX_IP_WAIT);
    let deadline = Instant::now() + wait;
    loop {
        {
            let state = store.lock();
            let Some(e) = state.vms.get(name) else {
                return Reply::empty(404);
            };
            if e.vm.status == "failed" {
                return Reply::message(417, "VM is in a failed state");
            }
            if e.vm.status == "running" && e.vm.power_state == "running" {
                let live = state.workers.get(&e.vm.worker).is_some_and(|w| w.heartbeat);
                if !live {
                    return Reply::message(
                        503,
                        "failed to resolve the VM's IP: worker is not connected",
                    );
                }
                return Reply::json(&serde_json::json!({ "ip": fake_ip(&e.vm.uid) }));
            }
            if Instant::now() >= deadline {
                return Reply::message(
                    408,
                    &format!("VM is not running on '{}' worker", e.vm.worker),
                );
            }
        }
        thread::sleep(IP_POLL);
    }
}

/// An address on the worker's NAT network, stable per VM.
fn fake_ip(uid: &str) -> String {
    let n = uid
        .bytes()
        .fold(0u32, |a, b| a.wrapping_mul(31).wrapping_add(b as u32));
    format!("192.168.64.{}", 2 + n % 250)
}

/// Marks VM `name` failed (used by the control API).
pub fn fail(store: &Store, name: &str, message: &str) -> bool {
    let mut state = store.lock();
    if !state.vms.contains_key(name) {
        return false;
    }
    lifecycle::fail(&mut state, name, message);
    true
}
