//! Noticing changes made outside the server (the tart CLI, a guest shutting down, a VM
//! folder deleted in Finder) without running `tart`: once a [`WATCH_INTERVAL`], read
//! what tart itself reads (`tart-cli.md` §1.3): which VM folders exist, whether a
//! process holds the record lock on each `config.json` (that is "running"), whether a
//! `state.vzvmsave` is there ("suspended"), and the `config.json` modification times
//! (`tart set`). A difference from the last look asks the owner for a refresh; the
//! refresh's `tart list` stays the source of truth, this only says *when* to ask.
//!
//! Threading: one thread, [`spawn_home_watcher`]; it touches only the file system and
//! calls its `on_change` callback, which must not block for long.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use crossbeam_channel::Receiver;

/// How often the home is looked at (1 s): a change made outside shows within about
/// 2 s (this, plus the refresh it triggers). A look is a directory listing and, per
/// VM, one open, one `fcntl(F_GETLK)` and two `stat`s: about 3 ms for 1,000 VMs.
pub const WATCH_INTERVAL: Duration = Duration::from_secs(1);

/// VM folders looked at per tick (10,000): beyond that the periodic refresh alone
/// notices changes, and a look stays bounded in time and memory.
pub const MAX_WATCHED_VMS: usize = 10_000;

/// What one VM folder looked like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmMark {
    /// `config.json`, `disk.img` and `nvram.bin` all exist: tart lists it.
    pub complete: bool,
    /// Some process holds the record lock on `config.json` (`tart run`).
    pub running: bool,
    /// `state.vzvmsave` exists.
    pub suspended: bool,
    /// `config.json`'s modification time (`tart set` rewrites it).
    pub config_modified: Option<SystemTime>,
}

/// What `$TART_HOME/vms` looked like, by folder name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HomeLook {
    pub vms: BTreeMap<String, VmMark>,
}

impl HomeLook {
    /// The names whose mark differs between `self` and `earlier` (added, removed or
    /// changed), in name order.
    pub fn changed_since(&self, earlier: &HomeLook) -> Vec<String> {
        let mut names: Vec<String> = self
            .vms
            .iter()
            .filter(|(name, mark)| earlier.vms.get(*name) != Some(mark))
            .map(|(name, _)| name.clone())
            .collect();
        names.extend(
            earlier
                .vms
                .keys()
                .filter(|name| !self.vms.contains_key(*name))
                .cloned(),
        );
        names.sort();
        names
    }
}

/// Looks at `home` once. A missing home is an empty one.
pub fn look(home: &Path) -> HomeLook {
    let mut look = HomeLook::default();
    let Ok(entries) = std::fs::read_dir(home.join("vms")) else {
        return look;
    };
    for entry in entries.flatten().take(MAX_WATCHED_VMS) {
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        look.vms.insert(name, mark(&entry.path()));
    }
    look
}

fn mark(dir: &Path) -> VmMark {
    let config = dir.join("config.json");
    // Non-blocking and no symlinks, as the settings reader: a FIFO or a planted link
    // cannot stall or redirect the watcher.
    let file = File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
        .open(&config)
        .ok();
    let metadata = file.as_ref().and_then(|f| f.metadata().ok());
    let is_file = metadata.as_ref().is_some_and(|m| m.is_file());
    VmMark {
        complete: is_file && dir.join("disk.img").exists() && dir.join("nvram.bin").exists(),
        running: is_file && file.as_ref().is_some_and(lock_is_held),
        suspended: dir.join("state.vzvmsave").exists(),
        config_modified: metadata.and_then(|m| m.modified().ok()),
    }
}

/// Whether another process holds a record lock on `file`: tart's own running test
/// (`F_GETLK` on `config.json`, whose answer names the `tart run` process). Our process
/// never takes such a lock, so opening and closing the file here cannot drop one.
#[allow(unsafe_code)] // one syscall std does not offer: asking about a record lock.
fn lock_is_held(file: &File) -> bool {
    let mut request = libc::flock {
        l_type: libc::F_WRLCK as libc::c_short,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start: 0,
        l_len: 0,
        l_pid: 0,
    };
    // SAFETY: the descriptor stays valid while `file` is borrowed; fcntl writes its
    // answer into `request`, a properly initialised `flock` we own.
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETLK, &mut request) };
    rc == 0 && request.l_type != libc::F_UNLCK as libc::c_short && request.l_pid > 0
}

/// Starts the watcher of `home`: it calls `on_change` with the changed folder names
/// whenever a look differs from the one before, until `shutdown` disconnects.
pub fn spawn_home_watcher(
    home: PathBuf,
    on_change: impl Fn(&[String]) + Send + 'static,
    shutdown: Receiver<()>,
) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("tart-home-watch".into())
        .spawn(move || {
            let ticker = crossbeam_channel::tick(WATCH_INTERVAL);
            let mut before = look(&home);
            loop {
                crossbeam_channel::select! {
                    recv(ticker) -> _ => {}
                    recv(shutdown) -> _ => return,
                }
                let now = look(&home);
                let changed = now.changed_since(&before);
                if !changed.is_empty() {
                    on_change(&changed);
                }
                before = now;
            }
        })
        .expect("cannot start the tart home watcher thread")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn home(tag: &str) -> PathBuf {
        let home = std::env::temp_dir().join(format!("tf-watch-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&home);
        std::fs::create_dir_all(home.join("vms")).unwrap();
        home
    }

    fn make_vm(home: &Path, name: &str) -> PathBuf {
        let dir = home.join("vms").join(name);
        std::fs::create_dir_all(&dir).unwrap();
        for f in ["config.json", "disk.img", "nvram.bin"] {
            std::fs::write(dir.join(f), b"{}").unwrap();
        }
        dir
    }

    #[test]
    fn folders_appearing_and_vanishing_are_changes() {
        let home = home("folders");
        let empty = look(&home);
        make_vm(&home, "a");
        let one = look(&home);
        assert_eq!(one.changed_since(&empty), ["a"]);
        assert!(one.vms["a"].complete);
        assert!(!one.vms["a"].running);
        assert!(one.changed_since(&one).is_empty());
        std::fs::remove_dir_all(home.join("vms").join("a")).unwrap();
        assert_eq!(look(&home).changed_since(&one), ["a"]);
        assert!(look(&home.join("absent")).vms.is_empty());
        std::fs::remove_dir_all(&home).unwrap();
    }

    #[test]
    fn a_suspended_state_file_is_a_change() {
        let home = home("suspend");
        let dir = make_vm(&home, "mac");
        let before = look(&home);
        std::fs::write(dir.join("state.vzvmsave"), b"").unwrap();
        let after = look(&home);
        assert!(after.vms["mac"].suspended);
        assert_eq!(after.changed_since(&before), ["mac"]);
        std::fs::remove_dir_all(&home).unwrap();
    }

    // The lock itself is pinned end to end in `tests/events.rs`, with tart-sim's `run`
    // holding it as tart does.
}
