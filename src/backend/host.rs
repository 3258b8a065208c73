//! The backend seam: what the core asks of a VM host, and nothing of how the host is
//! driven. The local `tart` CLI ([`super::tart::LocalTart`]) is the first implementation;
//! a host is anything that can list VMs, describe one, and carry out an [`OpRequest`]
//! while reporting its progress into an [`OpSink`].
//!
//! The core holds an `Arc<dyn Backend>` and never names `tart`: no argv, no `$TART_HOME`,
//! no output format crosses this file. What an operation *is* (its keys, lane, checks,
//! effect and result) lives in `core::ops`; how a host *does* it lives behind
//! [`Backend::execute`].

use std::collections::{HashMap, HashSet};
use std::time::Duration;

pub use super::tart::lifecycle::SetChanges;
pub use super::tart::parse::{ListEntry, VmDetails};
pub use super::tart::prune::{Entries, Entry as PruneEntry, PruneOptions, total_bytes};
pub use super::tart::run::{Display, Network, SharedDir, StartOptions};
pub use crate::process::supervisor::Cancel;

/// A VM's state as its host sees it *now* (not as the cache last saw it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VmState {
    Running,
    Suspended,
    Stopped,
}

/// What an empty VM runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmptyOs {
    Linux,
    /// macOS from `latest`, an https URL or a path to a restore image.
    Macos {
        ipsw: String,
    },
}

/// A registry password; shown as `Password(…)` when debug-printed, so no panic message
/// or log line can carry it. It never goes into argv (every local user can read a
/// process's argv), a task, the journal or a log line.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub fn new(text: String) -> Password {
        Password(text)
    }

    /// The secret itself, for the one place that hands it to the host.
    pub fn reveal(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(…)")
    }
}

/// One thing a host is asked to do. Names and values are checked by the core first
/// (`core::validate`); a host may rely on that.
#[derive(Debug, Clone)]
pub enum OpRequest {
    /// Power the VM off.
    Stop {
        name: String,
    },
    /// Ask the guest to shut down, waiting up to `timeout`, then power it off.
    ShutDown {
        name: String,
        timeout: Duration,
    },
    Delete {
        name: String,
    },
    /// Bring an image into the host's cache.
    Pull {
        reference: String,
    },
    /// Start the VM and return once it proved it runs.
    Start {
        name: String,
        options: StartOptions,
    },
    /// Copy a local VM or an image to a new VM.
    Clone {
        source: String,
        new_name: String,
    },
    /// Make an empty VM.
    Create {
        name: String,
        os: EmptyOs,
        disk_gb: u64,
    },
    /// Change a stopped VM's settings.
    Configure {
        name: String,
        changes: SetChanges,
    },
    Rename {
        name: String,
        new_name: String,
    },
    /// Save a running VM's state and stop it.
    Suspend {
        name: String,
    },
    /// Remove old or excess cached images or VMs.
    Prune {
        options: PruneOptions,
    },
    Login {
        host: String,
        username: String,
        password: Password,
        insecure: bool,
    },
    Logout {
        host: String,
    },
    /// Make a VM from an image with the given resources, start it without a window, and
    /// return once it runs (a cluster: on whichever of its machines it places it).
    Provision(Provision),
}

/// A VM to make from an image ([`OpRequest::Provision`]). `None` leaves a value to the
/// host (its default CPU and memory) or the image (its disk).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provision {
    pub name: String,
    /// An OCI reference.
    pub image: String,
    pub cpu: Option<u64>,
    pub memory_mib: Option<u64>,
    pub disk_gb: Option<u64>,
    /// A script the guest runs once it is up; its output becomes the request's log.
    pub startup_script: Option<String>,
}

/// What a host did, when it succeeded.
#[derive(Debug, Clone, PartialEq)]
pub enum Done {
    /// The request is carried out; nothing more to say.
    Ok,
    /// The VM runs, with what the start learned.
    Started(Started),
    /// The guest shut down by itself (a graceful stop that did not need the power-off).
    ShutDown,
    /// What a prune removed, oldest access first.
    Pruned(Vec<PruneEntry>),
    /// A provisioned VM runs: `backend` is the host's [`Backend::kind`], `machine` the
    /// one of its machines that runs it (a cluster's worker).
    Provisioned {
        backend: &'static str,
        machine: String,
    },
}

/// What a completed start reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Started {
    pub display: Display,
    pub suspendable: bool,
    pub ip: Option<String>,
    /// The screen's URL exactly as the host printed it.
    pub vnc_url: Option<String>,
}

/// Why a request did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Its cancel switch fired; whatever ran was ended.
    Cancelled,
    /// One readable sentence (the host's last meaningful line, capped); the exit code and
    /// the stderr tail went to the sink before.
    Failed(String),
}

/// Where a host reports a request's progress: the core's task, usually. Every method
/// is cheap and never blocks on the host.
pub trait OpSink {
    /// The exact argv of the call that runs now (the task's `command`); the task runs.
    fn command(&mut self, argv: Vec<String>);
    /// Output lines, already cleaned of terminal escapes; `skipped` lines were lost
    /// between two reads (a log cut) and are only counted.
    fn lines(&mut self, lines: Vec<String>, skipped: u64);
    /// A line of the server's own words about what it does (not the host's output).
    fn note(&mut self, line: String);
    /// Progress of the current phase in percent (`None` clears it).
    fn progress(&mut self, percent: Option<f64>);
    /// The current phase (`pulling`, `downloading`, …; `None` clears it).
    fn stage(&mut self, stage: Option<&str>);
    /// How the last call ended: its exit code and the tail of its stderr.
    fn exited(&mut self, code: Option<i32>, stderr: &str);
    /// The request's cancel switch, when it may be cancelled while it runs.
    fn cancel(&self) -> Option<&Cancel>;
    /// True once the server began to shut down: long waits end early.
    fn shutting_down(&self) -> bool;
}

