//! The server's configuration: what the command line and the environment set, with the
//! defaults of the issue (127.0.0.1:8000, `tart` on `PATH`, `~/.tartvm-manager`).

use std::ffi::OsString;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::limits::{
    DEFAULT_REFRESH_INTERVAL, START_IP_TIMEOUT, TART_DELETE_TIMEOUT, TART_PULL_TIMEOUT,
    TART_QUERY_TIMEOUT, TART_STOP_TIMEOUT,
};

/// How long each kind of `tart` call may run before its whole process group is killed.
///
/// The defaults are the constants in [`crate::limits`], sized for real VMs and real
/// registries. Embedders may shorten them; the binary does so with `--tart-timeout` or
/// `TARTVM_TART_TIMEOUT_SECS`, which the test suite uses so a hanging `tart` is killed in
/// a second instead of half a minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// `tart --version`, `list`, `get` and `ip` (default [`TART_QUERY_TIMEOUT`]).
    pub query: Duration,
    /// `tart stop` (default [`TART_STOP_TIMEOUT`]).
    pub stop: Duration,
    /// `tart delete` (default [`TART_DELETE_TIMEOUT`]).
    pub delete: Duration,
    /// `tart pull` (default [`TART_PULL_TIMEOUT`]).
    pub pull: Duration,
    /// How long a start task waits for the VM's IP (default [`START_IP_TIMEOUT`]).
    /// `tart run` itself has no timeout: the VM is meant to keep running.
    pub start_ip: Duration,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts {
            query: TART_QUERY_TIMEOUT,
            stop: TART_STOP_TIMEOUT,
            delete: TART_DELETE_TIMEOUT,
            pull: TART_PULL_TIMEOUT,
            start_ip: START_IP_TIMEOUT,
        }
    }
}

impl Timeouts {
    /// The same timeout for every kind of call.
    pub fn all(timeout: Duration) -> Timeouts {
        Timeouts {
            query: timeout,
            stop: timeout,
            delete: timeout,
            pull: timeout,
            start_ip: timeout,
        }
    }
}

/// Everything a [`crate::Server`] needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to bind; loopback unless `allow_non_loopback`.
    pub host: IpAddr,
    /// Port to bind; 0 picks a free one.
    pub port: u16,
    /// The `tart` program: a name looked up on `PATH`, or a path.
    pub tart: PathBuf,
    /// Token, task history and `tart run` logs live here.
    pub data_dir: PathBuf,
    /// Binding a non-loopback address exposes the machine; it takes this explicit opt-in.
    pub allow_non_loopback: bool,
    /// How often the inventory refreshes itself; `None` turns the background refresh off.
    pub refresh_interval: Option<Duration>,
    /// Extra environment for every `tart` child (demo mode sets `TART_HOME`).
    pub tart_env: Vec<(OsString, OsString)>,
    /// Keep task history in `<data_dir>/tasks.jsonl` across restarts.
    pub persist_tasks: bool,
    /// Per-kind `tart` timeouts; see [`Timeouts`].
    pub timeouts: Timeouts,
    /// An Orchard controller whose VMs are shown beside the local ones (`--orchard`).
    pub orchard: Option<OrchardConfig>,
    /// Hide the local tart backend: list and drive only the cluster (`--no-local`).
    pub no_local: bool,
}

/// How to reach an Orchard controller (see docs/orchard.md).
#[derive(Clone, PartialEq, Eq)]
pub struct OrchardConfig {
    /// `http://host:port` (plain HTTP) or `https://...` (TLS through curl).
    pub url: String,
    /// The service account; `None` sends no credentials (an `orchard dev` controller).
    pub account: Option<String>,
    /// The service account's token (from the environment or a file, never a flag).
    pub token: Option<String>,
    /// The controller's own certificate (PEM) to pin for TLS.
    pub cert: Option<PathBuf>,
    /// Use curl for plain HTTP too (tests the TLS path's transport without TLS).
    pub via_curl: bool,
}

impl std::fmt::Debug for OrchardConfig {
    // Never prints the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrchardConfig")
            .field("url", &self.url)
            .field("account", &self.account)
            .field("token", &self.token.as_ref().map(|_| "<hidden>"))
            .field("cert", &self.cert)
            .field("via_curl", &self.via_curl)
            .finish()
    }
}

impl Config {
    /// The defaults, with the data folder under `home`.
    pub fn with_home(home: PathBuf) -> Config {
        Config {
            host: IpAddr::from([127, 0, 0, 1]),
            port: 8000,
            tart: PathBuf::from("tart"),
            data_dir: home.join(".tartvm-manager"),
            allow_non_loopback: false,
            refresh_interval: Some(DEFAULT_REFRESH_INTERVAL),
            tart_env: Vec::new(),
            persist_tasks: true,
            timeouts: Timeouts::default(),
            orchard: None,
            no_local: false,
        }
    }

    /// The defaults for the current user (`$HOME`).
    pub fn from_home_env() -> Config {
        Config::with_home(
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(".")),
        )
    }
}
