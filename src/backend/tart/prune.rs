//! What `tart prune` would remove, computed from `$TART_HOME` by tart's own rules.
//!
//! tart has no dry-run (`tart-real-mac.md` c6), so the preview reproduces its code
//! (`Commands/Prune.swift`, tart 2.32.1):
//! - the candidates (`Prunable`s) of `--entries caches` are every initialized directory
//!   under `cache/OCIs/` that is not a tag symlink (the `sha256:` digest folders) plus
//!   every `cache/IPSWs/*.ipsw` file; of `--entries vms`, every initialized folder in
//!   `vms/` whose `config.json` no `tart run` holds locked (suspended VMs included);
//! - `--older-than N` removes each candidate whose access date is at least N days old;
//! - then `--space-budget N` lists the remaining candidates afresh, most recently
//!   accessed first, keeps each one whose allocated size still fits what is left of
//!   N GiB and removes every other one (a smaller, older entry can still fit after a
//!   bigger one did not).
//!
//! The access date is the folder's (or IPSW file's) atime, which tart bumps whenever it
//! opens a VM. Reading here must never count as an access: we only `stat` paths and read
//! the lock on `config.json`; we never list the inside of a VM or image folder (on Linux
//! with `relatime`, and on macOS, listing a folder can move its atime).
//!
//! Plain functions over the file system; no locks, no threads.

use std::fs::{self, File};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Bytes per GiB: tart's `--space-budget` is `n × 1024³`.
const GIB: u64 = 1024 * 1024 * 1024;

/// Seconds per day: tart's `--older-than` is `n` days of 86,400 s.
const DAY_SECS: u64 = 86_400;

/// How deep the walk of `cache/OCIs/` goes (16 levels). Real layouts are
/// `<host>/<namespace…>/sha256:<hex>`, a handful of levels; the bound stops a symlink
/// loop or a planted deep tree from making a preview walk forever.
const MAX_OCI_DEPTH: usize = 16;

/// The files that make a folder a VM or an image to tart.
const VM_FILES: [&str; 3] = ["config.json", "disk.img", "nvram.bin"];

/// Which of tart's two kinds of entries a prune works on (`--entries`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entries {
    /// `caches`: cached OCI images and IPSW restore images.
    Caches,
    /// `vms`: local VMs that are not running.
    Vms,
}

impl Entries {
    /// The `--entries` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Entries::Caches => "caches",
            Entries::Vms => "vms",
        }
    }
}

/// A prune's options, as `tart prune` takes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PruneOptions {
    pub entries: Entries,
    /// `--older-than`, days.
    pub older_than_days: Option<u64>,
    /// `--space-budget`, GiB.
    pub space_budget_gb: Option<u64>,
}

impl PruneOptions {
    /// The `tart prune` argv for these options.
    pub fn args(&self) -> Vec<String> {
        let mut args = vec![
            "prune".to_string(),
            "--entries".to_string(),
            self.entries.as_str().to_string(),
        ];
        if let Some(days) = self.older_than_days {
            args.extend(["--older-than".to_string(), days.to_string()]);
        }
        if let Some(gb) = self.space_budget_gb {
            args.extend(["--space-budget".to_string(), gb.to_string()]);
        }
        args
    }
}

/// What an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A local VM (`vms/<name>`).
    Vm,
    /// A cached OCI image (a digest folder).
    Image,
    /// A cached IPSW restore image.
    Ipsw,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Vm => "vm",
            Kind::Image => "image",
            Kind::Ipsw => "ipsw",
        }
    }
}

/// One thing a prune may remove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The VM name, the image as `tart list` names it (`host/ns@sha256:…`), or the IPSW
    /// file name.
    pub name: String,
    pub kind: Kind,
    /// Allocated bytes on disk (what tart's budget counts).
    pub size_bytes: u64,
    /// The access date tart goes by.
    pub accessed: SystemTime,
    /// Where it is.
    pub path: PathBuf,
}

