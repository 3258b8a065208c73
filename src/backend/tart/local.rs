//! [`LocalTart`]: the local `tart` CLI as a [`Backend`]. Queries run `tart` (or read
//! `$TART_HOME` where that is the same answer without a process); each request is
//! carried out by its own function ([`exec`](super::exec), [`boot`](super::boot) for a
//! start, [`shutdown`](super::shutdown) for a graceful stop).
//!
//! Threading: shared by every thread; the version cache and the exit hook sit behind
//! their own small locks, never held across a `tart` call.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use super::version::BinaryId;
use super::{Tart, TartError, exec};
use crate::backend::host::{
    Backend, Capabilities, Done, Failure, HostError, HostVersion, ListEntry, OpRequest, OpSink,
    PruneEntry, PruneOptions, VmDetails, VmExitHook, VmState,
};
use crate::config::Timeouts;
use crate::util::sync::lock;

/// A `tart --version` answer and the binary that gave it.
type VersionAnswer = (Option<BinaryId>, Result<HostVersion, HostError>);

/// The local tart CLI.
pub struct LocalTart {
    pub(super) tart: Tart,
    pub(super) timeouts: Timeouts,
    /// Where each `tart run` writes its output (`<data-dir>/logs`).
    pub(super) logs: PathBuf,
    /// The last `tart --version` answer and the binary that gave it (`None`: no
    /// binary, so the answer is why not).
    version: Mutex<Option<VersionAnswer>>,
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

impl Backend for LocalTart {
    fn kind(&self) -> &'static str {
        "tart"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            suspend: true,
            rename: true,
            settings: true,
            clone: true,
            console: true,
        }
    }

    /// Remembered only while the binary it came from is unchanged (an upgrade or an
    /// uninstall is seen at the next call); a failure is asked again every time.
    fn version(&self) -> Result<HostVersion, HostError> {
        if let Some(Ok(known)) = self.known_version() {
            return Ok(known);
        }
        let binary = self.tart.binary();
        let answer = self
            .tart
            .version()
            .map(|version| HostVersion {
                warnings: super::version::warnings(&version),
                version,
            })
            .map_err(HostError::from);
        *lock(&self.version) = Some((binary, answer.clone()));
        answer
    }

    fn known_version(&self) -> Option<Result<HostVersion, HostError>> {
        let now = self.tart.binary();
        match lock(&self.version).as_ref() {
            Some((then, answer)) if *then == now => Some(answer.clone()),
            _ => None,
        }
    }

    fn list(&self) -> Result<Vec<ListEntry>, HostError> {
        Ok(self.tart.list()?)
    }

    fn details(&self, name: &str) -> Result<VmDetails, HostError> {
        Ok(self.tart.get(name)?)
    }

    fn details_from_files(&self, listed: &HashSet<&str>) -> HashMap<String, VmDetails> {
        // Only when the home we see holds what tart listed (a `--tart` wrapper may use
        // another home): otherwise every VM is asked with `tart get`.
        if !self.tart.home_lists(listed) {
            return HashMap::new();
        }
        listed
            .iter()
            .filter_map(|name| Some((name.to_string(), self.tart.local_settings(name)?)))
            .collect()
    }

    fn ip(&self, name: &str) -> Result<Option<String>, HostError> {
        Ok(self.tart.ip(name)?)
    }

    /// tart's own test: the lock on `config.json`, then `state.vzvmsave`.
    fn state_now(&self, name: &str) -> Option<VmState> {
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

    fn name_in_use(&self, name: &str) -> bool {
        self.tart
            .home()
            .is_some_and(|h| std::fs::symlink_metadata(h.join("vms").join(name)).is_ok())
    }

    fn disk_gb(&self, name: &str) -> Option<u64> {
        super::lifecycle::disk_gb(self.tart.home()?, name)
    }

    fn guest_os(&self, name: &str) -> Option<String> {
        self.tart.local_settings(name).and_then(|d| d.os)
    }

    fn prune_preview(&self, options: &PruneOptions) -> Result<Vec<PruneEntry>, HostError> {
        let home = self.tart.home().ok_or_else(|| {
            HostError::Unavailable("tart's home folder is unknown (no TART_HOME, no HOME)".into())
        })?;
        Ok(super::prune::preview(
            home,
            options,
            std::time::SystemTime::now(),
        ))
    }

    fn has_image(&self, repository: &str, tag: &str) -> bool {
        let Some(home) = self.tart.home() else {
            return false;
        };
        let entry = home.join("cache/OCIs").join(repository).join(tag);
        ["config.json", "disk.img", "nvram.bin"]
            .iter()
            .all(|f| entry.join(f).exists())
    }

    fn on_vm_exit(&self, hook: VmExitHook) {
        let _ = self.exit_hook.set(hook);
    }

    fn execute(&self, request: OpRequest, sink: &mut dyn OpSink) -> Result<Done, Failure> {
        exec::execute(self, request, sink)
    }
}
