//! `tart run [<options>] <name>` (contract 2.4): the foreground process that "is" the VM.
//!
//! It takes the config.json record lock (that is what makes the VM `running` for every
//! other command), then "starts" the VM (`TART_SIM_START_MS`; the host rules and the
//! `fail-after-lock` fault end the process here with exit 1, lock already taken, as
//! Virtualization.framework's start errors do), records a DHCP lease after the boot delay,
//! prints VNC URLs only once the VM has started, and reacts to SIGINT/SIGTERM (power off;
//! `CancellationError()` while `--vnc` still waits for an IP), SIGUSR1 (suspend) and SIGUSR2
//! (graceful stop).
//!
//! Lock rule: after `try_lock_running` succeeds this process never opens config.json
//! again — closing any descriptor of the file would silently drop the POSIX lock.

use std::fs::OpenOptions;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use crate::args::{ONE_NAME, Opt, Spec};
use crate::commands::Ctx;
use crate::failure::Failure;
use crate::home::{Home, MISSING_FILES, VmDir};
use crate::ids;
use crate::lease;
use crate::lock;
use crate::output;
use crate::signals;
use crate::vmconfig::VmConfig;

/// How often the VM loop checks signals, the boot timer and the lease.
const TICK: Duration = Duration::from_millis(20);

/// How often a booted guest without a lease asks the DHCP server again (a full pool).
const DHCP_RETRY: Duration = Duration::from_secs(1);

/// Bridge interfaces the simulated host has, as `(BSD name, display name)`.
const BRIDGE_INTERFACES: &[(&str, &str)] = &[("en0", "Ethernet"), ("en1", "Wi-Fi")];

/// Words for `--vnc-experimental` passwords (ordinary English words from BIP-39).
const PASSWORD_WORDS: &[&str] = &[
    "gadget", "lunar", "wheat", "olive", "anchor", "basket", "cactus", "dolphin", "eagle",
    "fabric", "garden", "harbor", "island", "jungle", "kitten", "ladder", "magnet", "napkin",
    "orange", "pepper", "quarter", "rabbit", "saddle", "tennis", "umbrella", "velvet", "walnut",
    "yellow", "zebra", "bamboo", "candle", "donkey", "engine", "forest", "guitar", "hammer",
    "jacket", "lemon", "mirror", "nephew", "oyster", "pencil", "rocket", "salmon", "tomato",
    "unique", "violin", "window",
];

const fn flag(long: &'static str, help: &'static str) -> Opt {
    Opt {
        long,
        short: None,
        value: None,
        help,
    }
}

const fn valued(long: &'static str, value: &'static str, help: &'static str) -> Opt {
    Opt {
        long,
        short: None,
        value: Some(value),
        help,
    }
}

static SPEC: Spec = Spec {
    command: "run",
    abstract_: "Run a VM",
    synopsis: "[<options>] <name>",
    options: &[
        flag("no-graphics", "Don't open a UI window."),
        flag(
            "graphics",
            "Force open a UI window, even when VNC is enabled.",
        ),
        flag("vnc", "Use screen sharing instead of the built-in UI."),
        flag(
            "vnc-experimental",
            "Use Virtualization.Framework's VNC server instead of the built-in UI.",
        ),
        flag("serial", "Open serial console in /dev/ttySXX"),
        valued(
            "serial-path",
            "<serial-path>",
            "Attach an externally created serial console",
        ),
        flag("no-audio", "Disable audio pass-through to host."),
        flag(
            "no-clipboard",
            "Disable clipboard sharing between host and guest.",
        ),
        flag("recovery", "Boot into recovery mode"),
        valued("disk", "<disk>", "Additional disk attachments"),
        valued(
            "rosetta",
            "<tag>",
            "Attaches a Rosetta share to the guest Linux VM",
        ),
        valued("dir", "<dir>", "Additional directory shares"),
        flag("nested", "Enable nested virtualization if possible"),
        valued(
            "net-bridged",
            "<interface>",
            "Use bridged networking instead of the default shared (NAT) networking",
        ),
        flag(
            "net-softnet",
            "Use software networking instead of the default shared (NAT) networking",
        ),
        valued(
            "net-softnet-allow",
            "<comma-separated CIDRs>",
            "Comma-separated list of CIDRs to allow the traffic to",
        ),
        valued(
            "net-softnet-block",
            "<comma-separated CIDRs>",
            "Comma-separated list of CIDRs to block the traffic to",
        ),
        valued(
            "net-softnet-expose",
            "<comma-separated port specifications>",
            "Comma-separated list of TCP ports to expose",
        ),
        flag(
            "net-host",
            "Restrict network access to the host-only network",
        ),
        valued("root-disk-opts", "<options>", "Set the root disk options"),
        flag(
            "suspendable",
            "Disables audio and entropy devices and switches to only Mac-specific input devices.",
        ),
        flag(
            "capture-system-keys",
            "Whether system hot keys should be sent to the guest instead of the host",
        ),
        flag("no-trackpad", "Disable the trackpad"),
        flag("no-pointer", "Disable the pointer"),
        flag("no-keyboard", "Disable the keyboard"),
    ],
    positionals: ONE_NAME,
    passthrough: false,
};