impl Entry {
    /// The JSON shape of the API: `{"name", "kind", "size_bytes", "accessed"}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name,
            "kind": self.kind.as_str(),
            "size_bytes": self.size_bytes,
            "accessed": crate::util::time::iso8601(self.accessed),
        })
    }
}

/// Everything `tart prune --entries <entries>` would consider, in no particular order.
pub fn candidates(home: &Path, entries: Entries) -> Vec<Entry> {
    match entries {
        Entries::Vms => local_vms(home),
        Entries::Caches => {
            let mut found = Vec::new();
            walk_oci(&home.join("cache/OCIs"), "", 0, &mut found);
            found.extend(ipsws(home));
            found
        }
    }
}

/// What `tart prune` with `options` would remove right now, oldest access first.
pub fn preview(home: &Path, options: &PruneOptions, now: SystemTime) -> Vec<Entry> {
    select(candidates(home, options.entries), options, now)
}

/// tart's selection over `candidates`: the older-than pass, then the budget pass over
/// what is left. Returned oldest access first (ties by name), for display.
pub fn select(mut candidates: Vec<Entry>, options: &PruneOptions, now: SystemTime) -> Vec<Entry> {
    let mut doomed = Vec::new();
    if let Some(days) = options.older_than_days {
        let limit = now
            .checked_sub(Duration::from_secs(days.saturating_mul(DAY_SECS)))
            .unwrap_or(UNIX_EPOCH);
        let (old, young): (Vec<Entry>, Vec<Entry>) =
            candidates.into_iter().partition(|e| e.accessed <= limit);
        doomed.extend(old);
        candidates = young;
    }
    if let Some(gb) = options.space_budget_gb {
        candidates.sort_by_key(|e| std::cmp::Reverse(e.accessed));
        let mut left = gb.saturating_mul(GIB);
        for entry in candidates {
            if entry.size_bytes <= left {
                left -= entry.size_bytes;
            } else {
                doomed.push(entry);
            }
        }
    }
    doomed.sort_by(|a, b| a.accessed.cmp(&b.accessed).then(a.name.cmp(&b.name)));
    doomed
}

/// The sum of the entries' sizes.
pub fn total_bytes(entries: &[Entry]) -> u64 {
    entries.iter().map(|e| e.size_bytes).sum()
}

/// Whether a folder holds the three files tart requires (by `stat`, never a listing).
fn initialized(dir: &Path) -> bool {
    VM_FILES.iter().all(|f| dir.join(f).exists())
}

/// Allocated bytes of the three files of a VM or image folder.
fn folder_bytes(dir: &Path) -> u64 {
    VM_FILES
        .iter()
        .filter_map(|f| fs::metadata(dir.join(f)).ok())
        .map(|m| m.blocks() * 512)
        .sum()
}

/// The access date of a path itself (not following a final symlink).
fn accessed(path: &Path) -> Option<SystemTime> {
    fs::symlink_metadata(path).ok()?.accessed().ok()
}

fn local_vms(home: &Path) -> Vec<Entry> {
    let Ok(listing) = fs::read_dir(home.join("vms")) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for item in listing.flatten() {
        let path = item.path();
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        if !meta.is_dir() || !initialized(&path) || is_running(&path.join("config.json")) {
            continue;
        }
        found.push(Entry {
            name: item.file_name().to_string_lossy().into_owned(),
            kind: Kind::Vm,
            size_bytes: folder_bytes(&path),
            accessed: meta.accessed().unwrap_or(UNIX_EPOCH),
            path,
        });
    }
    found
}

