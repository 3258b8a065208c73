//! `tart suspend <name>` (contract 2.12): signals the `tart run` process with SIGUSR1.

use crate::args::{ONE_NAME, Spec};
use crate::commands::Ctx;
use crate::failure::Failure;
use crate::lock;

static SPEC: Spec = Spec {
    command: "suspend",
    abstract_: "Suspend a VM",
    synopsis: "<name>",
    options: &[],
    positionals: ONE_NAME,
    passthrough: false,
};

pub fn run(args: &[String], ctx: &Ctx) -> Result<(), Failure> {
    let parsed = SPEC.parse(args)?;
    let home = ctx.home(true)?;
    let name = parsed.pos(0);
    let vm = home.local_vm(name)?;
    vm.bump_access();
    let Some(pid) = vm.running_pid() else {
        // tart wraps the "not running" message twice here (a bug since 2.9.0).
        return Err(Failure::Runtime {
            message: format!("VM \"VM \"{name}\" is not running\" is not running"),
            code: 2,
        });
    };
    lock::send_signal(pid, libc::SIGUSR1).map_err(|_| {
        Failure::runtime(format!(
            "Failed to suspend the VM: failed to send SIGUSR1 signal to the \"tart run\" process running VM \"{name}\""
        ))
    })
}
