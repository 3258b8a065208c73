//! `tart prune [--entries caches|vms] [--older-than <days>] [--space-budget <GB>]`
//! (contract 2.14). `caches` = OCI digest directories and IPSW files; `vms` = local VMs
//! that are not running. No output.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crate::args::{Spec, opt};
use crate::commands::Ctx;
use crate::failure::Failure;
use crate::home::{Home, VmDir};
use crate::oci;
use crate::output;

/// Bytes per GiB for `--space-budget`.
const GIB: u64 = 1024 * 1024 * 1024;
/// Seconds per day for `--older-than`.
const DAY: u64 = 86_400;

static SPEC: Spec = Spec {
    command: "prune",
    abstract_: "Prune OCI and IPSW caches or local VMs",
    synopsis: "[--entries <entries>] [--older-than <n>] [--space-budget <n>]",
    options: &[
        opt(
            "entries",
            Some("<entries>"),
            "Entries to remove: \"caches\" targets OCI and IPSW caches and \"vms\" targets local VMs.",
        ),
        opt(
            "older-than",
            Some("<n>"),
            "Remove entries that were last accessed more than n days ago",
        ),
        opt(
            "space-budget",
            Some("<n>"),
            "Remove the least recently used entries that do not fit the specified space size budget n, expressed in gigabytes",
        ),
        opt(
            "cache-budget",
            Some("<n>"),
            "Deprecated alias of --space-budget",
        ),
        opt("gc", None, "Garbage-collect orphaned OCI images"),
    ],
    positionals: &[],
    passthrough: false,
};

/// Something prune may delete.
struct Candidate {
    path: PathBuf,
    accessed: SystemTime,
    bytes: u64,
}

pub fn run(args: &[String], ctx: &Ctx) -> Result<(), Failure> {
    let parsed = SPEC.parse(args)?;
    let older_than = parsed
        .value("older-than")
        .map(|v| {
            v.parse::<u64>()
                .map_err(|_| SPEC.bad_value("older-than", v))
        })
        .transpose()?;
    if parsed.value("cache-budget").is_some() {
        output::err_line("--cache-budget is deprecated, please use --space-budget");
    }
    let budget_text = parsed
        .value("space-budget")
        .or(parsed.value("cache-budget"));
    let budget = budget_text
        .map(|v| {
            v.parse::<u64>()
                .map_err(|_| SPEC.bad_value("space-budget", v))
        })
        .transpose()?;
    if older_than.is_none() && budget.is_none() && !parsed.flag("gc") {
        return Err(SPEC.error("at least one pruning criteria must be specified"));
    }
    let entries = parsed.value("entries").unwrap_or("caches");
    if entries != "caches" && entries != "vms" {
        return Err(Failure::root_usage(
            "unsupported --entries value, please specify either \"caches\" or \"vms\"",
        ));
    }
    let home = ctx.home(true)?;
    let candidates = |home: &Home| {
        if entries == "caches" {
            cache_candidates(home)
        } else {
            vm_candidates(home)
        }
    };
    // Two passes, as tart's Prune.run: the budget pass lists again after the age pass.
    if let Some(days) = older_than {
        let limit = SystemTime::now() - Duration::from_secs(days * DAY);
        for candidate in candidates(&home) {
            if candidate.accessed <= limit {
                remove(&candidate.path);
            }
        }
    }
    if let Some(gb) = budget {
        let mut listed = candidates(&home);
        // Newest first; an entry is kept while it fits in what is left of the budget, so
        // a large recent entry can go while a smaller, older one stays (tart's rule).
        listed.sort_by_key(|c| std::cmp::Reverse(c.accessed));
        let mut left = gb.saturating_mul(GIB);
        for candidate in listed {
            if candidate.bytes <= left {
                left -= candidate.bytes;
            } else {
                remove(&candidate.path);
            }
        }
    }
    remove_dangling_tags(&home);
    Ok(())
}

fn remove(path: &std::path::Path) {
    let _ = if path.is_dir() {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    };
}

fn cache_candidates(home: &Home) -> Vec<Candidate> {
    let mut found: Vec<Candidate> = oci::cached_images(home)
        .into_iter()
        .filter(|image| image.name.contains('@'))
        .map(|image| Candidate {
            accessed: image.dir.accessed(),
            bytes: image.dir.allocated_bytes(),
            path: image.entry,
        })
        .collect();
    if let Ok(entries) = fs::read_dir(home.ipsw_dir()) {
        for entry in entries.flatten() {
            if let Ok(meta) = entry.metadata() {
                found.push(Candidate {
                    path: entry.path(),
                    accessed: meta.accessed().unwrap_or_else(|_| SystemTime::now()),
                    bytes: meta.blocks() * 512,
                });
            }
        }
    }
    found
}

fn vm_candidates(home: &Home) -> Vec<Candidate> {
    home.local_vms()
        .into_iter()
        .filter(|(_, vm)| vm.running_pid().is_none())
        .map(|(_, vm): (String, VmDir)| Candidate {
            accessed: vm.accessed(),
            bytes: vm.allocated_bytes(),
            path: vm.path,
        })
        .collect()
}

/// Removes tag symlinks whose digest directory is gone.
fn remove_dangling_tags(home: &Home) {
    fn walk(dir: &std::path::Path) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            match fs::symlink_metadata(&path) {
                Ok(m) if m.file_type().is_symlink() && !path.exists() => {
                    let _ = fs::remove_file(&path);
                }
                Ok(m) if m.is_dir() => walk(&path),
                _ => {}
            }
        }
    }
    walk(&home.oci_dir());
}
