//! Simulated DHCP leases: the stand-in for macOS's `/var/db/dhcpd_leases`.
//!
//! A `tart run` process records a lease for its VM's MAC once the guest has "booted";
//! `ip` and `run --vnc` look leases up by MAC. Like the real lease file, a lease outlives
//! the VM: a stopped VM whose lease has not expired still "has" its IP (tart's documented
//! quirk, kept on purpose so a server must check `State` separately).
//!
//! File: `$TART_HOME/.sim/leases`, one `<mac> <ip> <expiry unix secs>` line per lease,
//! appended with a single `O_APPEND` write so concurrent writers never interleave.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::PathBuf;

use crate::home::Home;
use crate::timefmt;

/// Lifetime of a lease: macOS's bootpd default of one day.
const LEASE_SECONDS: i64 = 86_400;

/// The subnet macOS's vmnet hands out.
const SUBNET_PREFIX: &str = "192.168.64.";

fn lease_file(home: &Home) -> PathBuf {
    home.sim_dir().join("leases")
}

/// The IP the simulated DHCP server gives `mac`: stable per MAC, in `.2 ..= .253`.
pub fn ip_for_mac(mac: &str) -> String {
    let n = crate::ids::fnv1a(0xcbf2_9ce4_8422_2325, mac.to_ascii_lowercase().as_bytes()) % 252;
    format!("{SUBNET_PREFIX}{}", n + 2)
}

/// Records a fresh lease for `mac`.
pub fn record(home: &Home, mac: &str) -> std::io::Result<String> {
    let ip = ip_for_mac(mac);
    fs::create_dir_all(home.sim_dir())?;
    let expiry = timefmt::unix_seconds(std::time::SystemTime::now()) + LEASE_SECONDS;
    let line = format!("{} {ip} {expiry}\n", mac.to_ascii_lowercase());
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(lease_file(home))?;
    file.write_all(line.as_bytes())?;
    Ok(ip)
}

/// The newest unexpired lease for `mac`, if any.
pub fn lookup(home: &Home, mac: &str) -> Option<String> {
    let text = fs::read_to_string(lease_file(home)).ok()?;
    let now = timefmt::unix_seconds(std::time::SystemTime::now());
    let mac = mac.to_ascii_lowercase();
    text.lines().rev().find_map(|line| {
        let mut fields = line.split_whitespace();
        let (m, ip, expiry) = (fields.next()?, fields.next()?, fields.next()?);
        let expiry: i64 = expiry.parse().ok()?;
        (m == mac && expiry > now).then(|| ip.to_string())
    })
}
