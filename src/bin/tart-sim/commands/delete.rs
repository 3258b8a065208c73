//! `tart delete <name> ...` (contract 2.6): names are tried as OCI references first.

use std::fs;

use crate::args::{Spec, pos};
use crate::commands::Ctx;
use crate::failure::Failure;
use crate::home::Home;
use crate::oci::{self, RemoteName};

static SPEC: Spec = Spec {
    command: "delete",
    abstract_: "Delete a VM",
    synopsis: "<name> ...",
    options: &[],
    positionals: &[pos("name").many()],
    passthrough: false,
};

pub fn run(args: &[String], ctx: &Ctx) -> Result<(), Failure> {
    let parsed = SPEC.parse(args)?;
    let home = ctx.home(true)?;
    for name in &parsed.positionals {
        match oci::parse(name) {
            Ok(remote) => delete_oci(&home, name, &remote)?,
            Err(_) => delete_local(&home, name)?,
        }
    }
    Ok(())
}

fn delete_local(home: &Home, name: &str) -> Result<(), Failure> {
    let vm = home.vm(name);
    if !vm.config_path().is_file() {
        return Err(Failure::vm_does_not_exist(name));
    }
    if vm.running_pid().is_some() {
        return Err(Failure::runtime(format!("VM \"{name}\" is running")));
    }
    fs::remove_dir_all(&vm.path).map_err(|e| Failure::io("deleting VM", e))
}

fn delete_oci(home: &Home, name: &str, remote: &RemoteName) -> Result<(), Failure> {
    let entry = remote.entry_path(home);
    let meta = fs::symlink_metadata(&entry).map_err(|_| Failure::vm_does_not_exist(name))?;
    if meta.file_type().is_symlink() {
        fs::remove_file(&entry)
    } else {
        fs::remove_dir_all(&entry)
    }
    .map_err(|e| Failure::io("deleting cached image", e))?;
    collect_orphans(home, remote);
    Ok(())
}

/// Removes digest directories of `remote`'s repository that no tag links to any more and
/// that were not pulled explicitly by digest.
fn collect_orphans(home: &Home, remote: &RemoteName) {
    let repo = remote.repository_dir(home);
    let Ok(entries) = fs::read_dir(&repo) else {
        return;
    };
    let mut linked = Vec::new();
    let mut digests = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        match fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_symlink() => {
                if let Ok(target) = fs::canonicalize(&path) {
                    linked.push(target);
                }
            }
            Ok(m) if m.is_dir() && entry.file_name().to_string_lossy().starts_with("sha256:") => {
                digests.push(path);
            }
            _ => {}
        }
    }
    for digest in digests {
        let canonical = fs::canonicalize(&digest).unwrap_or(digest.clone());
        if !linked.contains(&canonical) && !digest.join(".explicitly-pulled").exists() {
            let _ = fs::remove_dir_all(&digest);
        }
    }
}
