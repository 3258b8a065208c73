//! The rarely used commands, kept brief (contract 2.13, 2.15, 2.17): `push`, `exec`,
//! `import`, `export` and the hidden `fqn`. They accept tart's arguments
//! and give tart's documented errors; where real tart talks to a registry, the Keychain
//! or a guest agent, the simulator gives a plausible stand-in.

use std::collections::BTreeMap;
use std::fs;
use std::io::BufRead;

use crate::args::{Opt, Spec, opt, pos};
use crate::commands::Ctx;
use crate::commands::pull;
use crate::failure::Failure;
use crate::home::{self, Home, VmDir};
use crate::oci::{self, Reference};
use crate::output;
use crate::progress;
use crate::signals;
use crate::vmconfig::VmConfig;

static PUSH: Spec = Spec {
    command: "push",
    abstract_: "Push a VM to a registry",
    synopsis: "<local-name> <remote-names> ... [--insecure] [--concurrency <concurrency>] [--chunk-size <chunk-size>] [--label <label> ...] [--populate-cache]",
    options: &[
        opt(
            "insecure",
            None,
            "connect to the OCI registry via insecure HTTP protocol",
        ),
        opt(
            "concurrency",
            Some("<concurrency>"),
            "network concurrency to use when pushing a local VM to the OCI-compatible registry",
        ),
        opt(
            "chunk-size",
            Some("<chunk-size>"),
            "chunk size in MB if registry supports chunked uploads",
        ),
        opt(
            "label",
            Some("<label>"),
            "additional labels to add to the OCI image",
        ),
        opt("populate-cache", None, "cache pushed images locally"),
    ],
    positionals: &[pos("local-name"), pos("remote-names").many()],
    passthrough: false,
};

static EXEC: Spec = Spec {
    command: "exec",
    abstract_: "Execute a command in a running VM",
    synopsis: "[-i] [-t] <name> <command> ...",
    options: &[
        Opt {
            long: "interactive",
            short: Some('i'),
            value: None,
            help: "Attach host's standard input to a remote command",
        },
        Opt {
            long: "tty",
            short: Some('t'),
            value: None,
            help: "Allocate a remote pseudo-terminal (PTY)",
        },
    ],
    positionals: &[pos("name"), pos("command").many()],
    passthrough: true,
};

static EXPORT: Spec = Spec {
    command: "export",
    abstract_: "Export VM to a compressed .tvm file",
    synopsis: "<name> [<path>]",
    options: &[],
    positionals: &[pos("name"), pos("path").optional()],
    passthrough: false,
};

static IMPORT: Spec = Spec {
    command: "import",
    abstract_: "Import VM from a compressed .tvm file",
    synopsis: "<path> <name>",
    options: &[],
    positionals: &[pos("path"), pos("name")],
    passthrough: false,
};

/// Resolves a source like `delete`/`push`: OCI reference → cache entry, else local VM.
fn resolve_source(home: &Home, name: &str) -> Result<(VmDir, bool), Failure> {
    match oci::parse(name) {
        Ok(remote) => {
            let entry = VmDir::at(remote.entry_path(home));
            if !entry.initialized() {
                return Err(Failure::vm_does_not_exist(name));
            }
            Ok((entry, true))
        }
        Err(_) => Ok((home.local_vm(name)?, false)),
    }
}

/// `tart push`: prints tart's per-repository sequence with a timed disk upload.
pub fn push(args: &[String], ctx: &Ctx) -> Result<(), Failure> {
    let parsed = PUSH.parse(args)?;
    pull::check_concurrency(&PUSH, &parsed)?;
    let home = ctx.home(true)?;
    let local = parsed.pos(0);
    let (source, from_cache) = resolve_source(&home, local)?;
    if !from_cache && source.running_pid().is_some() {
        return Err(Failure::runtime(format!("VM \"{local}\" is running")));
    }
    source.bump_access();
    let mut groups: BTreeMap<String, Vec<oci::RemoteName>> = BTreeMap::new();
    for name in &parsed.positionals[1..] {
        let remote = pull::parse_remote(name)?;
        groups.entry(remote.repository()).or_default().push(remote);
    }
    signals::install();
    for (repository, remotes) in &groups {
        let refs: Vec<String> = remotes
            .iter()
            .map(|r| match &r.reference {
                Reference::Tag(t) => format!(":{t}"),
                Reference::Digest(d) => format!("@{d}"),
            })
            .collect();
        let shown = if refs.len() == 1 {
            refs[0].clone()
        } else {
            format!("{{{}}}", refs.join(","))
        };
        if !from_cache {
            output::out_line(&format!("pushing {local} to {repository}{shown}..."));
            output::out_line("pushing config...");
            output::out_line("pushing disk... this will take a while...");
            if !progress::show(ctx.knobs.pull, ctx.knobs) {
                return Err(Failure::Exit(pull::INTERRUPTED_EXIT));
            }
            output::out_line("pushing NVRAM...");
        }
        for (remote, reference) in remotes.iter().zip(&refs) {
            output::out_line(&format!(
                "pushing manifest for {}...",
                reference.trim_start_matches([':', '@'])
            ));
            if parsed.flag("populate-cache") {
                populate_cache(&home, &source, remote)?;
            }
        }
    }
    Ok(())
}

