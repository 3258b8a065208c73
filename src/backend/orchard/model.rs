//! Orchard's VM and worker JSON as the server reads it (lenient: every field defaults,
//! unknown ones are ignored), and what the server shows of them: VM rows with the status
//! mapping of api-next §8, the actions Orchard can do, and worker rows with used
//! resources counted as Orchard's scheduler counts them.
//!
//! Pure data and functions; no I/O.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

/// Orchard's Tart VM slot resource.
pub const TART_VMS: &str = "org.cirruslabs.tart-vms";
/// A worker's logical cores.
pub const CORES: &str = "org.cirruslabs.logical-cores";
/// A worker's memory, MiB.
pub const MEMORY_MIB: &str = "org.cirruslabs.memory-mib";

/// How long a worker may be silent and still count as online: Orchard's default
/// `--worker-offline-timeout` (3 minutes; the real value is not visible to clients).
pub const WORKER_ONLINE_WINDOW_SECS: u64 = 180;

/// One entry of a VM's `conditions`.
#[derive(Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(default)]
pub struct Condition {
    #[serde(rename = "type")]
    pub kind: String,
    pub state: String,
}

/// An Orchard VM, as far as the server uses it.
#[derive(Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct OrchardVm {
    pub name: String,
    pub image: String,
    pub cpu: u64,
    pub memory: u64,
    pub disk_size: u64,
    pub os: String,
    pub arch: String,
    pub runtime: String,
    pub power_state: String,
    pub status: String,
    #[serde(rename = "status_message")]
    pub status_message: String,
    pub worker: String,
    pub conditions: Vec<Condition>,
    #[serde(rename = "assignedCPU")]
    pub assigned_cpu: u64,
    pub assigned_memory: u64,
    pub resources: BTreeMap<String, u64>,
    pub generation: u64,
    pub observed_generation: u64,
    pub uid: String,
    pub created_at: String,
    #[serde(rename = "started_at")]
    pub started_at: String,
    #[serde(rename = "image_fqn")]
    pub image_fqn: String,
    pub local_name: String,
    pub suspendable: bool,
}

impl OrchardVm {
    pub fn condition(&self, kind: &str) -> Option<bool> {
        self.conditions
            .iter()
            .find(|c| c.kind == kind)
            .map(|c| c.state == "true")
    }

    /// Whether Orchard's scheduler counts this VM against its worker.
    pub fn holds_resources(&self) -> bool {
        self.condition("scheduled")
            .unwrap_or(!self.worker.is_empty())
    }

    /// Our `status`: running only when Orchard runs it and its power state is running;
    /// stopped for a stopped or suspended power state; unknown for pending or failed.
    pub fn row_status(&self) -> &'static str {
        match (self.status.as_str(), self.power_state.as_str()) {
            (_, "stopped" | "suspended") if self.status != "failed" => "stopped",
            ("running", "running" | "") => "running",
            _ => "unknown",
        }
    }

    /// What can be done to it through Orchard: delete always; stop (one way) while it
    /// runs or waits. Start, clone, settings and rename have no Orchard operation.
    pub fn actions(&self) -> Vec<&'static str> {
        let mut a = Vec::new();
        if self.status != "failed" && matches!(self.power_state.as_str(), "running" | "") {
            a.push("stop");
        }
        a.push("delete");
        a
    }

    /// The CPUs it has: what its worker assigned once scheduled, else what it asked for.
    pub fn effective_cpu(&self) -> u64 {
        if self.assigned_cpu > 0 {
            self.assigned_cpu
        } else {
            self.cpu
        }
    }

    /// Its memory in MiB, the same way as [`OrchardVm::effective_cpu`].
    pub fn effective_memory(&self) -> u64 {
        if self.assigned_memory > 0 {
            self.assigned_memory
        } else {
            self.memory
        }
    }

    /// The row `GET /api/vms` shows.
    pub fn row(&self) -> Value {
        let (cpu, memory) = (self.effective_cpu(), self.effective_memory());
        json!({
            "name": self.name,
            "backend": "orchard",
            "status": self.row_status(),
            "state": if self.row_status() == "stopped" { &self.power_state } else { &self.status },
            "worker": if self.worker.is_empty() { Value::Null } else { json!(self.worker) },
            "status_message": self.status_message,
            "ip_address": Value::Null,
            "source": Value::Null,
            "image": self.image,
            "os": (!self.os.is_empty()).then_some(&self.os),
            "cpu": (cpu > 0).then_some(cpu),
            "memory": (memory > 0).then(|| mib_text(memory)),
            "disk_size": (self.disk_size > 0).then(|| format!("{}G", self.disk_size)),
            "power_state": self.power_state,
            "uid": self.uid,
            "created_at": self.created_at,
            "actions": self.actions(),
        })
    }
}