/// Everything `run` needs after validation.
struct Plan {
    name: String,
    /// The arguments after `run`, for matching `fail-after-lock` faults.
    args: Vec<String>,
    vm: VmDir,
    config: VmConfig,
    no_graphics: bool,
    vnc: bool,
    vnc_experimental: bool,
    suspendable: bool,
}

pub fn run(args: &[String], ctx: &Ctx) -> Result<(), Failure> {
    let parsed = SPEC.parse(args)?;
    let home = ctx.home(true)?;
    let name = parsed.pos(0).to_string();

    // validate(): opening the VM here makes failures `Error: …` with exit 1, not 2.
    let vm = home.vm(&name);
    if !vm.path.is_dir() {
        return Err(Failure::Error(format!(
            "the specified VM \"{name}\" does not exist"
        )));
    }
    if !vm.initialized() {
        return Err(Failure::Error(MISSING_FILES.to_string()));
    }
    let mut config = VmConfig::load(&vm.config_path())?;
    let softnet = parsed.flag("net-softnet")
        || [
            "net-softnet-allow",
            "net-softnet-block",
            "net-softnet-expose",
        ]
        .iter()
        .any(|o| parsed.value(o).is_some());
    let networks = [
        !parsed.values("net-bridged").is_empty(),
        softnet,
        parsed.flag("net-host"),
    ];
    if parsed.flag("vnc") && parsed.flag("vnc-experimental") {
        return Err(SPEC.error("--vnc and --vnc-experimental are mutually exclusive"));
    }
    if parsed.flag("graphics") && parsed.flag("no-graphics") {
        return Err(SPEC.error("--graphics and --no-graphics are mutually exclusive"));
    }
    if networks.iter().filter(|n| **n).count() > 1 {
        return Err(
            SPEC.error("--net-bridged, --net-softnet and --net-host are mutually exclusive")
        );
    }
    if parsed.flag("suspendable") && config.os != "darwin" {
        return Err(SPEC.error("You can only suspend macOS VMs"));
    }
    if parsed.flag("suspendable")
        && ["no-trackpad", "no-pointer", "no-keyboard"]
            .iter()
            .any(|o| parsed.flag(o))
    {
        return Err(SPEC.error(
            "--no-trackpad, --no-pointer and --no-keyboard cannot be used with --suspendable",
        ));
    }
    if let Some(disk) = parsed
        .values("disk")
        .iter()
        .find(|d| d.ends_with("-amd64.iso"))
    {
        return Err(SPEC.error(format!(
            "Seems like you're trying to attach an amd64 ISO image {disk}, which is not supported on Apple Silicon, use the arm64 image instead"
        )));
    }

    // run(): network checks are ValidationErrors thrown from run(), hence root usage.
    let bridged = parsed.values("net-bridged");
    if !bridged.is_empty()
        && !bridged.iter().all(|b| {
            BRIDGE_INTERFACES
                .iter()
                .any(|(id, label)| b == id || b == label)
        })
    {
        let asked: Vec<String> = bridged.iter().map(|b| format!("\"{b}\"")).collect();
        let available: Vec<String> = BRIDGE_INTERFACES
            .iter()
            .map(|(id, label)| format!("\"{id} (or \\\"{label}\\\")\""))
            .collect();
        return Err(Failure::root_usage(format!(
            "no bridge interfaces matched \"[{}]\", available interfaces: [{}]",
            asked.join(", "),
            available.join(", ")
        )));
    }

    signals::install();
    let global = home.global_lock()?;
    if running_vm_with_mac(&home, &name, &config.mac_address) {
        output::out_line("There is already a running VM with the same MAC address!");
        output::out_line("Resetting VM to assign a new MAC address...");
        config.mac_address = ids::random_mac();
        config.save(&vm.config_path())?;
        let _ = std::fs::remove_file(vm.state_path());
    }
    vm.bump_access();
    let suspended = vm.state_path().exists();

    // The lock: open once, read-write, and keep `lock_file` alive until the process ends.
    let lock_file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(vm.config_path())
        .map_err(|e| Failure::io("opening config.json", e))?;
    if !lock::try_lock_running(&lock_file).map_err(|e| Failure::io("locking config.json", e))? {
        return Err(Failure::Runtime {
            message: format!("VM \"{name}\" is already running!"),
            code: 2,
        });
    }
    drop(global);

    let plan = Plan {
        name,
        args: args.to_vec(),
        vm,
        config,
        no_graphics: parsed.flag("no-graphics"),
        vnc: parsed.flag("vnc"),
        vnc_experimental: parsed.flag("vnc-experimental"),
        suspendable: parsed.flag("suspendable") || suspended,
    };
    if suspended {
        output::out_line("restoring VM state from a snapshot...");
        let _ = std::fs::remove_file(plan.vm.state_path());
        output::out_line("resuming VM...");
    }
    if parsed.flag("serial") {
        output::out_line(&format!(
            "Successfully open pty /dev/ttys{:03}",
            std::process::id() % 1000
        ));
    }
    let result = vm_loop(&plan, &home, ctx);
    drop(lock_file);
    result
}

