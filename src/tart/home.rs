//! Reading a local VM's settings straight from `$TART_HOME/vms/<name>/config.json`.
//!
//! The refresh needs each VM's OS, CPUs, memory and display, which `tart list` does not
//! print. Asking `tart get` for them costs a process per VM (50 VMs at 200 ms a call took
//! three rounds of our process bound) and bumps every VM's access date, which is what
//! `tart prune --entries vms --older-than` goes by: a server that merely looked at a VM
//! would keep it from ever being pruned. The file is small, documented (`tart-cli.md`
//! §1.2) and read without side effects. When it cannot be read or understood (another
//! layout, a `--tart` wrapper with its own home), the caller falls back to `tart get`.

use std::ffi::OsString;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

use super::parse::{self, VmDetails};
use crate::limits::MAX_VM_CONFIG_FILE_BYTES;

/// Where `tart` keeps its VMs, as a child of ours sees it: `TART_HOME` from the extra
/// child environment or ours, else `~/.tart`.
pub fn tart_home(child_env: &[(OsString, OsString)]) -> Option<PathBuf> {
    let from_child_env = child_env
        .iter()
        .rev()
        .find(|(key, _)| key == "TART_HOME")
        .map(|(_, value)| value.clone());
    if let Some(home) = from_child_env.or_else(|| std::env::var_os("TART_HOME")) {
        return Some(PathBuf::from(home));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".tart"))
}

/// The settings in a local VM's `config.json`, or `None` when there is no such regular
/// file or it is not one we understand.
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
    let path = home.join("vms").join(name).join("config.json");
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
    parse::vm_config_file(&text).ok()
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
        std::fs::remove_dir_all(&home).unwrap();
    }
}
