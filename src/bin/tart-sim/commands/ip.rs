//! `tart ip <name> [--wait <seconds>] [--resolver dhcp|arp|agent]` (contract 2.2).
//!
//! Resolution reads the simulated lease file (see `lease.rs`). `dhcp` ignores whether the
//! VM runs (tart's quirk); `arp` and `agent` only answer for a running VM, since an ARP
//! entry or a guest agent needs a live guest.

use std::time::{Duration, Instant};

use crate::args::{ONE_NAME, Opt, Spec};
use crate::commands::Ctx;
use crate::failure::Failure;
use crate::lease;
use crate::output;
use crate::vmconfig::VmConfig;

static SPEC: Spec = Spec {
    command: "ip",
    abstract_: "Get VM's IP address",
    synopsis: "<name> [--wait <wait>] [--resolver <resolver>]",
    options: &[
        Opt {
            long: "wait",
            short: None,
            value: Some("<wait>"),
            help: "Number of seconds to wait for a potential VM booting",
        },
        Opt {
            long: "resolver",
            short: None,
            value: Some("<resolver>"),
            help: "Strategy for resolving IP address: dhcp, arp or agent",
        },
    ],
    positionals: ONE_NAME,
    passthrough: false,
};

pub fn run(args: &[String], ctx: &Ctx) -> Result<(), Failure> {
    let parsed = SPEC.parse(args)?;
    let wait = SPEC.uint(&parsed, "wait", 0, u64::from(u16::MAX))?;
    let resolver = SPEC.choice(&parsed, "resolver", "dhcp", &["dhcp", "arp", "agent"])?;
    let home = ctx.home(true)?;
    let vm = home.local_vm(parsed.pos(0))?;
    vm.bump_access();
    let config = VmConfig::load(&vm.config_path())?;

    let deadline = Instant::now() + Duration::from_secs(wait);
    loop {
        let running = vm.running_pid().is_some();
        let found = if ctx.knobs.no_ip_for(&config.os) || (resolver != "dhcp" && !running) {
            None
        } else {
            lease::lookup(&home, &config.mac_address)
        };
        if let Some(ip) = found {
            output::out_line(&ip);
            return Ok(());
        }
        std::thread::sleep(ctx.knobs.ip_retry);
        if Instant::now() >= deadline {
            break;
        }
    }

    let mut message = String::from("no IP address found");
    if vm.running_pid().is_none() {
        message.push_str(", is your VM running?");
    }
    if resolver == "agent" {
        message.push_str(" (also make sure that Guest agent for Tart is running inside of a VM)");
    } else if resolver == "arp" && config.os == "linux" {
        message.push_str(" (not all Linux distributions are compatible with the ARP resolver)");
    }
    Err(Failure::runtime(message))
}
