//! The data folder's housekeeping: creating it private (0700), the lock that keeps a
//! second server off it, and `server.json`, which tells `taartenfabriek url` where the
//! running server listens. Knows nothing of the token file (`util::token`, which
//! builds on this module).
//!
//! One server per folder: two servers on one folder each rewrite `tasks.jsonl` at start
//! and the first then appends to an unlinked file, losing its history (ARCHITECTURE.md
//! M3). The lock is an advisory `flock` on `<data-dir>/lock`, held by the open file for
//! the server's life; the kernel drops it when the process dies, so a crash never
//! leaves a stale lock.
//!
//! Threading: called at start and stop only.

use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The lock file's name in the data folder.
const LOCK_FILE: &str = "lock";

/// The running server's address, for `taartenfabriek url`.
const SERVER_FILE: &str = "server.json";

/// Creates `dir` (and missing parents) with mode 0700 and tightens `dir` to 0700 if it
/// was loosened. Parents are created private too: `--demo` puts its folder inside the
/// data folder, which must never exist with a wider mode, even briefly.
pub fn create_private(dir: &Path) -> io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| with_path(e, dir))?;
    fs::set_permissions(dir, Permissions::from_mode(0o700)).map_err(|e| with_path(e, dir))
}

fn with_path(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// Why the folder could not be locked.
#[derive(Debug)]
pub enum LockError {
    /// Another process holds the lock: another server serves this folder.
    InUse(PathBuf),
    /// The lock file could not be opened or locked.
    Io(io::Error),
}

/// The held lock on a data folder; dropping it releases the lock.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

/// Takes the data folder's lock without waiting.
pub fn lock(dir: &Path) -> Result<DataDirLock, LockError> {
    let file = open_lock_file(dir).map_err(LockError::Io)?;
    match file.try_lock() {
        Ok(()) => Ok(DataDirLock { _file: file }),
        Err(fs::TryLockError::WouldBlock) => Err(LockError::InUse(dir.to_path_buf())),
        Err(fs::TryLockError::Error(e)) => Err(LockError::Io(e)),
    }
}

/// True if a server holds the folder's lock right now. Checking takes the lock for a
/// moment when it is free; a server starting in that moment would be refused, which
/// its user sees and retries.
pub fn is_locked(dir: &Path) -> io::Result<bool> {
    let file = open_lock_file(dir)?;
    match file.try_lock() {
        Ok(()) => Ok(false),
        Err(fs::TryLockError::WouldBlock) => Ok(true),
        Err(fs::TryLockError::Error(e)) => Err(e),
    }
}

fn open_lock_file(dir: &Path) -> io::Result<File> {
    let path = dir.join(LOCK_FILE);
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&path)
        .map_err(|e| with_path(e, &path))
}

/// What `server.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerInfo {
    /// Where this machine reaches the server: `http://127.0.0.1:<port>` (loopback even
    /// for a wildcard bind).
    pub url: String,
    /// The server's process id, for people reading the file.
    pub pid: u32,
}

/// Writes `server.json` (0600, via a temp file and rename, so a reader never sees half).
pub fn write_server_info(dir: &Path, info: &ServerInfo) -> io::Result<()> {
    let tmp = dir.join(".server.json.tmp");
    let _ = fs::remove_file(&tmp);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(
        serde_json::to_string(info)
            .expect("ServerInfo serializes")
            .as_bytes(),
    )?;
    file.write_all(b"\n")?;
    fs::rename(&tmp, dir.join(SERVER_FILE))
}

/// Reads `server.json`; `None` if it is missing or unreadable.
pub fn read_server_info(dir: &Path) -> Option<ServerInfo> {
    serde_json::from_slice(&fs::read(dir.join(SERVER_FILE)).ok()?).ok()
}

/// Removes `server.json` at a clean stop.
pub fn remove_server_info(dir: &Path) {
    let _ = fs::remove_file(dir.join(SERVER_FILE));
}
