//! `tart get <name> [--format text|json]` (contract 2.3).

use crate::args::{ONE_NAME, Opt, Spec};
use crate::commands::Ctx;
use crate::commands::list::GB;
use crate::failure::Failure;
use crate::json::Json;
use crate::output;
use crate::vmconfig::{MIB, VmConfig};

static SPEC: Spec = Spec {
    command: "get",
    abstract_: "Get a VM's configuration",
    synopsis: "<name> [--format <format>]",
    options: &[Opt {
        long: "format",
        short: None,
        value: Some("<format>"),
        help: "Output format: text or json",
    }],
    positionals: ONE_NAME,
    passthrough: false,
};

pub fn run(args: &[String], ctx: &Ctx) -> Result<(), Failure> {
    let parsed = SPEC.parse(args)?;
    let format = SPEC.choice(&parsed, "format", "text", &["text", "json"])?;
    let home = ctx.home(true)?;
    let vm = home.local_vm(parsed.pos(0))?;
    vm.bump_access();
    let config = VmConfig::load(&vm.config_path())?;
    let state = vm.state();
    let disk = (crate::asif::reported_disk_bytes(&vm, ctx.knobs) / GB) as i64;
    // tart computes Size in a 32-bit float, hence the f32.
    let size = format!("{:.3}", vm.allocated_bytes() as f32 / GB as f32);
    let memory = (config.memory_size / MIB) as i64;
    if format == "json" {
        let object = Json::obj(vec![
            ("OS", Json::str(&config.os)),
            ("CPU", Json::Int(config.cpu_count as i64)),
            ("Memory", Json::Int(memory)),
            ("Disk", Json::Int(disk)),
            ("DiskFormat", Json::str(&config.disk_format)),
            ("Size", Json::str(size)),
            ("Display", Json::str(config.display_label())),
            ("Running", Json::Bool(state.is_running())),
            ("State", Json::str(state.label())),
        ]);
        output::out_line(&object.shuffled().pretty());
        return Ok(());
    }
    let headers = [
        "OS",
        "CPU",
        "Memory",
        "Disk",
        "DiskFormat",
        "Size",
        "Display",
        "State",
    ];
    let row = vec![
        config.os.clone(),
        config.cpu_count.to_string(),
        memory.to_string(),
        disk.to_string(),
        config.disk_format.clone(),
        size,
        config.display_label(),
        state.label().to_string(),
    ];
    output::out_line(&output::render_table(&headers, &[row]));
    Ok(())
}
