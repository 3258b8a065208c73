//! The argv of the calls that make and change VMs (`tart-real-mac.md` c1–c6): clone,
//! create, set, rename, suspend, login and logout, and the one thing `tart set` needs
//! read first (`displayRefit`, which `set` drops unless passed again).
//!
//! Names and references go after `--`; every other value is validated by the caller
//! (`crate::core::validate`) and can never be read as an option. Plain functions.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::limits::MAX_VM_CONFIG_FILE_BYTES;

fn strings<const N: usize>(args: [&str; N]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// `tart clone -- <source> <new-name>`: from a local VM or an image reference (which
/// tart pulls first when it is not cached, printing the pull's progress).
pub fn clone_args(source: &str, new_name: &str) -> Vec<String> {
    strings(["clone", "--", source, new_name])
}

/// `tart create --linux --disk-size <GB> -- <name>`: an empty Linux VM, instantly.
pub fn create_linux_args(name: &str, disk_gb: u64) -> Vec<String> {
    strings([
        "create",
        "--linux",
        "--disk-size",
        &disk_gb.to_string(),
        "--",
        name,
    ])
}

/// `tart create --from-ipsw <latest|URL|path> --disk-size <GB> -- <name>`: macOS from a
/// restore image, in two long phases (download, then install).
pub fn create_ipsw_args(name: &str, ipsw: &str, disk_gb: u64) -> Vec<String> {
    strings([
        "create",
        "--from-ipsw",
        ipsw,
        "--disk-size",
        &disk_gb.to_string(),
        "--",
        name,
    ])
}

/// The changes of one `tart set` call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SetChanges {
    pub cpu: Option<u64>,
    /// MiB, as tart wants it.
    pub memory_mib: Option<u64>,
    /// `WIDTHxHEIGHT`.
    pub display: Option<String>,
    /// GB (10^9), grow only.
    pub disk_gb: Option<u64>,
    pub random_mac: bool,
    /// The VM's current `displayRefit`, passed again because `set` removes it otherwise.
    pub display_refit: Option<bool>,
}

impl SetChanges {
    /// Whether this changes anything at all.
    pub fn is_empty(&self) -> bool {
        self.cpu.is_none()
            && self.memory_mib.is_none()
            && self.display.is_none()
            && self.disk_gb.is_none()
            && !self.random_mac
    }
}

/// `tart set [--cpu N] [--memory MiB] [--display WxH] [--[no-]display-refit]
/// [--random-mac] [--disk-size GB] -- <name>`.
pub fn set_args(name: &str, changes: &SetChanges) -> Vec<String> {
    let mut args = vec!["set".to_string()];
    if let Some(cpu) = changes.cpu {
        args.extend(["--cpu".to_string(), cpu.to_string()]);
    }
    if let Some(mib) = changes.memory_mib {
        args.extend(["--memory".to_string(), mib.to_string()]);
    }
    if let Some(display) = &changes.display {
        args.extend(["--display".to_string(), display.clone()]);
    }
    match changes.display_refit {
        Some(true) => args.push("--display-refit".into()),
        Some(false) => args.push("--no-display-refit".into()),
        None => {}
    }
    if changes.random_mac {
        args.push("--random-mac".into());
    }
    if let Some(gb) = changes.disk_gb {
        args.extend(["--disk-size".to_string(), gb.to_string()]);
    }
    args.extend(["--".to_string(), name.to_string()]);
    args
}

/// `tart rename -- <name> <new-name>`.
pub fn rename_args(name: &str, new_name: &str) -> Vec<String> {
    strings(["rename", "--", name, new_name])
}

/// `tart suspend -- <name>`: signals the VM's `tart run`, which saves and exits.
pub fn suspend_args(name: &str) -> Vec<String> {
    strings(["suspend", "--", name])
}

/// `tart login --username <user> --password-stdin [--insecure] -- <host>`: the password
/// goes to the child's stdin, never here.
pub fn login_args(host: &str, username: &str, insecure: bool) -> Vec<String> {
    let mut args = strings(["login", "--username", username, "--password-stdin"]);
    if insecure {
        args.push("--insecure".into());
    }
    args.extend(["--".to_string(), host.to_string()]);
    args
}

/// `tart logout -- <host>`.
pub fn logout_args(host: &str) -> Vec<String> {
    strings(["logout", "--", host])
}

/// The `displayRefit` in a local VM's `config.json`; `None` when it is absent or the
/// file cannot be read (then `set` is called without the flag, which is what tart
/// would keep anyway for an absent value).
pub fn display_refit(home: &Path, name: &str) -> Option<bool> {
    let file = File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
        .open(home.join("vms").join(name).join("config.json"))
        .ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut text = String::new();
    file.take(MAX_VM_CONFIG_FILE_BYTES)
        .read_to_string(&mut text)
        .ok()?;
    let config: serde_json::Value = serde_json::from_str(&text).ok()?;
    config.get("displayRefit")?.as_bool()
}

/// The apparent size of a local VM's `disk.img` in whole GB (10^9), as tart compares it
/// when growing a disk; `None` when it cannot be read.
pub fn disk_gb(home: &Path, name: &str) -> Option<u64> {
    let meta = std::fs::metadata(home.join("vms").join(name).join("disk.img")).ok()?;
    Some(meta.len() / 1_000_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_after_the_terminator() {
        assert_eq!(clone_args("-a", "-b"), ["clone", "--", "-a", "-b"]);
        assert_eq!(rename_args("a b", "ü"), ["rename", "--", "a b", "ü"]);
        assert_eq!(suspend_args("x"), ["suspend", "--", "x"]);
        assert_eq!(logout_args("ghcr.io"), ["logout", "--", "ghcr.io"]);
        assert_eq!(
            create_linux_args("vm", 50),
            ["create", "--linux", "--disk-size", "50", "--", "vm"]
        );
        assert_eq!(
            create_ipsw_args("mac", "latest", 80),
            [
                "create",
                "--from-ipsw",
                "latest",
                "--disk-size",
                "80",
                "--",
                "mac"
            ]
        );
    }

    #[test]
    fn one_set_carries_every_change_and_keeps_display_refit() {
        let changes = SetChanges {
            cpu: Some(6),
            memory_mib: Some(8192),
            display: Some("1920x1080".into()),
            disk_gb: Some(80),
            random_mac: true,
            display_refit: Some(true),
        };
        assert_eq!(
            set_args("vm", &changes),
            [
                "set",
                "--cpu",
                "6",
                "--memory",
                "8192",
                "--display",
                "1920x1080",
                "--display-refit",
                "--random-mac",
                "--disk-size",
                "80",
                "--",
                "vm"
            ]
        );
        let off = SetChanges {
            cpu: Some(2),
            display_refit: Some(false),
            ..SetChanges::default()
        };
        assert_eq!(
            set_args("vm", &off),
            ["set", "--cpu", "2", "--no-display-refit", "--", "vm"]
        );
        assert!(SetChanges::default().is_empty());
    }

    #[test]
    fn the_password_is_never_an_argument() {
        let args = login_args("ghcr.io", "me", true);
        assert_eq!(
            args,
            [
                "login",
                "--username",
                "me",
                "--password-stdin",
                "--insecure",
                "--",
                "ghcr.io"
            ]
        );
    }
}
