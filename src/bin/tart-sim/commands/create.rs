//! `tart create <name> (--from-ipsw <path|URL|latest> | --linux) [--disk-size <GB>]
//! [--disk-format raw|asif]` (contract 2.9).
//!
//! Builds in `tmp/` and moves into `vms/<name>`, replacing an existing VM of that name.
//! An IPSW "download" and "install" each take half of `TART_SIM_PULL_MS`.

use std::fs;
use std::path::Path;

use crate::args::{ONE_NAME, Opt, Spec};
use crate::commands::Ctx;
use crate::commands::pull::{INTERRUPTED_EXIT, NVRAM_BYTES};
use crate::failure::Failure;
use crate::home::{self, Home};
use crate::output;
use crate::progress;
use crate::signals;
use crate::vmconfig::VmConfig;

/// Default `--disk-size`, GB.
const DEFAULT_DISK_GB: u64 = 50;
/// Bytes per GB for `--disk-size` (decimal).
const GB: u64 = 1_000_000_000;
/// The restore image `--from-ipsw latest` resolves to.
const LATEST_IPSW: &str = "UniversalMac_15.5_24F74_Restore.ipsw";

static SPEC: Spec = Spec {
    command: "create",
    abstract_: "Create a VM",
    synopsis: "<name> [--from-ipsw <path>] [--linux] [--disk-size <disk-size>] [--disk-format <disk-format>]",
    options: &[
        Opt {
            long: "from-ipsw",
            short: None,
            value: Some("<path>"),
            help: "create a macOS VM using path to the IPSW file or URL (or \"latest\")",
        },
        Opt {
            long: "linux",
            short: None,
            value: None,
            help: "create a Linux VM",
        },
        Opt {
            long: "disk-size",
            short: None,
            value: Some("<disk-size>"),
            help: "Disk size in GB",
        },
        Opt {
            long: "disk-format",
            short: None,
            value: Some("<disk-format>"),
            help: "Disk image format",
        },
    ],
    positionals: ONE_NAME,
    passthrough: false,
};

pub fn run(args: &[String], ctx: &Ctx) -> Result<(), Failure> {
    let parsed = SPEC.parse(args)?;
    let disk_gb = SPEC.uint(&parsed, "disk-size", DEFAULT_DISK_GB, u64::from(u16::MAX))?;
    let disk_format = parsed
        .value("disk-format")
        .unwrap_or("raw")
        .to_ascii_lowercase();
    if disk_format != "raw" && disk_format != "asif" {
        let given = parsed.value("disk-format").unwrap_or_default();
        return Err(SPEC.bad_choice("disk-format", given, &["raw", "asif"]));
    }
    let ipsw = parsed.value("from-ipsw");
    if ipsw.is_none() && !parsed.flag("linux") {
        return Err(SPEC.error("Please specify either a --from-ipsw or --linux option!"));
    }
    if disk_format == "asif" && !ctx.knobs.asif {
        return Err(SPEC.error("Disk format 'asif' is not supported on this system."));
    }
    let home = ctx.home(true)?;
    let name = parsed.pos(0);
    signals::install();
    let mut tmp = home.new_tmp_dir()?;
    let config = match ipsw {
        Some(source) => install_macos(&home, ctx, source, &disk_format)?,
        None => VmConfig::new_linux(&disk_format),
    };
    let io = |e: std::io::Error| Failure::io("creating VM", e);
    config.save(&tmp.path.join("config.json"))?;
    if disk_format == "asif" {
        crate::asif::write(&tmp.path.join("disk.img"), disk_gb * GB).map_err(io)?;
    } else {
        home::create_sparse(&tmp.path.join("disk.img"), disk_gb * GB).map_err(io)?;
    }
    fs::write(tmp.path.join("nvram.bin"), vec![0u8; NVRAM_BYTES]).map_err(io)?;
    fs::create_dir_all(home.vms_dir()).map_err(io)?;
    let target = home.vm(name);
    home::replace_dir(&home, &tmp.path, &target.path).map_err(|_| {
        Failure::Error(format!(
            "“{}” couldn’t be moved to “{}” because either the former doesn’t exist, or the folder containing the latter doesn’t exist.",
            tmp.path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default(),
            target.path.parent().and_then(Path::file_name).map(|f| f.to_string_lossy().into_owned()).unwrap_or_default(),
        ))
    })?;
    tmp.keep();
    Ok(())
}

/// The `--from-ipsw` path: find or "fetch" the restore image, then "install".
fn install_macos(
    home: &Home,
    ctx: &Ctx,
    source: &str,
    disk_format: &str,
) -> Result<VmConfig, Failure> {
    let half = ctx.knobs.pull / 2;
    let remote_file = if source == "latest" {
        output::out_line("Looking up the latest supported IPSW...");
        Some(LATEST_IPSW.to_string())
    } else if source.starts_with("http://") || source.starts_with("https://") {
        Some(source.rsplit('/').next().unwrap_or(LATEST_IPSW).to_string())
    } else {
        if !Path::new(source).is_file() {
            let file = Path::new(source)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_else(|| source.to_string());
            return Err(Failure::Error(format!(
                "The file “{file}” couldn’t be opened because there is no such file."
            )));
        }
        None
    };
    if let Some(file) = remote_file {
        let cached = home.ipsw_dir().join(&file);
        if cached.is_file() {
            output::out_line("Using cached *.ipsw file...");
        } else {
            output::out_line(&format!("Fetching {file}..."));
            if !progress::show(half, ctx.knobs) {
                return Err(Failure::Exit(INTERRUPTED_EXIT));
            }
            fs::create_dir_all(home.ipsw_dir()).map_err(|e| Failure::io("caching IPSW", e))?;
            fs::write(&cached, b"tart-sim restore image\n")
                .map_err(|e| Failure::io("caching IPSW", e))?;
        }
    }
    output::out_line("Installing OS...");
    if !progress::show(half, ctx.knobs) {
        return Err(Failure::Exit(INTERRUPTED_EXIT));
    }
    Ok(VmConfig::new_darwin(disk_format))
}
