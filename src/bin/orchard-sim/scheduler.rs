//! Placement, after Orchard's `scheduler.ProcessVMs`: every unscheduled VM, oldest first,
//! goes to a worker that is online, not paused, of the VM's arch and runtime, carries the
//! VM's labels, and has room for the VM's resources. Used resources are the sum over the
//! VMs that hold a place on the worker (`Vm::holds_resources`).
//!
//! CPU and memory: besides the explicit `resources` map (a darwin/tart VM asks for one
//! `org.cirruslabs.tart-vms` slot), a VM's assigned CPU and memory count against the
//! worker's `logical-cores` and `memory-mib` when the worker advertises them.
//!
//! Runs under the store lock (called by the ticker and right after a create).

use std::collections::BTreeMap;

use crate::clock;
use crate::model::{CORES, MEMORY_MIB, Vm, Worker};
use crate::store::{Stage, State};

/// CPU a VM gets when neither it nor its worker names one (Orchard's fallback).
pub const FALLBACK_CPU: u64 = 4;
/// Memory (MiB) a VM gets when neither it nor its worker names one.
pub const FALLBACK_MEMORY: u64 = 8192;

/// What a VM asks of worker `w`: its resources plus its CPU and memory.
pub fn request(vm: &Vm, w: &Worker) -> BTreeMap<String, u64> {
    let mut r = vm.resources.clone();
    r.insert(CORES.into(), cpu_for(vm, w));
    r.insert(MEMORY_MIB.into(), memory_for(vm, w));
    r
}

fn cpu_for(vm: &Vm, w: &Worker) -> u64 {
    [vm.cpu, w.default_cpu, FALLBACK_CPU]
        .into_iter()
        .find(|v| *v > 0)
        .unwrap_or(FALLBACK_CPU)
}

fn memory_for(vm: &Vm, w: &Worker) -> u64 {
    [vm.memory, w.default_memory, FALLBACK_MEMORY]
        .into_iter()
        .find(|v| *v > 0)
        .unwrap_or(FALLBACK_MEMORY)
}

/// The resources the VMs placed on worker `name` use.
pub fn used(state: &State, name: &str) -> BTreeMap<String, u64> {
    let mut sum = BTreeMap::new();
    for e in state.vms.values() {
        if e.vm.worker == name && e.vm.holds_resources() {
            for (k, v) in &e.vm.resources {
                *sum.entry(k.clone()).or_insert(0) += v;
            }
            *sum.entry(CORES.into()).or_insert(0) += e.vm.assigned_cpu;
            *sum.entry(MEMORY_MIB.into()).or_insert(0) += e.vm.assigned_memory;
        }
    }
    sum
}

fn fits(w: &Worker, used: &BTreeMap<String, u64>, want: &BTreeMap<String, u64>) -> bool {
    want.iter().all(|(k, v)| {
        let implicit = k == CORES || k == MEMORY_MIB;
        match w.resources.get(k) {
            Some(total) => total.saturating_sub(*used.get(k).unwrap_or(&0)) >= *v,
            None => implicit || *v == 0,
        }
    })
}

/// Places every unscheduled VM that fits somewhere.
pub fn run(state: &mut State) {
    let mut waiting: Vec<(u64, String)> = state
        .vms
        .values()
        .filter(|e| e.stage == Stage::Waiting)
        .map(|e| (e.seq, e.vm.name.clone()))
        .collect();
    waiting.sort();
    for (_, name) in waiting {
        let vm = state.vms[&name].vm.clone();
        let Some(worker) = pick(state, &vm) else {
            continue;
        };
        let pull = vm.image_pull_policy == "Always";
        let e = state.vms.get_mut(&name).expect("listed above");
        e.vm.worker = worker.name.clone();
        e.vm.scheduled_at = clock::now();
        e.vm.assigned_cpu = cpu_for(&vm, &worker);
        e.vm.assigned_memory = memory_for(&vm, &worker);
        e.vm.set_condition("scheduled", true);
        if pull {
            state.advance(&name, Stage::Pulling, "pulling VM image...");
        } else {
            state.advance(&name, Stage::Cloning, "cloning VM...");
        }
    }
}

/// How many VMs hold a place on worker `name` (the scheduler's idea of "busy").
fn placed(state: &State, name: &str) -> u64 {
    state
        .vms
        .values()
        .filter(|e| e.vm.worker == name && e.vm.holds_resources())
        .count() as u64
}

fn pick(state: &State, vm: &Vm) -> Option<Worker> {
    let mut candidates: Vec<(u64, &Worker)> = state
        .workers
        .values()
        .filter(|we| !state.offline(we) && !we.worker.scheduling_paused)
        .map(|we| &we.worker)
        .filter(|w| w.arch == vm.arch && w.runtime == vm.runtime)
        .filter(|w| vm.labels.iter().all(|(k, v)| w.labels.get(k) == Some(v)))
        .filter_map(|w| {
            let u = used(state, &w.name);
            let busy = placed(state, &w.name);
            fits(w, &u, &request(vm, w)).then_some((busy, w))
        })
        .collect();
    if state.scheduler_profile == "distribute-load" {
        candidates.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.name.cmp(&b.1.name)));
    } else {
        candidates.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.name.cmp(&b.1.name)));
    }
    candidates.first().map(|(_, w)| (*w).clone())
}
