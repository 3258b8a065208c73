//! `tart pull <remote-name> [--insecure] [--concurrency <n>]` (contract 2.7), and the
//! image download shared with `clone` and `push --populate-cache`.
//!
//! There is no registry: the "manifest digest" is derived from the reference, the disk is
//! a sparse file, and the download is a timed progress display (`TART_SIM_PULL_MS`).

use std::fs::{self, File};
use std::path::Path;

use crate::args::{CONCURRENCY, DEDUPLICATE, INSECURE, Spec, pos};
use crate::commands::Ctx;
use crate::failure::Failure;
use crate::home::{self, Home, VmDir};
use crate::ids;
use crate::oci::{self, Reference, RemoteName};
use crate::output;
use crate::progress;
use crate::signals;
use crate::vmconfig::VmConfig;

/// Disk size of simulated macOS images, bytes.
const DARWIN_DISK_BYTES: u64 = 50_000_000_000;
/// Disk size of simulated Linux images, bytes.
const LINUX_DISK_BYTES: u64 = 20_000_000_000;
/// Size of the NVRAM file written for every VM (real EFI stores are of this order).
pub const NVRAM_BYTES: usize = 128 * 1024;
/// Exit code after Ctrl+C cancelled a download (128 + SIGINT, what a shell reports).
pub const INTERRUPTED_EXIT: i32 = 130;

/// How many times tart tries a download before giving up (`TART_SIM_PULL_RETRIES` of this
/// many or more makes the pull fail).
const PULL_ATTEMPTS: u64 = 5;
/// The `URLError` text of a simulated failed download.
const NETWORK_LOST: &str = "The network connection was lost.";

/// Words in a repository name that make the simulated image a Linux guest.
const LINUX_HINTS: &[&str] = &["ubuntu", "debian", "fedora", "linux", "alpine", "arch"];

static SPEC: Spec = Spec {
    command: "pull",
    abstract_: "Pull a VM from a registry",
    synopsis: "<remote-name> [--insecure] [--concurrency <concurrency>]",
    options: &[INSECURE, CONCURRENCY, DEDUPLICATE],
    positionals: &[pos("remote-name")],
    passthrough: false,
};

/// `--concurrency` must be at least 1 (pull and clone share the rule).
pub fn check_concurrency(spec: &Spec, parsed: &crate::args::Parsed) -> Result<(), Failure> {
    if spec.uint(parsed, "concurrency", 4, u64::MAX)? < 1 {
        return Err(spec.error("network concurrency cannot be less than 1"));
    }
    Ok(())
}

pub fn run(args: &[String], ctx: &Ctx) -> Result<(), Failure> {
    let parsed = SPEC.parse(args)?;
    check_concurrency(&SPEC, &parsed)?;
    let name = parsed.pos(0);
    // pull skips the tmp/ GC: it may race with its own in-flight downloads.
    let home = ctx.home(false)?;
    if home.vm(name).initialized() {
        output::out_line(&format!(
            "\"{name}\" is a local image, nothing to pull here!"
        ));
        return Ok(());
    }
    let remote = parse_remote(name)?;
    output::out_line(&format!("pulling {}...", remote.full()));
    pull_image(&home, &remote, ctx)
}

/// Parses a remote name or fails with tart's `failed to parse remote name: …`.
pub fn parse_remote(name: &str) -> Result<RemoteName, Failure> {
    oci::parse(name).map_err(|why| Failure::runtime(format!("failed to parse remote name: {why}")))
}

