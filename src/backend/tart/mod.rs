//! The local `tart` CLI as a backend ([`LocalTart`]): the argv of every call we make, typed wrappers for the quick
//! queries, and the parsers for their output. User values always come after `--`, and
//! are validated before they get here (`crate::core::validate`).

mod backend_impl;
mod boot;
mod call;
mod exec;
pub mod home;
pub mod lifecycle;
mod local;
pub mod os;
pub mod parse;
pub mod prune;
pub mod run;
pub mod run_log;
mod shutdown;
pub mod version;
pub mod watch;

pub use local::LocalTart;

use std::path::PathBuf;
use std::time::Duration;

pub use crate::process::supervisor::{CliRunner, Outcome};
pub use parse::{ListEntry, VmDetails};

/// Why a query to `tart` failed.
#[derive(Debug, Clone)]
pub enum TartError {
    /// `tart` could not be started at all (missing, not executable).
    Unavailable(String),
    /// `tart` ran and failed; `message` says how (its stderr, or the timeout).
    Failed { message: String, outcome: Outcome },
    /// `tart` succeeded but printed something we cannot read.
    Unreadable(String),
}

impl std::fmt::Display for TartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TartError::Unavailable(m) | TartError::Unreadable(m) => f.write_str(m),
            TartError::Failed { message, .. } => f.write_str(message),
        }
    }
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// `tart stop --timeout 30 -- <name>`: the stop action.
pub fn stop_args(name: &str) -> Vec<String> {
    strings(&["stop", "--timeout", "30", "--", name])
}

/// `tart stop -- <name>`: the fallback for a tart older than `--timeout`.
pub fn stop_args_without_timeout(name: &str) -> Vec<String> {
    strings(&["stop", "--", name])
}

/// `tart delete -- <name>`.
pub fn delete_args(name: &str) -> Vec<String> {
    strings(&["delete", "--", name])
}

/// `tart pull -- <reference>`.
pub fn pull_args(reference: &str) -> Vec<String> {
    strings(&["pull", "--", reference])
}

/// Typed wrappers over [`CliRunner`] for the read-only queries.
pub struct Tart {
    runner: CliRunner,
    /// Timeout of every query (`Timeouts::query`).
    query_timeout: Duration,
    /// `$TART_HOME` as our `tart` children see it.
    home: Option<PathBuf>,
}

impl Tart {
    pub fn new(runner: CliRunner, query_timeout: Duration) -> Tart {
        let home = home::tart_home(runner.child_env());
        Tart {
            runner,
            query_timeout,
            home,
        }
    }

    /// `$TART_HOME` as our `tart` children see it, if known.
    pub fn home(&self) -> Option<&std::path::Path> {
        self.home.as_deref()
    }

    pub fn runner(&self) -> &CliRunner {
        &self.runner
    }

    /// Runs a query and returns its stdout, or why it failed.
    fn query(&self, args: &[String], timeout: Duration) -> Result<String, TartError> {
        let outcome = self
            .runner
            .run(args, timeout, &mut |_| {})
            .map_err(|e| TartError::Unavailable(e.to_string()))?;
        if outcome.success() {
            Ok(outcome.stdout)
        } else {
            let message = format!("tart {} failed: {}", args[0], outcome.describe(timeout));
            Err(TartError::Failed { message, outcome })
        }
    }

    /// The identity of the binary a call would run now (see [`version::BinaryId`]).
    pub fn binary(&self) -> Option<version::BinaryId> {
        version::identify(self.runner.program(), self.runner.child_env())
    }

    /// `tart --version`, trimmed (`2.32.1`, or `SNAPSHOT` for self-built binaries).
    pub fn version(&self) -> Result<String, TartError> {
        let out = self.query(&strings(&["--version"]), self.query_timeout)?;
        Ok(out.trim().to_string())
    }

    /// `tart list --format json`.
    pub fn list(&self) -> Result<Vec<ListEntry>, TartError> {
        let out = self.query(&strings(&["list", "--format", "json"]), self.query_timeout)?;
        parse::list(&out).map_err(TartError::Unreadable)
    }

    /// `tart get --format json -- <name>`.
    pub fn get(&self, name: &str) -> Result<VmDetails, TartError> {
        let out = self.query(
            &strings(&["get", "--format", "json", "--", name]),
            self.query_timeout,
        )?;
        parse::details(&out).map_err(TartError::Unreadable)
    }

    /// Whether the local VMs `tart list` named are the ones in the `$TART_HOME` we see,
    /// so that [`Tart::local_settings`] reads their files (see [`home`]).
    pub fn home_lists(&self, names: &std::collections::HashSet<&str>) -> bool {
        self.home
            .as_ref()
            .is_some_and(|home| home::lists_the_same_vms(home, names))
    }

    /// A local VM's settings from its `config.json`, without running `tart` (see
    /// [`home`]); `None` means ask [`Tart::get`]. Use it after [`Tart::home_lists`].
    pub fn local_settings(&self, name: &str) -> Option<VmDetails> {
        home::read_vm_settings(self.home.as_ref()?, name)
    }

    /// Whether a `tart run` holds local VM `name` now (its `config.json` lock, asked
    /// the way `tart list` asks); `None` when the home is not ours to read.
    pub fn run_holds(&self, name: &str) -> Option<bool> {
        os::run_lock_holder(self.home.as_ref()?, name).map(|holder| holder.is_some())
    }

    /// The PID of the `tart run` holding local VM `name`, when the home is ours to read.
    pub fn run_pid(&self, name: &str) -> Option<i32> {
        os::run_lock_holder(self.home.as_ref()?, name).flatten()
    }

    /// `tart ip -- <name>`: `Ok(None)` when tart found no address (exit 1).
    pub fn ip(&self, name: &str) -> Result<Option<String>, TartError> {
        match self.query(&strings(&["ip", "--", name]), self.query_timeout) {
            Ok(out) => Ok(parse::ip(&out)),
            Err(TartError::Failed { outcome, .. }) if outcome.exit_code == Some(1) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
