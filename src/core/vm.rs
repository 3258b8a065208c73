//! A VM as the API shows it: the one row type of the inventory, which the inventory
//! fills from `tart`, `vm_actions` reads to list what is allowed, and the handlers
//! answer with. Data only, so every module that names a VM can stand above it.

use serde::Serialize;

/// A VM as the API shows it (`api-spec.md`, "VM"), plus tart's own state and sizes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Vm {
    pub name: String,
    /// Which backend has the VM: always `tart` here (cluster rows say `orchard`).
    pub backend: &'static str,
    /// `running`, `stopped`, or `unknown` for anything else (e.g. `suspended`).
    pub status: &'static str,
    /// tart's own state word, e.g. `suspended`.
    pub state: Option<String>,
    pub ip_address: Option<String>,
    /// `local` or `oci`.
    pub source: Option<String>,
    pub os: Option<String>,
    pub cpu: Option<u64>,
    /// e.g. `8G`.
    pub memory: Option<String>,
    /// e.g. `50G`.
    pub disk_size: Option<String>,
    pub display: Option<String>,
    pub disk_format: Option<String>,
    /// Allocated size on disk, GB.
    pub size_on_disk_gb: Option<f64>,
    /// Last access, ISO-8601, when tart reports it.
    pub accessed: Option<String>,
}