/// Walks `cache/OCIs/`: an initialized folder that is no symlink is an image and is not
/// entered; any other folder is a level of the `<host>/<namespace…>` path.
fn walk_oci(dir: &Path, prefix: &str, depth: usize, found: &mut Vec<Entry>) {
    if depth > MAX_OCI_DEPTH {
        return;
    }
    let Ok(listing) = fs::read_dir(dir) else {
        return;
    };
    for item in listing.flatten() {
        let path = item.path();
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        if !meta.is_dir() {
            continue; // tag symlinks and stray files are no prunables
        }
        let leaf = item.file_name().to_string_lossy().into_owned();
        if initialized(&path) {
            found.push(Entry {
                name: format!("{}@{leaf}", percent_decode(prefix)),
                kind: Kind::Image,
                size_bytes: folder_bytes(&path),
                accessed: meta.accessed().unwrap_or(UNIX_EPOCH),
                path,
            });
        } else {
            let child = if prefix.is_empty() {
                leaf
            } else {
                format!("{prefix}/{leaf}")
            };
            walk_oci(&path, &child, depth + 1, found);
        }
    }
}

fn ipsws(home: &Path) -> Vec<Entry> {
    let Ok(listing) = fs::read_dir(home.join("cache/IPSWs")) else {
        return Vec::new();
    };
    listing
        .flatten()
        .filter_map(|item| {
            let name = item.file_name().to_string_lossy().into_owned();
            if !name.ends_with(".ipsw") {
                return None;
            }
            let path = item.path();
            let meta = fs::metadata(&path).ok()?;
            Some(Entry {
                name,
                kind: Kind::Ipsw,
                size_bytes: meta.blocks() * 512,
                accessed: accessed(&path).unwrap_or(UNIX_EPOCH),
                path,
            })
        })
        .collect()
}

/// tart's running test: a `tart run` holds a POSIX write lock on `config.json`
/// (`tart-cli.md` 1.3). A file we cannot open counts as not running, as in tart.
pub fn is_running(config: &Path) -> bool {
    File::open(config).is_ok_and(|file| lock_holder(&file).is_some())
}

/// The PID holding a write lock on the whole file, asked with `F_GETLK` (which never
/// takes or disturbs a lock: POSIX locks belong to the process that holds them).
#[allow(unsafe_code)] // one fcntl std does not offer
fn lock_holder(file: &File) -> Option<i32> {
    use std::os::fd::AsRawFd;
    // SAFETY: `flock` is plain data, zeroed is a valid value; the fd is open for the
    // life of `file`, and F_GETLK only writes into the struct we pass.
    let mut query: libc::flock = unsafe { std::mem::zeroed() };
    query.l_type = libc::F_WRLCK as _;
    query.l_whence = libc::SEEK_SET as _;
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETLK, &mut query) };
    (rc == 0 && i32::from(query.l_type) != libc::F_UNLCK && query.l_pid > 0).then_some(query.l_pid)
}

