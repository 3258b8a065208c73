//! Reading a local VM's settings straight from `$TART_HOME/vms/<name>/config.json`.
//!
//! The refresh needs each VM's OS, CPUs, memory and display, which `tart list` does not
//! print. Asking `tart get` for them costs a process per VM (50 VMs at 200 ms a call took
//! three rounds of our process bound) and bumps every VM's access date, which is what
//! `tart prune --entries vms --older-than` goes by: a server that merely looked at a VM
//! would keep it from ever being pruned. The file is small, documented (`tart-cli.md`
//! §1.2) and read without side effects. When it cannot be read or understood (another
//! layout, a `--tart` wrapper with its own home), the caller falls back to `tart get`.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

use super::parse::{self, VmDetails};
use crate::limits::{CONFIG_REWRITE_ATTEMPTS, CONFIG_REWRITE_PAUSE, MAX_VM_CONFIG_FILE_BYTES};

/// Where `tart` keeps its VMs, as a child of ours sees it: `TART_HOME` from the extra
/// child environment or ours, else `.tart` in the home folder tart finds: the passwd
/// entry's (as Foundation does), and `$HOME` only when there is none. Under `sudo` with
/// `HOME` kept, or a launchd job, `$HOME` can name another user's folder.
pub fn tart_home(child_env: &[(OsString, OsString)]) -> Option<PathBuf> {
    let from_child_env = child_env
        .iter()
        .rev()
        .find(|(key, _)| key == "TART_HOME")
        .map(|(_, value)| value.clone());
    // Empty counts as unset, as it does for tart-sim (and names no folder for tart).
    if let Some(home) = from_child_env
        .or_else(|| std::env::var_os("TART_HOME"))
        .filter(|home| !home.is_empty())
    {
        return Some(PathBuf::from(home));
    }
    super::os::passwd_home()
        .or_else(|| std::env::var_os("HOME").map(PathBuf::from))
        .map(|home| home.join(".tart"))
}

/// Whether `home` is the folder `tart list` listed: each listed local VM has a folder
/// with a `config.json` there, and every complete VM folder there (the three files
/// `list` requires) was listed. A `--tart` wrapper that runs tart with another home, as
/// another user or elsewhere, fails this unless both homes hold the same names; a VM
/// made or removed between `list` and this check fails it for one refresh.
pub fn lists_the_same_vms(home: &Path, listed: &HashSet<&str>) -> bool {
    let vms = home.join("vms");
    let has = |dir: &Path, file: &str| dir.join(file).is_file();
    if !listed
        .iter()
        .all(|name| has(&vms.join(name), "config.json"))
    {
        return false;
    }
    let Ok(entries) = std::fs::read_dir(&vms) else {
        return listed.is_empty();
    };
    entries.flatten().all(|entry| {
        let dir = entry.path();
        let complete = ["config.json", "disk.img", "nvram.bin"]
            .iter()
            .all(|f| has(&dir, f));
        !complete
            || entry
                .file_name()
                .to_str()
                .is_some_and(|name| listed.contains(name))
    })
}

/// The settings in a local VM's `config.json`, or `None` when there is no such regular
/// file or it is not one we understand. The disk size is tart's: the apparent size of
/// the three files in GB (10^9), truncated; `None` for other layouts.
pub fn read_vm_settings(home: &Path, name: &str) -> Option<VmDetails> {
    // `tart list` names come from directory entries, but a name that is anything other
    // than one plain path component never leads us outside `vms/`.
    let mut components = Path::new(name).components();
    if !matches!(
        (components.next(), components.next()),
        (Some(Component::Normal(_)), None)
    ) {
        return None;
    }
    let dir = home.join("vms").join(name);
    let path = dir.join("config.json");
    // tart rewrites config.json in place (truncate, then write; no atomic rename), so a
    // read can meet an empty or half-written file: read again a few times before giving
    // up on it.
    let mut attempt = 0;
    let mut settings = loop {
        let text = read_config_text(&path)?;
        match parse::vm_config_file(&text) {
            Ok(settings) => break settings,
            Err(_) if attempt + 1 < CONFIG_REWRITE_ATTEMPTS => {
                attempt += 1;
                std::thread::sleep(CONFIG_REWRITE_PAUSE);
            }
            Err(_) => return None,
        }
    };
    let sizes: Option<Vec<u64>> = ["config.json", "disk.img", "nvram.bin"]
        .iter()
        .map(|f| std::fs::metadata(dir.join(f)).ok().map(|m| m.len()))
        .collect();
    settings.disk_gb = sizes.map(|s| s.iter().sum::<u64>() / 1_000_000_000);
    Some(settings)
}

