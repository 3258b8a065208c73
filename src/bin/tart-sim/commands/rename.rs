//! `tart rename <name> <new-name>` (contract 2.11). No running check, like tart.

use crate::args::{Spec, pos};
use crate::commands::Ctx;
use crate::failure::Failure;

static SPEC: Spec = Spec {
    command: "rename",
    abstract_: "Rename a local VM",
    synopsis: "<name> <new-name>",
    options: &[],
    positionals: &[pos("name"), pos("new-name")],
    passthrough: false,
};

pub fn run(args: &[String], ctx: &Ctx) -> Result<(), Failure> {
    let parsed = SPEC.parse(args)?;
    let (name, new_name) = (parsed.pos(0), parsed.pos(1));
    if new_name.contains('/') {
        return Err(SPEC.error(format!("{new_name} should be a local name")));
    }
    let home = ctx.home(true)?;
    let from = home.vm(name);
    if !from.initialized() {
        return Err(Failure::root_usage(format!(
            "failed to rename a non-existent local VM: {name}"
        )));
    }
    let to = home.vm(new_name);
    if to.path.exists() {
        return Err(Failure::root_usage(format!(
            "failed to rename VM {name}, target VM {new_name} already exists, delete it first!"
        )));
    }
    std::fs::rename(&from.path, &to.path).map_err(|e| Failure::io("renaming VM", e))
}
