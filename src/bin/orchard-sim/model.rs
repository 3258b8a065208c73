//! Orchard's wire objects (`pkg/resource/v1`) as the simulator serves them: `Vm`,
//! `Worker`, `Event`, with Orchard's mixed key spelling (`status_message`, `net-bridged`,
//! `assignedCPU`...) and Go's `omitempty` (a deleted VM's watch object is Go's zero VM:
//! only the generations and the zero timestamps remain).
//!
//! Plain data; the store owns every instance and serializes it under its lock.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::clock::ZERO_TIME;

/// The resource a darwin/tart VM always requests: one Tart VM slot.
pub const TART_VMS: &str = "org.cirruslabs.tart-vms";
/// A worker's logical CPU cores.
pub const CORES: &str = "org.cirruslabs.logical-cores";
/// A worker's memory in MiB.
pub const MEMORY_MIB: &str = "org.cirruslabs.memory-mib";

fn is_zero(v: &u64) -> bool {
    *v == 0
}

fn is_false(v: &bool) -> bool {
    !*v
}

/// One entry of `conditions`: `{"type": "scheduled"|"running", "state": "true"|"false"}`.
#[derive(Serialize, Clone, Debug)]
pub struct Condition {
    #[serde(rename = "type")]
    pub kind: String,
    pub state: String,
}

/// `startup_script`: a shell script the worker runs in the guest over SSH.
#[derive(Serialize, Clone, Debug, Default)]
pub struct StartupScript {
    pub script_content: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
}

/// A VM resource in the field order of Orchard's Go struct.
#[derive(Serialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct Vm {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub image: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub image_pull_policy: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub cpu: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub memory: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub disk_size: u64,
    #[serde(skip_serializing_if = "is_false")]
    pub headless: bool,
    #[serde(rename = "net-bridged", skip_serializing_if = "String::is_empty")]
    pub net_bridged: String,
    #[serde(skip_serializing_if = "is_false")]
    pub net_softnet: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub nested: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub os: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub arch: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub runtime: String,
    #[serde(skip_serializing_if = "is_false")]
    pub suspendable: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub power_state: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub username: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub password: String,
    #[serde(rename = "startup_script", skip_serializing_if = "Option::is_none")]
    pub startup_script: Option<StartupScript>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub local_name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub tart_name: String,
    pub observed_generation: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub status: String,
    #[serde(rename = "status_message", skip_serializing_if = "String::is_empty")]
    pub status_message: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub worker: String,
    #[serde(rename = "assignedCPU", skip_serializing_if = "is_zero")]
    pub assigned_cpu: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub assigned_memory: u64,
    #[serde(rename = "restart_policy", skip_serializing_if = "String::is_empty")]
    pub restart_policy: String,
    #[serde(rename = "restarted_at")]
    pub restarted_at: String,
    #[serde(rename = "restart_count", skip_serializing_if = "is_zero")]
    pub restart_count: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub uid: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub resources: BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(rename = "image_fqn", skip_serializing_if = "String::is_empty")]
    pub image_fqn: String,
    #[serde(rename = "scheduled_at")]
    pub scheduled_at: String,
    #[serde(rename = "started_at")]
    pub started_at: String,
    pub generation: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    pub created_at: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub version: u64,
}

impl Vm {
    /// Go's zero VM, which a watch stream's `DELETED` line carries.
    pub fn zero() -> Vm {
        Vm {
            restarted_at: ZERO_TIME.into(),
            scheduled_at: ZERO_TIME.into(),
            started_at: ZERO_TIME.into(),
            created_at: ZERO_TIME.into(),
            ..Vm::default()
        }
    }

    /// The state of condition `kind`, if the VM carries it.
    pub fn condition(&self, kind: &str) -> Option<bool> {
        self.conditions
            .iter()
            .find(|c| c.kind == kind)
            .map(|c| c.state == "true")
    }

    /// Sets (or adds) condition `kind`.
    pub fn set_condition(&mut self, kind: &str, state: bool) {
        let state = if state { "true" } else { "false" }.to_string();
        match self.conditions.iter_mut().find(|c| c.kind == kind) {
            Some(c) => c.state = state,
            None => self.conditions.push(Condition {
                kind: kind.into(),
                state,
            }),
        }
    }

    /// Whether the scheduler counts this VM against its worker's resources: the
    /// `scheduled` condition is true, or, with no such condition, a worker is set.
    pub fn holds_resources(&self) -> bool {
        match self.condition("scheduled") {
            Some(s) => s,
            None => !self.worker.is_empty(),
        }
    }
}

/// A worker resource as `GET /v1/workers` shows it.
#[derive(Serialize, Clone, Debug)]
pub struct Worker {
    pub name: String,
    #[serde(rename = "createdAt")]
    pub created_at: String,
    pub last_seen: String,
    pub machine_id: String,
    pub scheduling_paused: bool,
    pub resources: BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(rename = "defaultCPU", skip_serializing_if = "is_zero")]
    pub default_cpu: u64,
    #[serde(rename = "defaultMemory", skip_serializing_if = "is_zero")]
    pub default_memory: u64,
    pub arch: String,
    pub runtime: String,
}

/// One `log_line` event of a VM.
#[derive(Serialize, Clone, Debug)]
pub struct Event {
    pub kind: String,
    pub timestamp: u64,
    pub payload: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_vm_keeps_only_what_go_keeps() {
        let v = serde_json::to_value(Vm::zero()).unwrap();
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 6, "{v}");
        assert_eq!(v["createdAt"], ZERO_TIME);
        assert_eq!(v["generation"], 0);
    }
}
