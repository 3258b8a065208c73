//! `tart list [--source local|oci] [--format text|json] [-q|--quiet]` (contract 2.1).

use crate::args::{Opt, Spec};
use crate::commands::Ctx;
use crate::failure::Failure;
use crate::home::VmDir;
use crate::json::Json;
use crate::oci;
use crate::output;
use crate::timefmt;

/// Bytes per GB in `Disk`/`Size` (decimal, like tart).
pub const GB: u64 = 1_000_000_000;

static SPEC: Spec = Spec {
    command: "list",
    abstract_: "List created VMs",
    synopsis: "[--source <source>] [--format <format>] [--quiet]",
    options: &[
        Opt {
            long: "source",
            short: None,
            value: Some("<source>"),
            help: "Only display VMs from local or OCI sources",
        },
        Opt {
            long: "format",
            short: None,
            value: Some("<format>"),
            help: "Output format: text or json",
        },
        Opt {
            long: "quiet",
            short: Some('q'),
            value: None,
            help: "Only display VM names",
        },
    ],
    positionals: &[],
    passthrough: false,
};

/// One row of the listing.
struct Row {
    source: &'static str,
    name: String,
    dir: VmDir,
    /// OCI entries are never running.
    local: bool,
}

pub fn run(args: &[String], ctx: &Ctx) -> Result<(), Failure> {
    let parsed = SPEC.parse(args)?;
    let source = parsed.value("source");
    if let Some(s) = source
        && s != "local"
        && s != "oci"
    {
        return Err(SPEC.error(format!("'{s}' is not a valid <source>")));
    }
    let format = SPEC.choice(&parsed, "format", "text", &["text", "json"])?;
    let home = ctx.home(true)?;

    let mut rows = Vec::new();
    if source != Some("oci") {
        for (name, dir) in home.local_vms() {
            rows.push(Row {
                source: "local",
                name,
                dir,
                local: true,
            });
        }
    }
    if source != Some("local") {
        for image in oci::cached_images(&home) {
            rows.push(Row {
                source: "OCI",
                name: image.name,
                dir: image.dir,
                local: false,
            });
        }
    }

    if parsed.flag("quiet") {
        for row in &rows {
            output::out_line(&row.name);
        }
        return Ok(());
    }
    if format == "json" {
        let items = rows.iter().map(|row| json_row(row, ctx)).collect();
        output::out_line(&Json::Arr(items).shuffled().pretty());
        return Ok(());
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            let state = state_of(row);
            vec![
                row.source.to_string(),
                row.name.clone(),
                (crate::asif::reported_disk_bytes(&row.dir, ctx.knobs) / GB).to_string(),
                (row.dir.allocated_bytes() / GB).to_string(),
                timefmt::relative_phrase(row.dir.accessed()),
                state.to_string(),
            ]
        })
        .collect();
    let headers = ["Source", "Name", "Disk", "Size", "Accessed", "State"];
    output::out_line(&output::render_table(&headers, &cells));
    Ok(())
}

fn state_of(row: &Row) -> &'static str {
    if row.local {
        row.dir.state().label()
    } else {
        "stopped"
    }
}

fn json_row(row: &Row, ctx: &Ctx) -> Json {
    let state = state_of(row);
    Json::obj(vec![
        ("Source", Json::str(row.source)),
        ("Name", Json::str(&row.name)),
        (
            "Disk",
            Json::Int((crate::asif::reported_disk_bytes(&row.dir, ctx.knobs) / GB) as i64),
        ),
        ("Size", Json::Int((row.dir.allocated_bytes() / GB) as i64)),
        ("Accessed", Json::str(timefmt::iso8601(row.dir.accessed()))),
        ("Running", Json::Bool(state == "running")),
        ("State", Json::str(state)),
    ])
}