/// `host%3A5000` → `host:5000`, as tart shows cached image names.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match hex {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, gib_tenths: u64, days_ago: u64, now: SystemTime) -> Entry {
        Entry {
            name: name.to_string(),
            kind: Kind::Vm,
            size_bytes: gib_tenths * GIB / 10,
            accessed: now - Duration::from_secs(days_ago * DAY_SECS),
            path: PathBuf::from(name),
        }
    }

    fn names(entries: &[Entry]) -> Vec<&str> {
        entries.iter().map(|e| e.name.as_str()).collect()
    }

    fn options(older: Option<u64>, budget: Option<u64>) -> PruneOptions {
        PruneOptions {
            entries: Entries::Vms,
            older_than_days: older,
            space_budget_gb: budget,
        }
    }

    #[test]
    fn older_than_takes_everything_at_least_that_old() {
        let now = SystemTime::now();
        let all = vec![
            entry("new", 1, 0, now),
            entry("week", 1, 7, now),
            entry("month", 1, 30, now),
        ];
        let gone = select(all, &options(Some(7), None), now);
        assert_eq!(
            names(&gone),
            ["month", "week"],
            "oldest first, 7 days is old"
        );
    }

    /// Pins tart 2.32.1's budget rule: an older entry that still fits what is left is
    /// kept even after a newer one did not fit (not a cut-off at the first overflow).
    #[test]
    fn the_budget_keeps_whatever_still_fits_newest_first() {
        let now = SystemTime::now();
        let all = vec![
            entry("a-newest-6", 6, 1, now),
            entry("b-5", 5, 2, now),
            entry("c-3", 3, 3, now),
            entry("d-oldest-2", 2, 4, now),
        ];
        // 1 GiB: a (0.6) fits, b (0.5) does not, c (0.3) fits, d (0.2) does not (0.1 left).
        let gone = select(all, &options(None, Some(1)), now);
        assert_eq!(names(&gone), ["d-oldest-2", "b-5"]);
        assert_eq!(total_bytes(&gone), 7 * GIB / 10);
    }

    #[test]
    fn the_budget_counts_only_what_older_than_left() {
        let now = SystemTime::now();
        let all = vec![
            entry("new", 6, 0, now),
            entry("mid", 5, 2, now),
            entry("old", 9, 10, now),
        ];
        // older-than 5 takes "old"; then 1 GiB keeps new (0.6), drops mid (0.5).
        let gone = select(all, &options(Some(5), Some(1)), now);
        assert_eq!(names(&gone), ["old", "mid"]);
        let none = select(Vec::new(), &options(Some(0), Some(0)), now);
        assert!(none.is_empty());
    }

    #[test]
    fn args_follow_tarts_flags() {
        let o = PruneOptions {
            entries: Entries::Caches,
            older_than_days: Some(7),
            space_budget_gb: Some(50),
        };
        assert_eq!(
            o.args(),
            [
                "prune",
                "--entries",
                "caches",
                "--older-than",
                "7",
                "--space-budget",
                "50"
            ]
        );
    }

    #[test]
    fn the_home_is_read_by_tarts_rules_without_touching_access_dates() {
        let home = std::env::temp_dir().join(format!("tf-prune-{}", std::process::id()));
        let _ = fs::remove_dir_all(&home);
        let make = |dir: &Path| {
            fs::create_dir_all(dir).unwrap();
            for f in VM_FILES {
                fs::write(dir.join(f), b"x").unwrap();
            }
        };
        make(&home.join("vms/a vm (ü)"));
        fs::create_dir_all(home.join("vms/half")).unwrap();
        let digest = home.join("cache/OCIs/localhost%3A5000/org/img/sha256:ab");
        make(&digest);
        std::os::unix::fs::symlink(&digest, digest.with_file_name("latest")).unwrap();
        fs::create_dir_all(home.join("cache/IPSWs")).unwrap();
        fs::write(home.join("cache/IPSWs/x.ipsw"), b"ipsw").unwrap();
        fs::write(home.join("cache/IPSWs/x.ipsw.part"), b"no").unwrap();
        let old = UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        let times = fs::FileTimes::new().set_accessed(old);
        for dir in [home.join("vms/a vm (ü)"), digest.clone()] {
            File::open(&dir).unwrap().set_times(times).unwrap();
        }

        let vms = candidates(&home, Entries::Vms);
        assert_eq!(names(&vms), ["a vm (ü)"]);
        assert_eq!(vms[0].accessed, old);
        assert!(vms[0].size_bytes > 0);
        let mut caches = candidates(&home, Entries::Caches);
        caches.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(
            names(&caches),
            ["localhost:5000/org/img@sha256:ab", "x.ipsw"]
        );
        assert_eq!(caches[0].kind, Kind::Image);
        assert_eq!(caches[1].kind, Kind::Ipsw);
        for dir in [home.join("vms/a vm (ü)"), digest] {
            let seen = fs::metadata(&dir).unwrap().accessed().unwrap();
            assert_eq!(seen, old, "{} was not touched", dir.display());
        }
        fs::remove_dir_all(&home).unwrap();
    }
}
