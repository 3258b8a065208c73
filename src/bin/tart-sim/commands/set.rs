//! `tart set <name> [--cpu <n>] [--memory <MiB>] [--display <WxH[pt|px]>]
//! [--[no-]display-refit] [--random-mac] [--random-serial] [--disk <path>]
//! [--disk-size <GB>]` (contract 2.10).
//!
//! Works on running VMs: config.json is rewritten in place so `tart run`'s lock survives.

use std::fs;

use crate::args::{ONE_NAME, Spec, opt};
use crate::commands::Ctx;
use crate::failure::Failure;
use crate::home;
use crate::ids;
use crate::vmconfig::{MIB, VmConfig};

/// Bytes per GB for `--disk-size` (decimal).
const GB: u64 = 1_000_000_000;
/// Virtualization.framework's minimum CPU count (what Linux VMs are held to).
const HYPERVISOR_MIN_CPUS: u64 = 1;
/// Virtualization.framework's minimum memory size (what Linux VMs are held to).
const HYPERVISOR_MIN_MEMORY: u64 = 128 * MIB;

static SPEC: Spec = Spec {
    command: "set",
    abstract_: "Modify VM's configuration",
    synopsis: "<name> [--cpu <cpu>] [--memory <memory>] [--display <display>] [--[no-]display-refit] [--random-mac] [--random-serial] [--disk <disk>] [--disk-size <disk-size>]",
    options: &[
        opt("cpu", Some("<cpu>"), "Number of VM CPUs"),
        opt("memory", Some("<memory>"), "VM memory size in megabytes"),
        opt(
            "display",
            Some("<display>"),
            "VM display resolution in a format of WIDTHxHEIGHT[pt|px]",
        ),
        opt(
            "display-refit",
            None,
            "Whether to automatically reconfigure the VM's display to fit the window",
        ),
        opt(
            "no-display-refit",
            None,
            "Whether to automatically reconfigure the VM's display to fit the window",
        ),
        opt(
            "random-mac",
            None,
            "Generate a new random MAC address for the VM.",
        ),
        opt(
            "random-serial",
            None,
            "Generate a new random serial number for the macOS VM.",
        ),
        opt(
            "disk",
            Some("<disk>"),
            "Replace the VM's disk with the specified disk image",
        ),
        opt(
            "disk-size",
            Some("<disk-size>"),
            "Resize the VMs disk to the specified size in GB",
        ),
    ],
    positionals: ONE_NAME,
    passthrough: false,
};

pub fn run(args: &[String], ctx: &Ctx) -> Result<(), Failure> {
    let parsed = SPEC.parse(args)?;
    let cpu = parsed
        .value("cpu")
        .map(|v| v.parse::<u16>().map_err(|_| SPEC.bad_value("cpu", v)))
        .transpose()?;
    let memory = parsed
        .value("memory")
        .map(|v| v.parse::<u64>().map_err(|_| SPEC.bad_value("memory", v)))
        .transpose()?;
    let disk_size = parsed
        .value("disk-size")
        .map(|v| v.parse::<u16>().map_err(|_| SPEC.bad_value("disk-size", v)))
        .transpose()?;
    let home = ctx.home(true)?;
    let vm = home.local_vm(parsed.pos(0))?;
    vm.bump_access();
    let mut config = VmConfig::load(&vm.config_path())?;
    let darwin = config.os == "darwin";

    if let Some(cpu) = cpu {
        let min = if darwin {
            config.cpu_count_min
        } else {
            HYPERVISOR_MIN_CPUS
        };
        let cpu = u64::from(cpu);
        if cpu < min {
            return Err(Failure::Error(format!(
                "LessThanMinimalResourcesError: VM should have {min} CPU cores at minimum (requested {cpu})"
            )));
        }
        config.cpu_count = cpu;
    }
    if let Some(memory) = memory {
        let bytes = memory.saturating_mul(MIB);
        let min = if darwin {
            config.memory_size_min
        } else {
            HYPERVISOR_MIN_MEMORY
        };
        if bytes < min {
            return Err(Failure::Error(format!(
                "LessThanMinimalResourcesError: VM should have {min} bytes of memory at minimum (requested {bytes})"
            )));
        }
        config.memory_size = bytes;
    }
    if let Some(display) = parsed.value("display") {
        apply_display(&mut config, display);
    }
    // tart overwrites displayRefit on every call: omitting both flags removes it.
    config.display_refit = if parsed.flag("display-refit") {
        Some(true)
    } else if parsed.flag("no-display-refit") {
        Some(false)
    } else {
        None
    };
    if parsed.flag("random-mac") {
        config.mac_address = ids::random_mac();
    }
    if parsed.flag("random-serial") && darwin {
        config.ecid = Some(ids::base64(&ids::random_bytes::<8>()));
    }
    // Like tart, the config is saved before the disk operations.
    config.save(&vm.config_path())?;

    if let Some(path) = parsed.value("disk") {
        let tmp = home.new_tmp_dir()?;
        let staged = tmp.path.join("disk.img");
        home::copy_vm_file(std::path::Path::new(path), &staged)
            .map_err(|e| Failure::io(&format!("copying {path}"), e))?;
        fs::rename(&staged, vm.disk_path()).map_err(|e| Failure::io("replacing disk", e))?;
    }
    if let Some(gb) = disk_size
        && config.disk_format == "asif"
    {
        return resize_asif(&vm.disk_path(), u64::from(gb) * GB);
    }
    if let Some(gb) = disk_size {
        let current = fs::metadata(vm.disk_path()).map(|m| m.len()).unwrap_or(0);
        let wanted = u64::from(gb) * GB;
        if wanted < current {
            return Err(Failure::runtime(format!(
                "new disk size of {gb} GB should be larger than the current disk size of {} GB",
                current / GB
            )));
        }
        if wanted > current {
            let disk = fs::OpenOptions::new()
                .write(true)
                .open(vm.disk_path())
                .map_err(|e| Failure::io("resizing disk", e))?;
            disk.set_len(wanted)
                .map_err(|e| Failure::io("resizing disk", e))?;
        }
    }
    Ok(())
}

/// `1920x1080`, `1920x1080pt`, `1920x1080px`: unparseable parts keep the old value, the
/// unit is always overwritten (no suffix removes it).
fn apply_display(config: &mut VmConfig, display: &str) {
    let (dims, unit) = if let Some(d) = display.strip_suffix("pt") {
        (d, Some("pt"))
    } else if let Some(d) = display.strip_suffix("px") {
        (d, Some("px"))
    } else {
        (display, None)
    };
    let (w, h) = dims.split_once('x').unwrap_or((dims, ""));
    if let Ok(w) = w.parse() {
        config.display_width = w;
    }
    if let Ok(h) = h.parse() {
        config.display_height = h;
    }
    config.display_unit = unit.map(str::to_string);
}

/// `diskutil image resize` of an ASIF disk: grow only; tart's message for a smaller size
/// starts with a capital `New` here (the raw path's does not).
fn resize_asif(path: &std::path::Path, wanted: u64) -> Result<(), Failure> {
    let current = crate::asif::virtual_bytes(path).unwrap_or(0);
    if wanted < current {
        return Err(Failure::runtime(format!(
            "New disk size of {} GB should be larger than the current disk size of {} GB",
            wanted / GB,
            current / GB
        )));
    }
    if wanted > current {
        crate::asif::write(path, wanted).map_err(|e| Failure::io("resizing disk", e))?;
    }
    Ok(())
}
