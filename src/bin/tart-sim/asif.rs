//! ASIF disk images (`--disk-format asif`, macOS 26 hosts, tart ≥ 2.28), simulated.
//!
//! A real ASIF `disk.img` is a small image file whose *virtual* size lives inside it, so
//! its apparent size says nothing about the disk: tart ≤ 2.35 adds up apparent sizes and
//! shows `Disk` ≈ 0 for a new 50 GB ASIF VM; newer tart asks `diskutil` for the virtual
//! size. The simulator's image is a one-line header holding the virtual size, padded
//! (sparse) to [`IMAGE_BYTES`]; `list`/`get` report `Disk` the way the simulated version
//! would.

use std::fs::{self, File};
use std::io;
use std::path::Path;

use crate::home::VmDir;
use crate::knobs::Knobs;

/// Apparent size of a simulated ASIF image file (a fresh real one is a few MB).
const IMAGE_BYTES: u64 = 4 * 1024 * 1024;

/// What the first line of a simulated ASIF image starts with.
const HEADER: &str = "tart-sim asif ";

/// The first tart release whose `Disk` is the virtual size of an ASIF disk (openai/tart
/// after 2.35.0, commit a438e2d).
const VIRTUAL_DISK_SINCE: (u64, u64, u64) = (2, 36, 0);

/// Writes an ASIF image of `virtual_bytes` at `path` (create and resize).
pub fn write(path: &Path, virtual_bytes: u64) -> io::Result<()> {
    fs::write(path, format!("{HEADER}{virtual_bytes}\n"))?;
    File::options().write(true).open(path)?.set_len(IMAGE_BYTES)
}

/// The virtual size of the ASIF image at `path`, if it is one.
pub fn virtual_bytes(path: &Path) -> Option<u64> {
    use std::io::Read;
    let mut head = [0u8; 64];
    let n = File::open(path).ok()?.read(&mut head).ok()?;
    let text = std::str::from_utf8(&head[..n]).ok()?;
    text.strip_prefix(HEADER)?.lines().next()?.parse().ok()
}

/// The bytes behind `Disk` in `list`/`get`: the apparent size of the VM files, except
/// that newer tart counts an ASIF disk by its virtual size.
pub fn reported_disk_bytes(dir: &VmDir, knobs: &Knobs) -> u64 {
    let apparent = dir.apparent_bytes();
    if !reports_virtual_size(&knobs.version) {
        return apparent;
    }
    match virtual_bytes(&dir.disk_path()) {
        Some(size) => apparent - IMAGE_BYTES.min(apparent) + size,
        None => apparent,
    }
}

/// Whether `version` (`TART_SIM_VERSION`) is at least [`VIRTUAL_DISK_SINCE`].
fn reports_virtual_size(version: &str) -> bool {
    let mut parts = version.split('.').map(|p| p.parse::<u64>().ok());
    match (parts.next(), parts.next(), parts.next()) {
        (Some(Some(a)), Some(Some(b)), Some(Some(c))) => (a, b, c) >= VIRTUAL_DISK_SINCE,
        _ => false,
    }
}
