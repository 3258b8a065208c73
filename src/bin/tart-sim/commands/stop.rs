//! `tart stop <name> [-t|--timeout <seconds>]` (contract 2.5).

use std::time::{Duration, Instant};

use crate::args::{ONE_NAME, Opt, Spec};
use crate::commands::Ctx;
use crate::failure::Failure;
use crate::home::VmState;
use crate::lock;

/// tart polls the lock this often while waiting for `tart run` to exit.
const POLL: Duration = Duration::from_millis(100);

/// Default `--timeout`, seconds.
const DEFAULT_TIMEOUT: u64 = 30;

static SPEC: Spec = Spec {
    command: "stop",
    abstract_: "Stop a VM",
    synopsis: "<name> [--timeout <timeout>]",
    options: &[Opt {
        long: "timeout",
        short: Some('t'),
        value: Some("<timeout>"),
        help: "Seconds to wait for graceful termination before forcefully terminating the VM",
    }],
    positionals: ONE_NAME,
    passthrough: false,
};

pub fn run(args: &[String], ctx: &Ctx) -> Result<(), Failure> {
    let parsed = SPEC.parse(args)?;
    let timeout = SPEC.uint(&parsed, "timeout", DEFAULT_TIMEOUT, u64::MAX)?;
    let home = ctx.home(true)?;
    let name = parsed.pos(0);
    let vm = home.local_vm(name)?;
    vm.bump_access();
    match vm.state() {
        VmState::Stopped => Err(Failure::Runtime {
            message: format!("VM \"{name}\" is not running"),
            code: 2,
        }),
        VmState::Suspended => std::fs::remove_file(vm.state_path())
            .map_err(|e| Failure::io("discarding the saved state", e)),
        VmState::Running(pid) => {
            // tart ignores the result of the SIGINT.
            let _ = lock::send_signal(pid, libc::SIGINT);
            let deadline = Instant::now() + Duration::from_secs(timeout);
            while Instant::now() < deadline {
                if vm.running_pid().is_none() {
                    return Ok(());
                }
                std::thread::sleep(POLL);
            }
            if vm.running_pid().is_none() {
                return Ok(());
            }
            lock::send_signal(pid, libc::SIGKILL).map_err(|e| {
                Failure::runtime(format!(
                    "failed to forcefully terminate the VM \"{name}\": {e}"
                ))
            })
        }
    }
}