/// Why a query to a host failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostError {
    /// The host cannot be reached at all (`tart` missing, a cluster down).
    Unavailable(String),
    /// The host has no such VM.
    NotFound(String),
    /// The host answered with a failure; the text says how.
    Failed(String),
    /// The host would not do what was asked of the VM as it is now; the text says why.
    Refused(String),
}

impl std::fmt::Display for HostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HostError::Unavailable(m)
            | HostError::NotFound(m)
            | HostError::Failed(m)
            | HostError::Refused(m) => f.write_str(m),
        }
    }
}

/// What a host can do at all; a VM row's `actions` never offers more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// Save a running VM's state (`suspend`) — tart: macOS guests only.
    pub suspend: bool,
    pub rename: bool,
    /// Change CPU, memory, display, disk of a stopped VM.
    pub settings: bool,
    /// Copy a VM or an image to a new VM.
    pub clone: bool,
    /// A screen the server can proxy to the browser.
    pub console: bool,
}

impl Capabilities {
    /// Everything (the local tart CLI).
    pub const ALL: Capabilities = Capabilities {
        suspend: true,
        rename: true,
        settings: true,
        clone: true,
        console: true,
    };

    /// Whether the host can do the VM row action `word` (`start`, `suspend`, …) at all.
    pub fn allow(&self, word: &str) -> bool {
        match word {
            "suspend" => self.suspend,
            "rename" => self.rename,
            "settings" => self.settings,
            "clone" => self.clone,
            _ => true,
        }
    }
}

/// The host's version and whether this server drives it well.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostVersion {
    pub version: String,
    /// Empty when supported; otherwise why not, in plain words.
    pub warnings: Vec<String>,
}

/// A VM host. Implementations are shared by every thread (`Send + Sync`); each method
/// may block on the host for a bounded time and must never be called on an HTTP worker
/// except the ones documented as cheap.
pub trait Backend: Send + Sync {
    /// The word VM rows carry in `backend` (`tart`).
    fn kind(&self) -> &'static str;

    /// What this host can do at all.
    fn capabilities(&self) -> Capabilities;

    /// The host's version, asked of the host unless remembered for the host as it is
    /// now (may block: call it from a background thread).
    fn version(&self) -> Result<HostVersion, HostError>;

    /// The answer [`Backend::version`] last gave, while the host is unchanged since;
    /// `None` when it must be asked again. Cheap.
    fn known_version(&self) -> Option<Result<HostVersion, HostError>>;

    /// Every VM and cached image the host has.
    fn list(&self) -> Result<Vec<ListEntry>, HostError>;

    /// One VM's settings, asked of the host.
    fn details(&self, name: &str) -> Result<VmDetails, HostError>;

    /// Settings of the listed local VMs that can be had without asking the host (from
    /// its files), for a refresh; a VM missing from the answer is asked with
    /// [`Backend::details`]. `listed` is every local VM the last [`Backend::list`] named.
    fn details_from_files(&self, listed: &HashSet<&str>) -> HashMap<String, VmDetails>;

    /// A running VM's address, `None` when it has none yet.
    fn ip(&self, name: &str) -> Result<Option<String>, HostError>;

    /// A local VM's state read afresh without running the host's CLI; `None` when that
    /// cannot be told this way (then refresh and ask the list). Cheap.
    fn state_now(&self, name: &str) -> Option<VmState>;

    /// Whether anything (a VM, a stray folder) holds `name` now. Cheap.
    fn name_in_use(&self, name: &str) -> bool;

    /// A local VM's disk size in GB, from its files. Cheap.
    fn disk_gb(&self, name: &str) -> Option<u64>;

    /// The VM's guest OS (`darwin`, `linux`) from its files. Cheap.
    fn guest_os(&self, name: &str) -> Option<String>;

    /// What a prune with `options` would remove now (a preview; changes nothing).
    fn prune_preview(&self, options: &PruneOptions) -> Result<Vec<PruneEntry>, HostError>;

    /// Whether the image `repository:tag` is in the host's cache. Cheap.
    fn has_image(&self, repository: &str, tag: &str) -> bool;

    /// Calls `hook(name, saved)` on a host thread whenever a VM this server started
    /// stops (`saved`: it left a saved state, a suspend). Set once, at start-up.
    fn on_vm_exit(&self, hook: VmExitHook);

    /// Whether the host would carry out `request` on its VM as it is now, asked before a
    /// task is made (may block for one query): for a host whose rules the core does not
    /// know, such as a cluster whose power state only goes one way. `NotFound` when the
    /// VM is not there, `Refused` with the reason when its state does not allow it. The
    /// default admits everything: the core checks the local host's rules itself
    /// (`core::ops`).
    fn admits(&self, _request: &OpRequest) -> Result<(), HostError> {
        Ok(())
    }

    /// Carries out `request`, reporting into `sink`; blocks until it is done.
    fn execute(&self, request: OpRequest, sink: &mut dyn OpSink) -> Result<Done, Failure>;
}

/// See [`Backend::on_vm_exit`].
pub type VmExitHook = std::sync::Arc<dyn Fn(&str, bool) + Send + Sync>;