/// The text of a `config.json`, or `None` when it is no regular file we can read.
fn read_config_text(path: &Path) -> Option<String> {
    // Non-blocking and no symlinks: a FIFO or a link planted there cannot stall or
    // redirect the refresh.
    let file = File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
        .open(path)
        .ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut text = String::new();
    file.take(MAX_VM_CONFIG_FILE_BYTES)
        .read_to_string(&mut text)
        .ok()?;
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn home_with(tag: &str, name: &str, config: &str) -> PathBuf {
        let home = std::env::temp_dir().join(format!("tf-home-{tag}-{}", std::process::id()));
        let dir = home.join("vms").join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config.json"), config).unwrap();
        home
    }

    #[test]
    fn reads_what_tart_get_would_say() {
        let home = home_with(
            "read",
            "mac",
            r#"{"version":1,"os":"darwin","cpuCount":4,"cpuCountMin":4,
                "memorySize":8589934592,"display":{"width":1920,"height":1080,"unit":"px"},
                "macAddress":"aa:bb:cc:dd:ee:ff","diskFormat":"asif"}"#,
        );
        let vm = read_vm_settings(&home, "mac").unwrap();
        assert_eq!(vm.os.as_deref(), Some("darwin"));
        assert_eq!(vm.cpu, Some(4));
        assert_eq!(vm.memory_mib, Some(8192));
        assert_eq!(vm.display.as_deref(), Some("1920x1080px"));
        assert_eq!(vm.disk_format.as_deref(), Some("asif"));
        std::fs::remove_dir_all(&home).unwrap();
    }

    #[test]
    fn the_disk_size_is_the_three_files_in_gb() {
        let home = home_with("disk", "vm", r#"{"cpuCount":2,"memorySize":4294967296}"#);
        let dir = home.join("vms").join("vm");
        assert_eq!(read_vm_settings(&home, "vm").unwrap().disk_gb, None);
        std::fs::File::create(dir.join("disk.img"))
            .unwrap()
            .set_len(50_000_000_000)
            .unwrap();
        std::fs::write(dir.join("nvram.bin"), b"nvram").unwrap();
        assert_eq!(read_vm_settings(&home, "vm").unwrap().disk_gb, Some(50));
        std::fs::remove_dir_all(&home).unwrap();
    }

    #[test]
    fn a_home_that_holds_other_vms_than_tart_listed_is_not_tarts() {
        let home = home_with("match", "a", r#"{"cpuCount":2,"memorySize":1}"#);
        let a = home.join("vms").join("a");
        std::fs::write(a.join("disk.img"), b"").unwrap();
        std::fs::write(a.join("nvram.bin"), b"").unwrap();
        // An incomplete folder is no VM to tart either.
        std::fs::create_dir_all(home.join("vms").join("half")).unwrap();
        std::fs::write(home.join("vms").join("half").join("config.json"), b"{}").unwrap();
        assert!(lists_the_same_vms(&home, &HashSet::from(["a"])));
        assert!(
            !lists_the_same_vms(&home, &HashSet::from([])),
            "a is not listed"
        );
        assert!(
            !lists_the_same_vms(&home, &HashSet::from(["a", "b"])),
            "b is not here"
        );
        let nowhere = home.join("nowhere");
        assert!(lists_the_same_vms(&nowhere, &HashSet::from([])));
        assert!(!lists_the_same_vms(&nowhere, &HashSet::from(["a"])));
        std::fs::remove_dir_all(&home).unwrap();
    }

    #[test]
    fn missing_keys_take_tarts_defaults() {
        let home = home_with(
            "defaults",
            "old",
            r#"{"cpuCount":2,"memorySize":4294967296,"diskFormat":"future"}"#,
        );
        let vm = read_vm_settings(&home, "old").unwrap();
        assert_eq!(vm.os.as_deref(), Some("darwin"));
        assert_eq!(vm.display.as_deref(), Some("1024x768"));
        assert_eq!(vm.disk_format.as_deref(), Some("raw"));
        std::fs::remove_dir_all(&home).unwrap();
    }

    #[test]
    fn anything_else_is_left_to_tart_get() {
        let home = home_with("else", "odd", r#"{"os":"linux"}"#);
        assert_eq!(read_vm_settings(&home, "odd"), None, "no cpuCount");
        assert_eq!(read_vm_settings(&home, "absent"), None);
        assert_eq!(read_vm_settings(&home, "../vms/odd"), None);
        assert_eq!(read_vm_settings(&home, ""), None);
        let fifo = home.join("vms").join("fifo");
        std::fs::create_dir_all(&fifo).unwrap();
        let made = std::process::Command::new("mkfifo")
            .arg(fifo.join("config.json"))
            .status()
            .unwrap();
        assert!(made.success());
        assert_eq!(read_vm_settings(&home, "fifo"), None, "a FIFO never blocks");
        let link = home.join("vms").join("link");
        std::fs::create_dir_all(&link).unwrap();
        let valid = home.join("valid.json");
        std::fs::write(&valid, r#"{"cpuCount":2,"memorySize":1}"#).unwrap();
        std::os::unix::fs::symlink(&valid, link.join("config.json")).unwrap();
        assert_eq!(read_vm_settings(&home, "link"), None, "no symlinks");
        std::fs::remove_dir_all(&home).unwrap();
    }
}
