//! Simulated DHCP leases: the stand-in for macOS's `/var/db/dhcpd_leases`.
//!
//! A `tart run` process records a lease for its VM's MAC once the guest has "booted";
//! `ip` and `run --vnc` look leases up by MAC (the newest unexpired one wins). Like the real
//! lease file, a lease outlives the VM: a stopped VM whose lease has not expired still
//! "has" its IP (tart's documented quirk, kept on purpose so a server must check `State`).
//!
//! Addresses come from a pool like bootpd's: a MAC with an unexpired lease keeps its
//! address, a new MAC gets the lowest address no unexpired lease holds, and when every
//! address is held the guest gets no lease at all (leases last a day, so clones and
//! `--random-mac` exhaust a pool). Knobs can shrink the pool, renumber every run, or hand
//! out an address another MAC still holds (two VMs answering with one IP).
//!
//! File: `$TART_HOME/.sim/leases`, one `<mac> <ip> <expiry unix secs>` line per lease.
//! Writers hold an `flock` on it from reading the pool to appending, so two VMs booting at
//! once never pick the same free address.

use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::path::PathBuf;

use crate::home::Home;
use crate::knobs::Knobs;
use crate::timefmt;

/// Lifetime of a lease: macOS's bootpd default of one day.
const LEASE_SECONDS: i64 = 86_400;

/// The subnet macOS's vmnet hands out.
const SUBNET_PREFIX: &str = "192.168.64.";

/// The first host number of the pool (`.1` is the host itself).
const FIRST_HOST: u64 = 2;

fn lease_file(home: &Home) -> PathBuf {
    home.sim_dir().join("leases")
}

/// One line of the lease file.
struct Lease {
    mac: String,
    ip: String,
    expiry: i64,
}

fn parse(text: &str) -> Vec<Lease> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            Some(Lease {
                mac: fields.next()?.to_string(),
                ip: fields.next()?.to_string(),
                expiry: fields.next()?.parse().ok()?,
            })
        })
        .collect()
}

/// The newest unexpired lease per MAC, as `(mac, ip)`.
fn active(leases: &[Lease], now: i64) -> Vec<(&str, &str)> {
    let mut seen: Vec<(&str, &str)> = Vec::new();
    for lease in leases.iter().rev() {
        if lease.expiry > now && !seen.iter().any(|(m, _)| *m == lease.mac) {
            seen.push((&lease.mac, &lease.ip));
        }
    }
    seen
}

/// Chooses the address for `mac` under the knobs' rules; None when the pool is exhausted.
fn choose(held: &[(&str, &str)], mac: &str, knobs: &Knobs) -> Option<String> {
    let own = held.iter().find(|(m, _)| *m == mac).map(|(_, ip)| *ip);
    if let Some(ip) = own
        && !knobs.lease_renumber
    {
        return Some(ip.to_string());
    }
    if knobs.lease_duplicate
        && let Some((_, ip)) = held
            .iter()
            .filter(|(m, _)| *m != mac)
            .min_by_key(|(_, ip)| host(ip))
    {
        return Some(ip.to_string());
    }
    (FIRST_HOST..FIRST_HOST + knobs.lease_pool)
        .map(|n| format!("{SUBNET_PREFIX}{n}"))
        .find(|ip| !held.iter().any(|(_, held_ip)| held_ip == ip))
}

/// The host number of an address in the subnet (for ordering).
fn host(ip: &str) -> u64 {
    ip.rsplit('.')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(u64::MAX)
}

/// Records a fresh lease for `mac`; `Ok(None)` when every address of the pool is held.
pub fn record(home: &Home, mac: &str, knobs: &Knobs) -> std::io::Result<Option<String>> {
    fs::create_dir_all(home.sim_dir())?;
    let mut file = OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(lease_file(home))?;
    file.lock()?;
    let mut text = String::new();
    file.read_to_string(&mut text)?;
    let now = timefmt::unix_seconds(std::time::SystemTime::now());
    let leases = parse(&text);
    let mac = mac.to_ascii_lowercase();
    let Some(ip) = choose(&active(&leases, now), &mac, knobs) else {
        return Ok(None);
    };
    let line = format!("{mac} {ip} {}\n", now + LEASE_SECONDS);
    file.write_all(line.as_bytes())?;
    Ok(Some(ip))
}

/// The newest unexpired lease for `mac`, if any.
pub fn lookup(home: &Home, mac: &str) -> Option<String> {
    let text = fs::read_to_string(lease_file(home)).ok()?;
    let now = timefmt::unix_seconds(std::time::SystemTime::now());
    let mac = mac.to_ascii_lowercase();
    parse(&text)
        .into_iter()
        .rev()
        .find(|lease| lease.mac == mac && lease.expiry > now)
        .map(|lease| lease.ip)
}
