//! `$TART_HOME` and the VM directories inside it (contract section 1.2).
//!
//! Layout, initialisation rules, the `tmp/` garbage collection, sizes and access dates.
//! Writers build in `tmp/` and move into place with rename(2) so that concurrent readers
//! (several tart processes share one home) never see half-built VMs.

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::failure::Failure;
use crate::ids;
use crate::lock;

/// The three files that make a directory a VM.
const VM_FILES: [&str; 3] = ["config.json", "disk.img", "nvram.bin"];

/// How old an unlocked `tmp/` entry must be before the GC deletes it (see `gc_tmp`).
const TMP_GC_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// The message tart prints for a VM directory that lacks one of [`VM_FILES`].
pub const MISSING_FILES: &str =
    "VM is missing some of its files (config.json, disk.img or nvram.bin)";

/// The tart home directory.
#[derive(Debug, Clone)]
pub struct Home {
    root: PathBuf,
}

impl Home {
    /// Resolves `$TART_HOME` (default `~/.tart`, `~` as tart finds it: see `user_home`)
    /// and creates `cache/` and `tmp/`.
    pub fn open() -> Result<Home, Failure> {
        let root = match std::env::var_os("TART_HOME") {
            Some(path) if !path.is_empty() => PathBuf::from(path),
            _ => crate::user_home::user_home().join(".tart"),
        };
        if let Err(error) = fs::create_dir_all(&root) {
            return Err(Failure::runtime(format!(
                "TART_HOME is invalid: {} does not exist, yet we can't create it: {error}",
                root.display()
            )));
        }
        let home = Home { root };
        for dir in [home.cache_dir(), home.tmp_dir()] {
            fs::create_dir_all(&dir).map_err(|e| Failure::io("creating directory", e))?;
        }
        Ok(home)
    }

    /// `vms/`.
    pub fn vms_dir(&self) -> PathBuf {
        self.root.join("vms")
    }

    /// `cache/`.
    pub fn cache_dir(&self) -> PathBuf {
        self.root.join("cache")
    }

    /// `cache/OCIs/`.
    pub fn oci_dir(&self) -> PathBuf {
        self.cache_dir().join("OCIs")
    }

    /// `cache/IPSWs/`.
    pub fn ipsw_dir(&self) -> PathBuf {
        self.cache_dir().join("IPSWs")
    }

    /// `tmp/`.
    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// `.sim/`: simulator-only state (DHCP leases) that real tart keeps outside its home.
    pub fn sim_dir(&self) -> PathBuf {
        self.root.join(".sim")
    }

    /// The directory of local VM `name`, appended verbatim like Foundation's
    /// `appendingPathComponent` (no sanitising; an absolute name stays under `vms/`).
    pub fn vm(&self, name: &str) -> VmDir {
        let mut path = self.vms_dir().into_os_string();
        path.push("/");
        path.push(name);
        VmDir {
            path: PathBuf::from(path),
        }
    }

    /// Opens local VM `name` for a command that needs it: missing → exit 2,
    /// incomplete → exit 1.
    pub fn local_vm(&self, name: &str) -> Result<VmDir, Failure> {
        let vm = self.vm(name);
        if !vm.path.is_dir() {
            return Err(Failure::vm_does_not_exist(name));
        }
        if !vm.initialized() {
            return Err(Failure::runtime(MISSING_FILES));
        }
        Ok(vm)
    }

    /// Every initialised VM directly under `vms/`, as `(name, dir)`, sorted by name.
    pub fn local_vms(&self) -> Vec<(String, VmDir)> {
        let mut vms = Vec::new();
        if let Ok(entries) = fs::read_dir(self.vms_dir()) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let vm = VmDir { path: entry.path() };
                if vm.initialized() {
                    vms.push((name, vm));
                }
            }
        }
        vms.sort_by(|a, b| a.0.cmp(&b.0));
        vms
    }

    /// Creates a fresh `tmp/<UUID>` directory, flock-ed so the GC leaves it alone while
    /// the returned guard lives.
    pub fn new_tmp_dir(&self) -> Result<TmpDir, Failure> {
        let path = self.tmp_dir().join(ids::uuid());
        fs::create_dir_all(&path).map_err(|e| Failure::io("creating temporary directory", e))?;
        let guard = File::open(&path).map_err(|e| Failure::io("opening temporary directory", e))?;
        guard
            .lock()
            .map_err(|e| Failure::io("locking temporary directory", e))?;
        Ok(TmpDir {
            path,
            _guard: guard,
            keep: false,
        })
    }

    /// Deletes every `tmp/` entry that no live process holds an flock on.
    ///
    /// Unlike tart, entries younger than [`TMP_GC_GRACE`] are left alone: tart has a
    /// window between creating an entry and locking it in which a concurrent command's
    /// GC can delete it; the simulator closes it so that tests are deterministic.
    pub fn gc_tmp(&self) -> io::Result<()> {
        for entry in fs::read_dir(self.tmp_dir())? {
            let path = entry?.path();
            let Ok(file) = File::open(&path) else {
                continue;
            };
            let young = fs::symlink_metadata(&path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_none_or(|age| age < TMP_GC_GRACE);
            if !young && file.try_lock().is_ok() {
                let meta = fs::symlink_metadata(&path)?;
                if meta.is_dir() {
                    fs::remove_dir_all(&path)?;
                } else {
                    fs::remove_file(&path)?;
                }
            }
        }
        Ok(())
    }

    /// Takes the global flock on `$TART_HOME` that serialises clone/import/run start-up.
    pub fn global_lock(&self) -> Result<File, Failure> {
        let file = File::open(&self.root).map_err(|e| Failure::io("opening TART_HOME", e))?;
        file.lock()
            .map_err(|e| Failure::io("locking TART_HOME", e))?;
        Ok(file)
    }
}

