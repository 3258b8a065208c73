//! `impl Backend for LocalTart`: the seam's questions answered by the local tart CLI —
//! queries by `tart` calls or, where that is the same answer without a process, by
//! reading `$TART_HOME` — and each request handed to the function that carries it out.

use std::collections::{HashMap, HashSet};

use super::local::LocalTart;
use super::{boot, exec, shutdown};
use crate::backend::host::{
    Backend, Capabilities, Done, Failure, HostError, HostVersion, ListEntry, OpRequest, OpSink,
    PruneEntry, PruneOptions, VmDetails, VmExitHook, VmState,
};
use crate::util::sync::lock;

impl Backend for LocalTart {
    fn kind(&self) -> &'static str {
        "tart"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::ALL
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

    fn state_now(&self, name: &str) -> Option<VmState> {
        self.vm_state(name)
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

    /// Each request by its own function: a start in [`boot`], a graceful stop in
    /// [`shutdown`], the rest in [`exec`].
    fn execute(&self, request: OpRequest, sink: &mut dyn OpSink) -> Result<Done, Failure> {
        match request {
            OpRequest::Start { name, options } => boot::start(self, &name, &options, sink),
            OpRequest::ShutDown { name, timeout } => {
                shutdown::shut_down(self, &name, timeout, sink)
            }
            OpRequest::Stop { name } => exec::stop(self, &name, sink).map(|()| Done::Ok),
            OpRequest::Delete { name } => exec::delete(self, &name, sink),
            OpRequest::Pull { reference } => exec::pull(self, &reference, sink),
            OpRequest::Clone { source, new_name } => exec::clone(self, &source, &new_name, sink),
            OpRequest::Create { name, os, disk_gb } => {
                exec::create(self, &name, &os, disk_gb, sink)
            }
            OpRequest::Configure { name, changes } => exec::configure(self, &name, changes, sink),
            OpRequest::Rename { name, new_name } => exec::rename(self, &name, &new_name, sink),
            OpRequest::Suspend { name } => exec::suspend(self, &name, sink),
            OpRequest::Prune { options } => exec::prune(self, &options, sink),
            OpRequest::Login {
                host,
                username,
                password,
                insecure,
            } => exec::login(self, &host, &username, &password, insecure, sink),
            OpRequest::Logout { host } => exec::logout(self, &host, sink),
            // No local operation asks it (an image becomes a local VM by a clone, then a
            // settings change and a start); only a cluster places VMs by a spec.
            OpRequest::Provision(p) => Err(Failure::Failed(format!(
                "the local tart host does not provision {:?} from a spec: clone the image instead",
                p.name
            ))),
        }
    }
}
