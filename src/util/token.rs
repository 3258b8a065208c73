//! The API token: `<data-dir>/token`, made on first run from the OS's random source and
//! reused afterwards. The folder is kept 0700 and the file 0600; loosened modes are
//! repaired at start (SECURITY.md promise 5). The token is never logged; it leaves the
//! folder only in the URL `taartenfabriek url` prints for its own user.

use std::fs::{self, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use super::data_dir::{create_private, is_locked, read_server_info};

/// Random bytes in a fresh token (32 = 256 bits), as SECURITY.md requires.
const TOKEN_BYTES: usize = 32;

/// Shortest stored token we accept as valid (43 = 32 bytes in base64url). A shorter or
/// empty file is treated as damaged and replaced.
const MIN_TOKEN_CHARS: usize = 43;

/// Loads the token from `<data_dir>/token`, creating folder and file when missing and
/// tightening their modes when they were loosened.
pub fn load_or_create(data_dir: &Path) -> io::Result<String> {
    create_private(data_dir)?;
    let path = data_dir.join("token");
    if let Ok(existing) = fs::read_to_string(&path) {
        let existing = existing.trim();
        if existing.len() >= MIN_TOKEN_CHARS && existing.bytes().all(is_token_byte) {
            fs::set_permissions(&path, Permissions::from_mode(0o600))?;
            return Ok(existing.to_string());
        }
        eprintln!(
            "taartenfabriek: warning: {} was damaged; made a new token",
            path.display()
        );
    }
    let token = crate::util::random::base64url(&crate::util::random::bytes::<TOKEN_BYTES>());
    // Written to a private temp file and renamed, so no reader ever sees a partial token
    // and the file never exists with a wider mode.
    let tmp = data_dir.join(".token.tmp");
    let _ = fs::remove_file(&tmp);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(token.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    fs::rename(&tmp, &path)?;
    Ok(token)
}

/// Reads the existing token (for `taartenfabriek url`); never creates one.
pub fn read(data_dir: &Path) -> io::Result<String> {
    let token = fs::read_to_string(data_dir.join("token"))?;
    let token = token.trim();
    if token.len() >= MIN_TOKEN_CHARS && token.bytes().all(is_token_byte) {
        Ok(token.to_string())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "the token file is damaged",
        ))
    }
}

/// `http://127.0.0.1:<port>/#token=<token>` for the server running on `dir`, for
/// `taartenfabriek url`; a sentence saying why not otherwise.
pub fn running_server_url(dir: &Path) -> Result<String, String> {
    let running = is_locked(dir).unwrap_or(false);
    let info = read_server_info(dir)
        .filter(|_| running)
        .ok_or_else(|| format!("no server is running on the data folder {}", dir.display()))?;
    let token =
        read(dir).map_err(|e| format!("cannot read the token in {}: {e}", dir.display()))?;
    Ok(format!("{}/#token={token}", info.url))
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// Compares two secrets in time that depends only on their lengths, not on where they
/// first differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