/// A `tmp/` entry protected from GC; removed on drop unless [`TmpDir::keep`] was called
/// (after it has been renamed into place).
#[derive(Debug)]
pub struct TmpDir {
    pub path: PathBuf,
    _guard: File,
    keep: bool,
}

impl TmpDir {
    /// The directory has been moved away; do not delete it on drop.
    pub fn keep(&mut self) {
        self.keep = true;
    }
}

impl Drop for TmpDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// Whether a VM is running, suspended or stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VmState {
    Running(i32),
    Suspended,
    Stopped,
}

impl VmState {
    /// The `State` column value.
    pub fn label(self) -> &'static str {
        match self {
            VmState::Running(_) => "running",
            VmState::Suspended => "suspended",
            VmState::Stopped => "stopped",
        }
    }

    /// The deprecated `Running` JSON field.
    pub fn is_running(self) -> bool {
        matches!(self, VmState::Running(_))
    }
}

/// One VM directory (local VM or OCI cache image).
#[derive(Debug, Clone)]
pub struct VmDir {
    pub path: PathBuf,
}

impl VmDir {
    /// Wraps an arbitrary directory (tmp builds, OCI images).
    pub fn at(path: PathBuf) -> VmDir {
        VmDir { path }
    }

    pub fn config_path(&self) -> PathBuf {
        self.path.join("config.json")
    }

    pub fn disk_path(&self) -> PathBuf {
        self.path.join("disk.img")
    }

    pub fn state_path(&self) -> PathBuf {
        self.path.join("state.vzvmsave")
    }

    /// All of config.json, disk.img and nvram.bin exist.
    pub fn initialized(&self) -> bool {
        VM_FILES.iter().all(|f| self.path.join(f).exists())
    }

    /// The PID of the `tart run` process holding config.json's lock, if any.
    pub fn running_pid(&self) -> Option<i32> {
        let file = File::open(self.config_path()).ok()?;
        lock::running_holder(&file).ok().flatten()
    }

    /// Running (lock held) → suspended (`state.vzvmsave`) → stopped.
    pub fn state(&self) -> VmState {
        if let Some(pid) = self.running_pid() {
            VmState::Running(pid)
        } else if self.state_path().exists() {
            VmState::Suspended
        } else {
            VmState::Stopped
        }
    }

    /// Apparent bytes of the three VM files.
    pub fn apparent_bytes(&self) -> u64 {
        VM_FILES
            .iter()
            .filter_map(|f| fs::metadata(self.path.join(f)).ok())
            .map(|m| m.len())
            .sum()
    }

    /// Allocated (sparse-aware) bytes of the three VM files.
    pub fn allocated_bytes(&self) -> u64 {
        VM_FILES
            .iter()
            .filter_map(|f| fs::metadata(self.path.join(f)).ok())
            .map(|m| m.blocks() * 512)
            .sum()
    }

    /// The directory's last-access date.
    pub fn accessed(&self) -> SystemTime {
        fs::metadata(&self.path)
            .and_then(|m| m.accessed())
            .unwrap_or_else(|_| SystemTime::now())
    }

    /// Marks the VM as accessed now (tart bumps it whenever a command opens a VM).
    pub fn bump_access(&self) {
        if let Ok(dir) = File::open(&self.path) {
            let times = fs::FileTimes::new().set_accessed(SystemTime::now());
            let _ = dir.set_times(times);
        }
    }
}

/// Creates a sparse file of exactly `bytes` bytes without writing data.
pub fn create_sparse(path: &Path, bytes: u64) -> io::Result<()> {
    let file = File::create(path)?;
    file.set_len(bytes)
}

/// Copies a VM file, keeping sparse disks sparse: a file with no allocated blocks is
/// recreated with `set_len` (copying 50 GB of holes would take minutes on ext4, which has
/// no APFS-style clone); anything with data is copied byte for byte.
pub fn copy_vm_file(from: &Path, to: &Path) -> io::Result<()> {
    let meta = fs::metadata(from)?;
    if meta.blocks() == 0 {
        create_sparse(to, meta.len())
    } else if meta.blocks() * 512 < meta.len() / 2 {
        copy_skipping_zeros(from, to, meta.len())
    } else {
        fs::copy(from, to).map(|_| ())
    }
}

/// Chunked copy that seeks over all-zero chunks, so the copy is sparse too.
fn copy_skipping_zeros(from: &Path, to: &Path, len: u64) -> io::Result<()> {
    use std::io::{Read, Seek, SeekFrom, Write};
    /// Chunk size for the zero scan: big enough to be fast, small enough for holes.
    const CHUNK: usize = 1 << 20;
    let mut input = File::open(from)?;
    let mut output = File::create(to)?;
    let mut buffer = vec![0u8; CHUNK];
    loop {
        let n = input.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        if buffer[..n].iter().all(|b| *b == 0) {
            output.seek(SeekFrom::Current(n as i64))?;
        } else {
            output.write_all(&buffer[..n])?;
        }
    }
    output.set_len(len)
}

/// Moves `from` to `to`, replacing an existing directory there (create/clone/import
/// silently replace a VM of the same name). The old one is first renamed aside into
/// `tmp/` because rename(2) cannot replace a non-empty directory. The parent must exist
/// (tart does not create `vms/a` for a VM named `a/b`).
pub fn replace_dir(home: &Home, from: &Path, to: &Path) -> io::Result<()> {
    let aside = home.tmp_dir().join(format!("{}-replaced", ids::uuid()));
    let had_old = fs::rename(to, &aside).is_ok();
    fs::rename(from, to)?;
    if had_old {
        let _ = fs::remove_dir_all(&aside);
    }
    Ok(())
}