/// MiB as tart's size words: `8G` when whole GiB, else `1536M`.
fn mib_text(mib: u64) -> String {
    if mib.is_multiple_of(1024) {
        format!("{}G", mib / 1024)
    } else {
        format!("{mib}M")
    }
}

/// An Orchard worker.
#[derive(Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(default)]
pub struct OrchardWorker {
    pub name: String,
    pub last_seen: String,
    pub scheduling_paused: bool,
    pub resources: BTreeMap<String, u64>,
    pub arch: String,
    pub runtime: String,
}

/// The `GET /api/workers` row of `w`, given every VM of the cluster and the time now.
pub fn worker_row(w: &OrchardWorker, vms: &[OrchardVm], now_unix: u64) -> Value {
    let placed: Vec<&OrchardVm> = vms
        .iter()
        .filter(|v| v.worker == w.name && v.holds_resources())
        .collect();
    let total = |k: &str| w.resources.get(k).copied();
    let online = unix_seconds(&w.last_seen)
        .is_some_and(|seen| now_unix.saturating_sub(seen) <= WORKER_ONLINE_WINDOW_SECS);
    json!({
        "name": w.name,
        "backend": "orchard",
        "online": online,
        "last_seen": w.last_seen,
        "paused": w.scheduling_paused,
        "cpu_total": total(CORES),
        "cpu_used": placed.iter().map(|v| v.assigned_cpu).sum::<u64>(),
        "memory_total_mb": total(MEMORY_MIB),
        "memory_used_mb": placed.iter().map(|v| v.assigned_memory).sum::<u64>(),
        "vms_total": total(TART_VMS),
        "vms_used": placed.iter().map(|v| v.resources.get(TART_VMS).copied().unwrap_or(0)).sum::<u64>(),
        "arch": w.arch,
        "runtime": w.runtime,
    })
}

/// Seconds since the epoch of an RFC 3339 time (`2026-01-02T03:04:05[.frac](Z|±hh:mm)`).
pub fn unix_seconds(t: &str) -> Option<u64> {
    let b = t.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| t.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &t[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        rest = frac.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 => {
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            sign * (rest.get(1..3)?.parse::<i64>().ok()? * 3600
                + rest.get(4..6)?.parse::<i64>().ok()? * 60)
        }
        _ => return None,
    };
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + h * 3600 + mi * 60 + s - offset).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vm(status: &str, power: &str) -> OrchardVm {
        OrchardVm {
            name: "a".into(),
            status: status.into(),
            power_state: power.into(),
            ..OrchardVm::default()
        }
    }

    #[test]
    fn status_mapping_follows_api_next_section_8() {
        assert_eq!(vm("running", "running").row_status(), "running");
        assert_eq!(vm("running", "stopped").row_status(), "stopped");
        assert_eq!(vm("running", "suspended").row_status(), "stopped");
        assert_eq!(vm("pending", "running").row_status(), "unknown");
        assert_eq!(vm("failed", "running").row_status(), "unknown");
        assert_eq!(vm("pending", "running").row()["state"], "pending");
        assert_eq!(vm("failed", "running").actions(), ["delete"]);
        assert_eq!(vm("running", "stopped").actions(), ["delete"]);
        assert_eq!(vm("running", "running").actions(), ["stop", "delete"]);
    }

    #[test]
    fn parses_rfc3339() {
        assert_eq!(unix_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(unix_seconds("2024-02-29T23:59:59Z"), Some(1_709_251_199));
        assert_eq!(
            unix_seconds("2024-03-01T01:59:59.5+02:00"),
            Some(1_709_251_199)
        );
        assert_eq!(unix_seconds("0001-01-01T00:00:00Z"), None);
        assert_eq!(unix_seconds("yesterday"), None);
    }

    #[test]
    fn used_resources_count_only_placed_vms() {
        let w = OrchardWorker {
            name: "w".into(),
            last_seen: "2026-01-01T00:00:00Z".into(),
            resources: BTreeMap::from([(TART_VMS.into(), 2), (CORES.into(), 10)]),
            ..OrchardWorker::default()
        };
        let mut placed = vm("running", "running");
        placed.worker = "w".into();
        placed.assigned_cpu = 4;
        placed.resources.insert(TART_VMS.into(), 1);
        placed.conditions = vec![Condition {
            kind: "scheduled".into(),
            state: "true".into(),
        }];
        let mut stopped = placed.clone();
        stopped.conditions[0].state = "false".into();
        let now = unix_seconds("2026-01-01T00:02:00Z").unwrap();
        let row = worker_row(&w, &[placed, stopped], now);
        assert_eq!(row["cpu_used"], 4);
        assert_eq!(row["vms_used"], 1);
        assert_eq!(row["online"], true);
        assert_eq!(worker_row(&w, &[], now + 3600)["online"], false);
    }
}
