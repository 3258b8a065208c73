//! The fake workers: heartbeats, the health check that fails the VMs of a silent worker,
//! and each VM's progression (pull → clone → configure → running → running condition,
//! stop), one `State::phase` per step, as Orchard's synthetic worker reports them.
//!
//! `spawn_ticker` runs `tick` every `TICK` on its own thread; a tick holds the store lock
//! for its whole pass (no I/O inside).

use std::thread;
use std::time::{Duration, Instant, SystemTime};

use crate::clock;
use crate::model::Event;
use crate::scheduler;
use crate::store::{Stage, State, Store};

/// How often the simulated controller and workers act: small against any `--phase-ms`
/// a test uses, large enough to stay idle on a shared machine.
pub const TICK: Duration = Duration::from_millis(20);

/// How often a live worker refreshes `last_seen` (Orchard's workers: 15 s).
pub const HEARTBEAT: Duration = Duration::from_secs(15);

/// Starts the ticker thread; it runs for the life of the process.
pub fn spawn_ticker(store: Store) {
    thread::Builder::new()
        .name("orchard-sim-ticker".into())
        .spawn(move || {
            loop {
                thread::sleep(TICK);
                tick(&mut store.lock());
            }
        })
        .expect("cannot start the ticker thread");
}

/// One pass: heartbeats, health check, scheduling, VM progression.
pub fn tick(state: &mut State) {
    heartbeats(state);
    health_check(state);
    scheduler::run(state);
    let due: Vec<String> = state
        .vms
        .values()
        .filter(|e| e.since.elapsed() >= state.phase)
        .filter(|e| state.workers.get(&e.vm.worker).is_some_and(|w| w.heartbeat))
        .map(|e| e.vm.name.clone())
        .collect();
    for name in due {
        step(state, &name);
    }
}

fn heartbeats(state: &mut State) {
    let now = SystemTime::now();
    for w in state.workers.values_mut() {
        if w.heartbeat && now.duration_since(w.seen).unwrap_or_default() >= HEARTBEAT {
            w.seen = now;
            w.worker.last_seen = clock::rfc3339(now);
        }
    }
}

fn health_check(state: &mut State) {
    let mut doomed = Vec::new();
    for e in state.vms.values() {
        if e.vm.worker.is_empty() || matches!(e.stage, Stage::Failed | Stage::Stopped) {
            continue;
        }
        match state.workers.get(&e.vm.worker) {
            None => doomed.push((
                e.vm.name.clone(),
                "VM is assigned to a worker that doesn't exist anymore",
            )),
            Some(w) if state.offline(w) => doomed.push((
                e.vm.name.clone(),
                "VM is assigned to a worker that lost connection with the controller",
            )),
            Some(_) => {}
        }
    }
    for (name, why) in doomed {
        fail(state, &name, why);
    }
}

/// Marks VM `name` failed with `message`; it gives up its place on the worker.
pub fn fail(state: &mut State, name: &str, message: &str) {
    if let Some(e) = state.vms.get_mut(name) {
        e.vm.status = "failed".into();
        e.vm.set_condition("scheduled", false);
        e.vm.set_condition("running", false);
    }
    state.advance(name, Stage::Failed, message);
}

/// Moves VM `name` one phase on.
fn step(state: &mut State, name: &str) {
    let Some(e) = state.vms.get(name) else {
        return;
    };
    let image = e.vm.image.clone();
    let script =
        e.vm.startup_script
            .as_ref()
            .map(|s| s.script_content.clone());
    match e.stage {
        Stage::Pulling => state.advance(name, Stage::Cloning, "cloning VM..."),
        Stage::Cloning => {
            if state.fail_images.iter().any(|f| image.contains(f.as_str())) {
                let why = format!(
                    "failed to clone the VM: tart command returned non-zero exit code: \
                     \"Error: remote image {image} not found\""
                );
                fail(state, name, &why);
            } else {
                state.advance(name, Stage::Configuring, "configuring VM...");
            }
        }
        Stage::Configuring => {
            let e = state.vms.get_mut(name).expect("looked up above");
            e.vm.status = "running".into();
            e.vm.started_at = clock::now();
            e.vm.image_fqn = format!("{}@sha256:{}", base_of(&image), fake_digest(&e.vm.uid));
            let message = if script.is_some() {
                "VM started, running startup script..."
            } else {
                "VM started"
            };
            state.advance(name, Stage::Booting, message);
        }
        Stage::Booting => boot_done(state, name, script.as_deref()),
        Stage::Stopping => {
            let e = state.vms.get_mut(name).expect("looked up above");
            e.vm.set_condition("running", false);
            e.vm.set_condition("scheduled", false);
            e.vm.observed_generation = e.vm.generation;
            let message = if e.vm.power_state == "suspended" {
                "VM suspended"
            } else {
                "VM stopped"
            };
            state.advance(name, Stage::Stopped, message);
        }
        Stage::Waiting | Stage::Running | Stage::Stopped | Stage::Failed => {
            if let Some(e) = state.vms.get_mut(name) {
                e.since = Instant::now();
            }
        }
    }
}

/// The worker reports the VM running; a startup script's lines become events, and a
/// line `exit N` (N > 0) ends the script with that status, failing the VM.
fn boot_done(state: &mut State, name: &str, script: Option<&str>) {
    let e = state.vms.get_mut(name).expect("caller looked it up");
    e.vm.set_condition("running", true);
    e.vm.observed_generation = e.vm.generation;
    let mut exit = 0;
    for l in script.unwrap_or_default().lines() {
        if let Some(code) = l.trim().strip_prefix("exit ") {
            exit = code.trim().parse().unwrap_or(1);
            break;
        }
        e.events.push(Event {
            kind: "log_line".into(),
            timestamp: clock::unix_now(),
            payload: l.to_string(),
        });
    }
    let message = e.vm.status_message.clone();
    if exit != 0 {
        let why =
            format!("VM failed: failed to run startup script: Process exited with status {exit}");
        fail(state, name, &why);
    } else {
        let message = if script.is_some() {
            "VM started"
        } else {
            &message
        };
        state.advance(name, Stage::Running, message);
    }
}

fn base_of(image: &str) -> &str {
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.rfind(':') {
        Some(i) => &image[..image.len() - (last.len() - i)],
        None => image,
    }
}

fn fake_digest(uid: &str) -> String {
    let hex: String = uid.chars().filter(|c| *c != '-').collect();
    hex.repeat(2)
}
