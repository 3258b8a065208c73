//! The server's configuration: what the command line and the environment set, with the
//! defaults of the issue (127.0.0.1:8000, `tart` on `PATH`, `~/.tartvm-manager`).

use std::ffi::OsString;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::limits::DEFAULT_REFRESH_INTERVAL;

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
