//! `tart rename <name> <new-name>` (contract 2.11). No running check, like tart; every
//! error is exit 64, and a partially populated directory at the target is replaced.

use crate::args::{Spec, pos};
use crate::commands::Ctx;
use crate::failure::Failure;
use crate::home;

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
    // Only an initialised VM counts as existing; a partial directory is replaced.
    if to.initialized() {
        return Err(Failure::root_usage(format!(
            "failed to rename VM {name}, target VM {new_name} already exists, delete it first!"
        )));
    }
    home::replace_dir(&home, &from.path, &to.path).map_err(|e| Failure::io("renaming VM", e))
}
