//! tart-sim: a stand-in for Cirrus Labs' `tart` CLI, following `shared/tart-cli.md`.
//!
//! It keeps state in `$TART_HOME` exactly like tart (so a server can read config.json and
//! the lock it holds), prints the same bytes on the same streams with the same exit codes,
//! and adds knobs for timing and fault injection (see docs/simulator.md). It shares no
//! code with the server on purpose: the server's parser is tested against an independent
//! reading of the contract.
//!
//! `main` only sequences the invocation: log start, latency, faults, the command, log exit.

mod args;
mod asif;
mod commands;
mod failure;
mod faults;
mod home;
mod ids;
mod invocation_log;
mod json;
mod knobs;
mod lease;
mod lock;
mod oci;
mod output;
mod progress;
mod signals;
mod timefmt;
mod user_home;
mod vmconfig;
mod vnc;

use std::io::Write;

fn main() {
    let argv: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    invocation_log::start(&argv);
    let knobs = knobs::Knobs::from_env();
    std::thread::sleep(knobs.latency);
    let command = commands::fault_name(&argv);
    if let Some(code) = faults::apply(command, argv.get(1..).unwrap_or_default()) {
        finish(code);
    }
    let code = match commands::dispatch(&argv, &knobs) {
        Ok(()) => 0,
        Err(failure) => failure.report(),
    };
    finish(code);
}

/// Ends the process: flushes, writes the exit record of `TART_SIM_LOG`, exits.
pub fn finish(code: i32) -> ! {
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    invocation_log::exit(code);
    std::process::exit(code)
}
