//! `tart clone <source-name> <new-name> [--insecure] [--concurrency <n>]
//! [--prune-limit <GB>]` (contract 2.8).
//!
//! An OCI source that is not cached yet is pulled first. The copy is built in `tmp/`
//! under the global TART_HOME lock and moved into place, replacing an existing VM.

use std::fs;

use crate::args::{CONCURRENCY, DEDUPLICATE, INSECURE, Opt, Spec, pos};
use crate::commands::Ctx;
use crate::commands::pull;
use crate::failure::Failure;
use crate::home::{self, VmDir};
use crate::ids;
use crate::oci;
use crate::vmconfig::VmConfig;

static SPEC: Spec = Spec {
    command: "clone",
    abstract_: "Clone a VM",
    synopsis: "<source-name> <new-name> [--insecure] [--concurrency <concurrency>] [--prune-limit <n>]",
    options: &[
        INSECURE,
        CONCURRENCY,
        Opt {
            long: "prune-limit",
            short: None,
            value: Some("<n>"),
            help: "Maximum amount of space in gigabytes to reclaim by pruning caches",
        },
        DEDUPLICATE,
    ],
    positionals: &[pos("source-name"), pos("new-name")],
    passthrough: false,
};

pub fn run(args: &[String], ctx: &Ctx) -> Result<(), Failure> {
    let parsed = SPEC.parse(args)?;
    let (source, new_name) = (parsed.pos(0), parsed.pos(1));
    if new_name.contains('/') {
        return Err(SPEC.error(format!("{new_name} should be a local name")));
    }
    pull::check_concurrency(&SPEC, &parsed)?;
    SPEC.uint(&parsed, "prune-limit", 100, u64::MAX)?;
    let home = ctx.home(false)?;

    let source_dir = match oci::parse(source) {
        Ok(remote) => {
            let entry = VmDir::at(remote.entry_path(&home));
            if !entry.initialized() {
                pull::pull_image(&home, &remote, ctx)?;
            }
            VmDir::at(
                fs::canonicalize(&entry.path).map_err(|_| Failure::vm_does_not_exist(source))?,
            )
        }
        Err(_) => home.local_vm(source)?,
    };
    source_dir.bump_access();

    let _global = home.global_lock()?;
    let mut tmp = home.new_tmp_dir()?;
    let io = |e: std::io::Error| Failure::io("cloning VM", e);
    let mut config = VmConfig::load(&source_dir.config_path())?;
    let suspended = source_dir.state_path().exists();
    for file in ["config.json", "nvram.bin", "disk.img", "state.vzvmsave"] {
        let from = source_dir.path.join(file);
        if from.exists() {
            home::copy_vm_file(&from, &tmp.path.join(file)).map_err(io)?;
        }
    }
    let mac_in_use = home.local_vms().iter().any(|(_, vm)| {
        VmConfig::load(&vm.config_path())
            .is_ok_and(|c| c.mac_address.eq_ignore_ascii_case(&config.mac_address))
    });
    if mac_in_use && !suspended {
        config.mac_address = ids::random_mac();
        config.save(&tmp.path.join("config.json"))?;
        let _ = fs::remove_file(tmp.path.join("state.vzvmsave"));
    }
    fs::create_dir_all(home.vms_dir()).map_err(io)?;
    home::replace_dir(&home, &tmp.path, &home.vm(new_name).path).map_err(io)?;
    tmp.keep();
    Ok(())
}