/// Downloads `remote` into the OCI cache (everything after the `pulling <name>...` line).
pub fn pull_image(home: &Home, remote: &RemoteName, ctx: &Ctx) -> Result<(), Failure> {
    signals::install();
    let _host_lock = lock_host(home, remote)?;
    output::out_line("pulling manifest...");
    let digest_dir = VmDir::at(remote.digest_path(home));
    let cached_as = format!("{}@{}", remote.repository(), remote.digest());
    if digest_dir.initialized() {
        if link_is_current(home, remote) {
            output::out_line(&format!("{cached_as} image is already cached and linked!"));
        } else {
            output::out_line(&format!(
                "{cached_as} image is already cached! creating a symlink..."
            ));
            link_tag(home, remote)?;
        }
        return Ok(());
    }
    let compressed = 15.0 + (ids::fnv1a(7, remote.full().as_bytes()) % 150) as f64 / 10.0;
    let mut tmp = home.new_tmp_dir()?;
    // Each failed attempt breaks off half-way; tart's retry starts the disk over, with a
    // new `pulling disk` line and a new progress observer from 0%.
    for attempt in 0..=ctx.knobs.pull_retries {
        output::out_line(&format!("pulling disk ({compressed:.1} GB compressed)..."));
        if attempt == ctx.knobs.pull_retries {
            break;
        }
        if !progress::show_until(ctx.knobs.pull / 2, 50, ctx.knobs) {
            return Err(Failure::Exit(INTERRUPTED_EXIT));
        }
        if attempt + 1 >= PULL_ATTEMPTS {
            return Err(Failure::Error(NETWORK_LOST.to_string()));
        }
        output::out_line(&format!(
            "Error pulling image: \"{NETWORK_LOST}\", attempting to re-try..."
        ));
    }
    if !progress::show(ctx.knobs.pull, ctx.knobs) {
        return Err(Failure::Exit(INTERRUPTED_EXIT));
    }
    output::out_line("pulling NVRAM...");
    write_image(&tmp.path, remote)?;
    let repo = remote.repository_dir(home);
    fs::create_dir_all(&repo).map_err(|e| Failure::io("creating cache directory", e))?;
    match fs::rename(&tmp.path, &digest_dir.path) {
        Ok(()) => tmp.keep(),
        // Another pull of the same digest won the race; its copy is as good as ours.
        Err(e) if digest_dir.initialized() => drop(e),
        Err(e) => return Err(Failure::io("moving image into the cache", e)),
    }
    link_tag(home, remote)
}

/// Serialises pulls per registry host like tart's flock on `cache/OCIs/<host>`.
fn lock_host(home: &Home, remote: &RemoteName) -> Result<File, Failure> {
    let host_dir = home.oci_dir().join(remote.host.replace(':', "%3A"));
    fs::create_dir_all(&host_dir).map_err(|e| Failure::io("creating cache directory", e))?;
    let file = File::open(&host_dir).map_err(|e| Failure::io("opening cache directory", e))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            output::out_line("waiting for lock...");
            file.lock()
                .map_err(|e| Failure::io("locking cache directory", e))?;
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(Failure::io("locking cache directory", e));
        }
    }
    Ok(file)
}

/// Whether the tag link already points at the digest (always true for digest pulls).
fn link_is_current(home: &Home, remote: &RemoteName) -> bool {
    match remote.reference {
        Reference::Digest(_) => true,
        Reference::Tag(_) => {
            let target = fs::canonicalize(remote.entry_path(home));
            let digest = fs::canonicalize(remote.digest_path(home));
            matches!((target, digest), (Ok(a), Ok(b)) if a == b)
        }
    }
}

/// Points the tag symlink (absolute, like tart) at the digest directory, atomically; for a
/// digest pull, marks the directory as explicitly pulled instead.
pub fn link_tag(home: &Home, remote: &RemoteName) -> Result<(), Failure> {
    let digest = remote.digest_path(home);
    if let Reference::Digest(_) = remote.reference {
        return File::create(digest.join(".explicitly-pulled"))
            .map(drop)
            .map_err(|e| Failure::io("marking image", e));
    }
    // Staged inside a locked tmp/ entry so a concurrent GC cannot remove it mid-way.
    let tmp = home.new_tmp_dir()?;
    let staged = tmp.path.join("link");
    std::os::unix::fs::symlink(&digest, &staged).map_err(|e| Failure::io("linking tag", e))?;
    fs::rename(&staged, remote.entry_path(home)).map_err(|e| Failure::io("linking tag", e))
}

/// Writes a simulated image (config.json, sparse disk.img, nvram.bin, manifest.json).
pub fn write_image(dir: &Path, remote: &RemoteName) -> Result<(), Failure> {
    let linux = LINUX_HINTS.iter().any(|h| remote.namespace.contains(h));
    let (config, disk_bytes) = if linux {
        (VmConfig::new_linux("raw"), LINUX_DISK_BYTES)
    } else {
        (VmConfig::new_darwin("raw"), DARWIN_DISK_BYTES)
    };
    let io = |e: std::io::Error| Failure::io("writing image", e);
    config.save(&dir.join("config.json"))?;
    home::create_sparse(&dir.join("disk.img"), disk_bytes).map_err(io)?;
    fs::write(dir.join("nvram.bin"), vec![0u8; NVRAM_BYTES]).map_err(io)?;
    let manifest = format!(
        "{{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"annotations\":{{\"org.cirruslabs.tart.uncompressed-disk-size\":\"{disk_bytes}\",\"tart-sim.reference\":\"{}\"}}}}\n",
        remote.full()
    );
    fs::write(dir.join("manifest.json"), manifest).map_err(io)
}
