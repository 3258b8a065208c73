//! The simulator's knobs, read from the environment on every invocation.
//!
//! The server's tests depend on these exact names; see docs/simulator.md.

use std::time::Duration;

/// Default of `TART_SIM_BOOT_MS`: a real Linux guest takes a few seconds to get a lease.
pub const DEFAULT_BOOT_MS: u64 = 2000;
/// Default of `TART_SIM_PULL_MS`: long enough to watch progress, short enough to wait for.
pub const DEFAULT_PULL_MS: u64 = 8000;
/// Default of `TART_SIM_IP_RETRY_MS`: tart's `ip` sleeps one second per attempt.
pub const DEFAULT_IP_RETRY_MS: u64 = 1000;
/// Default of `TART_SIM_VNC_TIMEOUT_MS`: `run --vnc` waits 60 s for the guest's IP.
pub const DEFAULT_VNC_TIMEOUT_MS: u64 = 60_000;
/// Default of `TART_SIM_VERSION`: the release the contract describes.
pub const DEFAULT_VERSION: &str = "2.32.1";

/// Knob values for this invocation.
#[derive(Debug, Clone)]
pub struct Knobs {
    /// `TART_SIM_LATENCY_MS`: sleep at the start of every invocation.
    pub latency: Duration,
    /// `TART_SIM_BOOT_MS`: from `run` start until the VM has a lease.
    pub boot: Duration,
    /// `TART_SIM_PULL_MS`: total duration of `pull` and of an IPSW install.
    pub pull: Duration,
    /// `TART_SIM_IP_RETRY_MS`: the sleep after each failed `ip` attempt.
    pub ip_retry: Duration,
    /// `TART_SIM_VNC_TIMEOUT_MS`: how long `run --vnc` waits for an IP.
    pub vnc_timeout: Duration,
    /// `TART_SIM_NO_IP` (non-empty): VMs never get an IP.
    pub no_ip: bool,
    /// `TART_SIM_VERSION`: what `--version` prints.
    pub version: String,
    /// `CI` (set, even empty): plain progress lines and `VNC server is running at`.
    pub ci: bool,
}

impl Knobs {
    /// Reads every knob from the environment.
    pub fn from_env() -> Knobs {
        Knobs {
            latency: millis("TART_SIM_LATENCY_MS", 0),
            boot: millis("TART_SIM_BOOT_MS", DEFAULT_BOOT_MS),
            pull: millis("TART_SIM_PULL_MS", DEFAULT_PULL_MS),
            ip_retry: millis("TART_SIM_IP_RETRY_MS", DEFAULT_IP_RETRY_MS),
            vnc_timeout: millis("TART_SIM_VNC_TIMEOUT_MS", DEFAULT_VNC_TIMEOUT_MS),
            no_ip: std::env::var_os("TART_SIM_NO_IP").is_some_and(|v| !v.is_empty()),
            version: std::env::var("TART_SIM_VERSION")
                .ok()
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| DEFAULT_VERSION.to_string()),
            ci: std::env::var_os("CI").is_some(),
        }
    }
}

/// A millisecond knob; unparseable values fall back to the default rather than failing,
/// because a typo in a test's environment should not look like a tart error.
fn millis(name: &str, default: u64) -> Duration {
    let value = std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(default);
    Duration::from_millis(value)
}
