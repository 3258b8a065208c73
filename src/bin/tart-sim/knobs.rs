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
/// Default of `TART_SIM_START_MS`: from taking the lock until `vm.start` returned. Real
/// starts take 0.5–3 s; the failures that come after the lock (the macOS limit, VZ errors)
/// come at the end of it.
pub const DEFAULT_START_MS: u64 = 300;
/// Default of `TART_SIM_MACOS_LIMIT`: Virtualization.framework runs two macOS guests.
pub const DEFAULT_MACOS_LIMIT: usize = 2;
/// Default of `TART_SIM_PROGRESS_MS`: tart's `ProgressObserver` prints at most once a second.
pub const DEFAULT_PROGRESS_MS: u64 = 1000;
/// Default of `TART_SIM_SUSPEND_MS`: a real snapshot writes the guest's memory to disk, so
/// the VM stays `running` for a while after `tart suspend` returned.
pub const DEFAULT_SUSPEND_MS: u64 = 300;
/// Default of `TART_SIM_GUEST_STOP_MS`: how long a guest takes to power off after
/// SIGUSR2's shutdown request.
pub const DEFAULT_GUEST_STOP_MS: u64 = 300;
/// Default and maximum of `TART_SIM_LEASE_POOL`: vmnet hands out `.2` to `.253`.
pub const DEFAULT_LEASE_POOL: u64 = 252;

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
    /// `TART_SIM_NO_IP`: which guests never get an IP.
    pub no_ip: NoIp,
    /// `TART_SIM_START_MS`: from taking the lock until the VM has started.
    pub start: Duration,
    /// `TART_SIM_MACOS_LIMIT`: how many macOS guests may run at once.
    pub macos_limit: usize,
    /// `TART_SIM_PROGRESS_MS`: the minimum interval between two progress lines.
    pub progress_interval: Duration,
    /// `TART_SIM_PULL_RETRIES`: how many disk downloads fail half-way and are retried.
    pub pull_retries: u64,
    /// `TART_SIM_GUEST_STOP_MS`: from SIGUSR2 until the guest has powered off.
    pub guest_stop: Duration,
    /// `TART_SIM_SUSPEND_MS`: how long writing the snapshot takes.
    pub suspend: Duration,
    /// `TART_SIM_ASIF` (non-empty): the host is macOS 26, so `--disk-format asif` works.
    pub asif: bool,
    /// `TART_SIM_LEASE_POOL`: how many addresses the simulated DHCP server has.
    pub lease_pool: u64,
    /// `TART_SIM_LEASE_RENUMBER` (non-empty): every run gets a different address.
    pub lease_renumber: bool,
    /// `TART_SIM_LEASE_DUPLICATE` (non-empty): a new lease reuses another VM's address.
    pub lease_duplicate: bool,
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
            no_ip: NoIp::from_env(),
            start: millis("TART_SIM_START_MS", DEFAULT_START_MS),
            macos_limit: number("TART_SIM_MACOS_LIMIT", DEFAULT_MACOS_LIMIT as u64) as usize,
            progress_interval: millis("TART_SIM_PROGRESS_MS", DEFAULT_PROGRESS_MS),
            pull_retries: number("TART_SIM_PULL_RETRIES", 0),
            lease_pool: number("TART_SIM_LEASE_POOL", DEFAULT_LEASE_POOL)
                .clamp(1, DEFAULT_LEASE_POOL),
            guest_stop: millis("TART_SIM_GUEST_STOP_MS", DEFAULT_GUEST_STOP_MS),
            suspend: millis("TART_SIM_SUSPEND_MS", DEFAULT_SUSPEND_MS),
            asif: flag("TART_SIM_ASIF"),
            lease_renumber: flag("TART_SIM_LEASE_RENUMBER"),
            lease_duplicate: flag("TART_SIM_LEASE_DUPLICATE"),
            version: std::env::var("TART_SIM_VERSION")
                .ok()
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| DEFAULT_VERSION.to_string()),
            ci: std::env::var_os("CI").is_some(),
        }
    }
}

/// Which guests get no DHCP lease (`TART_SIM_NO_IP`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoIp {
    /// Unset or empty: every guest gets a lease after booting.
    Never,
    /// `linux`: Linux guests get none (installers, static addresses, no DHCP client).
    Linux,
    /// Any other non-empty value: no guest gets one.
    All,
}

impl NoIp {
    fn from_env() -> NoIp {
        match std::env::var("TART_SIM_NO_IP").unwrap_or_default().as_str() {
            "" => NoIp::Never,
            "linux" => NoIp::Linux,
            _ => NoIp::All,
        }
    }
}

impl Knobs {
    /// Whether a guest of `os` (`darwin`/`linux`) never gets (or shows) a lease.
    pub fn no_ip_for(&self, os: &str) -> bool {
        match self.no_ip {
            NoIp::Never => false,
            NoIp::Linux => os == "linux",
            NoIp::All => true,
        }
    }
}

/// `TART_SIM_CONFIG_WRITE_MS`: how long an in-place rewrite of config.json leaves the file
/// empty (tart truncates, then writes, without `.atomic`). Read where the write happens.
pub fn config_write_delay() -> Duration {
    millis("TART_SIM_CONFIG_WRITE_MS", 0)
}

/// A millisecond knob; unparseable values fall back to the default rather than failing,
/// because a typo in a test's environment should not look like a tart error.
fn millis(name: &str, default: u64) -> Duration {
    Duration::from_millis(number(name, default))
}

/// A whole-number knob, with the same fallback rule as [`millis`].
fn number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(default)
}

/// A switch knob: set and non-empty.
fn flag(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| !v.is_empty())
}