/// Whether another running local VM uses `mac`.
fn running_vm_with_mac(home: &Home, name: &str, mac: &str) -> bool {
    home.local_vms().into_iter().any(|(other, dir)| {
        other != name
            && dir.running_pid().is_some()
            && VmConfig::load(&dir.config_path())
                .is_ok_and(|config| config.mac_address.eq_ignore_ascii_case(mac))
    })
}

/// Prints a VNC URL the way tart does for the current mode.
fn announce_vnc(plan: &Plan, ctx: &Ctx, url: &str) {
    if plan.no_graphics || ctx.knobs.ci {
        output::out_line(&format!("VNC server is running at {url}"));
    } else {
        output::out_line(&format!("Opening {url}..."));
    }
}

/// Why `vm.start` fails on this host now, if it does: a `fail-after-lock` fault, or the
/// macOS guest limit (`TART_SIM_MACOS_LIMIT`, two on a real Mac).
fn start_failure(plan: &Plan, home: &Home, ctx: &Ctx) -> Option<Failure> {
    if let Some((code, message)) = crate::faults::after_lock("run", &plan.args) {
        return Some(Failure::Runtime { message, code });
    }
    if plan.config.os != "darwin" {
        return None;
    }
    let others: Vec<(String, bool)> = home
        .local_vms()
        .into_iter()
        .filter(|(other, dir)| *other != plan.name && dir.running_pid().is_some())
        .map(|(other, dir)| {
            let darwin = VmConfig::load(&dir.config_path()).is_ok_and(|c| c.os == "darwin");
            (other, darwin)
        })
        .collect();
    if others.iter().filter(|(_, darwin)| *darwin).count() < ctx.knobs.macos_limit {
        return None;
    }
    let names: Vec<&str> = others.iter().map(|(n, _)| n.as_str()).collect();
    Some(Failure::runtime(format!(
        "The number of VMs exceeds the system limit (other running VMs: {})",
        names.join(", ")
    )))
}