/// Stores a pushed image in `cache/OCIs` (`push --populate-cache`).
fn populate_cache(home: &Home, source: &VmDir, remote: &oci::RemoteName) -> Result<(), Failure> {
    let digest = remote.digest_path(home);
    if !VmDir::at(digest.clone()).initialized() {
        let mut tmp = home.new_tmp_dir()?;
        let io = |e: std::io::Error| Failure::io("caching pushed image", e);
        for file in ["config.json", "disk.img", "nvram.bin"] {
            home::copy_vm_file(&source.path.join(file), &tmp.path.join(file)).map_err(io)?;
        }
        fs::create_dir_all(remote.repository_dir(home)).map_err(io)?;
        fs::rename(&tmp.path, &digest).map_err(io)?;
        tmp.keep();
    }
    pull::link_tag(home, remote)
}

/// `tart exec`: there is no guest agent, so a running VM cannot be reached.
pub fn exec(args: &[String], ctx: &Ctx) -> Result<(), Failure> {
    let parsed = EXEC.parse(args)?;
    let home = ctx.home(true)?;
    let name = parsed.pos(0);
    let vm = home.local_vm(name)?;
    vm.bump_access();
    if vm.running_pid().is_none() {
        return Err(Failure::Runtime {
            message: format!("VM \"{name}\" is not running"),
            code: 2,
        });
    }
    Err(Failure::runtime(format!(
        "Failed to connect to the VM using its control socket: connection refused ({}), is the Tart Guest Agent running?",
        vm.path.join("control.sock").display()
    )))
}

/// `tart export <name> [<path>]`: writes a small `.tvm` describing the VM.
pub fn export(args: &[String], ctx: &Ctx) -> Result<(), Failure> {
    let parsed = EXPORT.parse(args)?;
    let home = ctx.home(true)?;
    let name = parsed.pos(0);
    let (vm, _) = resolve_source(&home, name)?;
    vm.bump_access();
    let path = match parsed.positionals.get(1) {
        Some(p) => p.clone(),
        None => format!("{name}.tvm"),
    };
    if std::path::Path::new(&path).exists() {
        output::out_bytes(
            format!(
                "file {path} already exists, are you sure you want to overwrite it? (yes, [no])? "
            )
            .as_bytes(),
        );
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if answer.trim() != "yes" {
            return Ok(());
        }
    }
    output::out_line("exporting...");
    let config =
        fs::read_to_string(vm.config_path()).map_err(|e| Failure::io("reading config.json", e))?;
    let disk_bytes = fs::metadata(vm.disk_path()).map(|m| m.len()).unwrap_or(0);
    let archive = serde_json::json!({
        "tart-sim-export": 1,
        "config": config,
        "diskBytes": disk_bytes,
    });
    fs::write(&path, archive.to_string())
        .map_err(|e| Failure::runtime(format!("VM export failed: {e}")))
}

/// `tart import <path> <name>`: reads a `.tvm` written by `export`.
pub fn import(args: &[String], ctx: &Ctx) -> Result<(), Failure> {
    let parsed = IMPORT.parse(args)?;
    let (path, name) = (parsed.pos(0), parsed.pos(1));
    if name.contains('/') {
        return Err(IMPORT.error(format!("{name} should be a local name")));
    }
    let home = ctx.home(true)?;
    output::out_line("importing...");
    let failed = |why: String| Failure::runtime(format!("VM import failed: {why}"));
    let text = fs::read_to_string(path).map_err(|e| failed(e.to_string()))?;
    let archive: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| failed(e.to_string()))?;
    let config_text = archive["config"]
        .as_str()
        .ok_or_else(|| failed("not a .tvm archive".into()))?;
    let mut config = VmConfig::parse(config_text).map_err(failed)?;
    let disk_bytes = archive["diskBytes"].as_u64().unwrap_or(0);
    let _global = home.global_lock()?;
    let collision = home.local_vms().iter().any(|(_, vm)| {
        VmConfig::load(&vm.config_path()).is_ok_and(|c| c.mac_address == config.mac_address)
    });
    if collision {
        config.mac_address = crate::ids::random_mac();
    }
    let mut tmp = home.new_tmp_dir()?;
    let io = |e: std::io::Error| failed(e.to_string());
    config.save(&tmp.path.join("config.json"))?;
    home::create_sparse(&tmp.path.join("disk.img"), disk_bytes).map_err(io)?;
    fs::write(tmp.path.join("nvram.bin"), vec![0u8; pull::NVRAM_BYTES]).map_err(io)?;
    fs::create_dir_all(home.vms_dir()).map_err(io)?;
    home::replace_dir(&home, &tmp.path, &home.vm(name).path).map_err(io)?;
    tmp.keep();
    Ok(())
}

/// `tart fqn <name>` (hidden): the digest form of an OCI reference, else the name.
pub fn fqn(args: &[String]) -> Result<(), Failure> {
    let Some(name) = args.first() else {
        return Err(Failure::Usage {
            message: "Missing expected argument '<name>'".into(),
            help: None,
            usage: "Usage: tart fqn <name>\n  See 'tart fqn --help' for more information.".into(),
        });
    };
    match oci::parse(name) {
        Ok(remote) => output::out_line(&format!("{}@{}", remote.repository(), remote.digest())),
        Err(_) => output::out_line(name),
    }
    Ok(())
}
