//! [`LocalTart`]: the local `tart` CLI as a VM host — what it holds (the typed `tart`
//! queries, the timeouts, the run logs' folder, the version cache, the exit hook) and
//! the few questions several request functions ask. Its `Backend` implementation is in
//! `backend_impl.rs`; the requests are carried out in `exec.rs`, `boot.rs` and
//! `shutdown.rs`.
//!
//! Threading: shared by every thread; the version cache and the exit hook sit behind
//! their own small locks, never held across a `tart` call.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use super::version::BinaryId;
use super::{Tart, TartError};
use crate::backend::host::{HostError, HostVersion, VmExitHook, VmState};
use crate::config::Timeouts;

/// A `tart --version` answer and the binary that gave it.
pub(super) type VersionAnswer = (Option<BinaryId>, Result<HostVersion, HostError>);

/// The local tart CLI.
pub struct LocalTart {
    pub(super) tart: Tart,
    pub(super) timeouts: Timeouts,
    /// Where each `tart run` writes its output (`<data-dir>/logs`).
    pub(super) logs: PathBuf,
    /// The last `tart --version` answer and the binary that gave it (`None`: no
    /// binary, so the answer is why not).
    pub(super) version: Mutex<Option<VersionAnswer>>,
    /// Told when a VM this server started stops (see [`Backend::on_vm_exit`]).
    pub(super) exit_hook: OnceLock<VmExitHook>,
}

impl LocalTart {
    pub fn new(tart: Tart, timeouts: Timeouts, logs: PathBuf) -> LocalTart {
        LocalTart {
            tart,
            timeouts,
            logs,
            version: Mutex::new(None),
            exit_hook: OnceLock::new(),
        }
    }

    /// `$TART_HOME` as our `tart` children see it, if known (for the home watcher).
    pub fn home(&self) -> Option<&Path> {
        self.tart.home()
    }

    /// tart's own test: the lock on `config.json`, then `state.vzvmsave`.
    pub(super) fn vm_state(&self, name: &str) -> Option<VmState> {
        let dir = self.tart.home()?.join("vms").join(name);
        let complete = ["config.json", "disk.img", "nvram.bin"]
            .iter()
            .all(|f| dir.join(f).is_file());
        if !complete {
            return None;
        }
        Some(if super::prune::is_running(&dir.join("config.json")) {
            VmState::Running
        } else if dir.join("state.vzvmsave").exists() {
            VmState::Suspended
        } else {
            VmState::Stopped
        })
    }

    /// Whether a `tart run` holds `name` now: its lock when we can ask it, else `tart list`.
    pub(super) fn run_holds(&self, name: &str) -> bool {
        if let Some(holds) = self.tart.run_holds(name) {
            return holds;
        }
        self.tart.list().is_ok_and(|entries| {
            entries
                .iter()
                .any(|e| e.name == name && e.state.as_deref() == Some("running"))
        })
    }
}

impl From<TartError> for HostError {
    fn from(e: TartError) -> HostError {
        match e {
            TartError::Unavailable(why) => HostError::Unavailable(format!("tart not found: {why}")),
            TartError::Failed { message, .. } if message.contains("does not exist") => {
                HostError::NotFound(message)
            }
            other => HostError::Failed(other.to_string()),
        }
    }
}