/// Starts Virtualization.framework's VNC server: a real one (`crate::vnc`) on an
/// ephemeral loopback port with a four-word password, serving for the life of the VM.
fn start_vnc_server(plan: &Plan, ctx: &Ctx) -> Result<(), Failure> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| Failure::io("starting VNC server", e))?;
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    let password: Vec<&str> = (0..4)
        .map(|_| PASSWORD_WORDS[(ids::random_u64() % PASSWORD_WORDS.len() as u64) as usize])
        .collect();
    let password = password.join("-");
    announce_vnc(plan, ctx, &format!("vnc://:{password}@127.0.0.1:{port}"));
    crate::vnc::spawn_server(
        listener,
        password,
        &plan.name,
        plan.config.display_width,
        plan.config.display_height,
    );
    Ok(())
}

/// The "VM is running" loop; returns when the VM stops.
fn vm_loop(plan: &Plan, home: &Home, ctx: &Ctx) -> Result<(), Failure> {
    let began = Instant::now();
    let no_ip = ctx.knobs.no_ip_for(&plan.config.os);
    let mut started = false;
    let mut leased = false;
    let mut next_dhcp = began + ctx.knobs.start + ctx.knobs.boot;
    let mut vnc_pending = plan.vnc;
    let mut guest_stops_at: Option<Instant> = None;

    loop {
        let now = Instant::now();
        if !started && now >= began + ctx.knobs.start {
            if let Some(failure) = start_failure(plan, home, ctx) {
                return Err(failure);
            }
            started = true;
            if plan.vnc_experimental {
                start_vnc_server(plan, ctx)?;
            }
        }
        if signals::take_interrupt() {
            if vnc_pending && started {
                // tart cancels the run task while `--vnc` sleeps between IP lookups.
                return Err(Failure::runtime("CancellationError()"));
            }
            output::out_line("Stopping VM...");
            return Ok(());
        }
        if !started {
            std::thread::sleep(TICK);
            continue;
        }
        if signals::take(libc::SIGUSR1) {
            return suspend(plan, ctx);
        }
        if signals::take(libc::SIGUSR2) && guest_stops_at.is_none() {
            output::out_line("Requesting guest OS to stop...");
            guest_stops_at = Some(now + ctx.knobs.guest_stop);
        }
        if guest_stops_at.is_some_and(|at| now >= at) {
            output::out_line("guest has stopped the virtual machine");
            return Ok(());
        }
        if !leased && !no_ip && now >= next_dhcp {
            next_dhcp = now + DHCP_RETRY;
            match lease::record(home, &plan.config.mac_address, ctx.knobs) {
                Ok(Some(_)) => leased = true,
                Ok(None) => {}
                Err(error) => {
                    leased = true;
                    output::err_line(&format!("tart-sim: could not record DHCP lease: {error}"));
                }
            }
        }
        if vnc_pending {
            let ip = if no_ip {
                None
            } else {
                lease::lookup(home, &plan.config.mac_address)
            };
            if let Some(ip) = ip {
                announce_vnc(plan, ctx, &format!("vnc://{ip}"));
                vnc_pending = false;
            } else if now >= began + ctx.knobs.start + ctx.knobs.vnc_timeout {
                return Err(Failure::runtime("IPNotFound()"));
            }
        }
        std::thread::sleep(TICK);
    }
}

/// SIGUSR1: snapshot to `state.vzvmsave` and exit 0, or fail (exit 1) when the VM was not
/// started suspendable.
fn suspend(plan: &Plan, ctx: &Ctx) -> Result<(), Failure> {
    if !plan.suspendable {
        output::out_line(
            "Failed to suspend the VM: The virtual machine configuration does not support saving its state, run it with --suspendable",
        );
        return Err(Failure::Exit(1));
    }
    output::out_line("pausing VM to take a snapshot...");
    output::out_line("creating a snapshot...");
    // The snapshot holds the guest's memory: as large as the VM's memory (sparse here),
    // and it takes a while, during which the VM is still `running`.
    std::thread::sleep(ctx.knobs.suspend);
    let snapshot = format!("tart-sim snapshot of {}\n", plan.name);
    let written = std::fs::write(plan.vm.state_path(), snapshot).and_then(|()| {
        std::fs::OpenOptions::new()
            .write(true)
            .open(plan.vm.state_path())?
            .set_len(plan.config.memory_size)
    });
    if let Err(error) = written {
        output::out_line(&format!("Failed to suspend the VM: {error}"));
        return Err(Failure::Exit(1));
    }
    output::out_line("snapshot created successfully! shutting down the VM...");
    Ok(())
}
