//! Which `tart` is installed now, and whether this server can drive it well
//! (`tart-real-mac.md` risk 5).
//!
//! * [`BinaryId`] names the binary a `tart` call would run: its resolved path (through
//!   `PATH` and symlinks, so a Homebrew upgrade that relinks `bin/tart` counts), size,
//!   modification time and inode. A cached `tart --version` is valid only while the
//!   binary's identity is unchanged: an upgrade or an uninstall while the server runs is
//!   seen at the next question.
//! * [`warnings`] says, in plain words, what an old tart cannot do: before 1.2.0 `tart
//!   list` has no state (every VM shows `unknown`); before 1.9.2 `tart run --vnc` waits
//!   for an IP *before* starting the VM, so a Screen Sharing start hangs 60 s and fails.
//!   `SNAPSHOT` (a build from source) cannot be judged and gets no warning.
//!
//! Pure functions plus `stat(2)`; no threads, no state.

use std::ffi::{OsStr, OsString};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The oldest tart whose `list` reports which VMs run.
pub const STATE_SINCE: (u64, u64, u64) = (1, 2, 0);
/// The oldest tart whose `run --vnc` starts the VM before waiting for its IP.
pub const VNC_START_SINCE: (u64, u64, u64) = (1, 9, 2);

/// The identity of a `tart` binary on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinaryId {
    path: PathBuf,
    len: u64,
    modified: i64,
    modified_nanos: i64,
    inode: u64,
}

/// The binary `program` names, found as `execvp` would find it (`PATH` from the child
/// environment when it sets one), or `None` when there is none.
pub fn identify(program: &Path, child_env: &[(OsString, OsString)]) -> Option<BinaryId> {
    let found = if program.components().count() > 1 || program.is_absolute() {
        Some(program.to_path_buf())
    } else {
        let path = child_env
            .iter()
            .rev()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.clone())
            .or_else(|| std::env::var_os("PATH"))?;
        search(&path, program.as_os_str())
    }?;
    let real = std::fs::canonicalize(found).ok()?;
    let meta = std::fs::metadata(&real).ok()?;
    meta.is_file().then(|| BinaryId {
        len: meta.len(),
        modified: meta.mtime(),
        modified_nanos: meta.mtime_nsec(),
        inode: meta.ino(),
        path: real,
    })
}

fn search(path: &OsStr, name: &OsStr) -> Option<PathBuf> {
    std::env::split_paths(path)
        .map(|dir| dir.join(name))
        .find(|candidate| {
            std::fs::metadata(candidate).is_ok_and(|m| m.is_file() && m.mode() & 0o111 != 0)
        })
}

/// `major.minor.patch` of a release version; `None` for `SNAPSHOT` and anything else.
pub fn parse(version: &str) -> Option<(u64, u64, u64)> {
    let mut parts = version.trim().split('.');
    let number = |p: Option<&str>| p?.parse::<u64>().ok();
    let triple = (
        number(parts.next())?,
        number(parts.next())?,
        number(parts.next())?,
    );
    parts.next().is_none().then_some(triple)
}

/// What this server cannot do well with tart `version`, in plain words; empty when it
/// is recent enough or cannot be judged.
pub fn warnings(version: &str) -> Vec<String> {
    let Some(found) = parse(version) else {
        return Vec::new();
    };
    let mut said = Vec::new();
    if found < STATE_SINCE {
        said.push(format!(
            "tart {version} cannot say which VMs run (its `tart list` has no state before 1.2.0): every VM shows as unknown"
        ));
    }
    if found < VNC_START_SINCE {
        said.push(format!(
            "tart {version} waits for a VM's IP before starting it when Screen Sharing is asked for (fixed in 1.9.2): such starts hang for 60 s and fail; upgrade tart"
        ));
    }
    said
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_and_old_ones_are_named() {
        assert_eq!(parse("2.32.1"), Some((2, 32, 1)));
        assert_eq!(parse("SNAPSHOT"), None);
        assert_eq!(parse("1.9"), None);
        assert!(warnings("2.32.1").is_empty());
        assert!(warnings("1.9.2").is_empty());
        assert!(warnings("SNAPSHOT").is_empty());
        let w = warnings("1.9.1");
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("1.9.2"));
        assert_eq!(warnings("1.1.0").len(), 2);
        assert_eq!(warnings("0.37.0").len(), 2);
    }

    #[test]
    fn the_identity_changes_when_the_binary_is_replaced() {
        let dir = std::env::temp_dir().join(format!("tf-version-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bin = dir.join("tart");
        std::fs::write(&bin, "#!/bin/sh\necho 1.0.0\n").unwrap();
        let env = [(OsString::from("PATH"), dir.clone().into_os_string())];
        let first = identify(Path::new("tart"), &env);
        std::fs::set_permissions(&bin, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let first_exec = identify(Path::new("tart"), &env).expect("found on PATH");
        assert!(first.is_none(), "not executable: not what execvp runs");
        std::fs::remove_file(&bin).unwrap();
        assert_eq!(identify(&bin, &[]), None, "uninstalled");
        std::fs::write(&bin, "#!/bin/sh\necho 2.0.0 upgraded\n").unwrap();
        let second = identify(&bin, &[]).unwrap();
        assert_ne!(first_exec, second);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
