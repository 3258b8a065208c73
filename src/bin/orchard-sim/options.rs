//! Command-line flags of `orchard-sim`: where to listen, the fake workers and their
//! resources, the service accounts, the pace of the fake workers, and seeded VMs.
//!
//! Parsed once in `main`; read-only afterwards.

use std::time::Duration;

/// Printed for `--help` and with a flag error.
pub const USAGE: &str = "\
orchard-sim — a simulated Orchard controller with fake workers (see docs/orchard.md)

USAGE:
    orchard-sim [OPTIONS]

OPTIONS:
    --listen ADDR             address to listen on [default 127.0.0.1:0]
    --workers N               number of fake workers, named worker-1... [default 3]
    --worker-cpu N            logical cores of each worker [default 10]
    --worker-memory MIB       memory of each worker in MiB [default 16384]
    --worker-slots N          Tart VM slots of each worker (org.cirruslabs.tart-vms) [default 2]
    --account NAME:TOKEN[:ROLE,ROLE...]
                              a service account (repeatable); without roles it has all
                              roles. Without any account: bootstrap-admin with a random
                              token (or $ORCHARD_BOOTSTRAP_ADMIN_TOKEN), printed on stdout
    --no-auth                 as `orchard dev`: requests without credentials pass (wrong
                              credentials still get 401)
    --phase-ms MS             time each fake worker phase takes (pull, clone, configure,
                              boot, stop) [default 1000]
    --offline-after-ms MS     a worker silent this long is offline [default 180000]
    --vm NAME=IMAGE           a VM created at start (repeatable)
    --fail-image TEXT         VMs whose image contains TEXT fail while cloning (repeatable)
    --exit-with-stdin         exit when stdin reaches its end (a parent that dies takes
                              the simulator with it)
    -h, --help                print this help
";

/// A service account: its Basic-auth name, token, and roles.
#[derive(Clone, Debug)]
pub struct Account {
    pub name: String,
    pub token: String,
    pub roles: Vec<String>,
}

/// Every role Orchard knows; an account given without roles gets all of them.
pub const ALL_ROLES: &[&str] = &[
    "compute:read",
    "compute:write",
    "compute:connect",
    "admin:read",
    "admin:write",
];

/// The parsed flags.
#[derive(Clone, Debug)]
pub struct Options {
    pub listen: String,
    pub workers: usize,
    pub worker_cpu: u64,
    pub worker_memory: u64,
    pub worker_slots: u64,
    pub accounts: Vec<Account>,
    pub no_auth: bool,
    pub phase: Duration,
    pub offline_after: Duration,
    pub vms: Vec<(String, String)>,
    pub fail_images: Vec<String>,
    pub exit_with_stdin: bool,
}

impl Options {
    /// Parses `args` (without the program name). `Ok(None)` means `--help`.
    pub fn parse(args: &[String]) -> Result<Option<Options>, String> {
        let mut o = Options {
            listen: "127.0.0.1:0".into(),
            workers: 3,
            worker_cpu: 10,
            worker_memory: 16_384,
            worker_slots: 2,
            accounts: Vec::new(),
            no_auth: false,
            phase: Duration::from_millis(1000),
            offline_after: Duration::from_secs(180),
            vms: Vec::new(),
            fail_images: Vec::new(),
            exit_with_stdin: false,
        };
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let mut value = || {
                it.next()
                    .cloned()
                    .ok_or_else(|| format!("{flag} needs a value"))
            };
            match flag.as_str() {
                "-h" | "--help" => return Ok(None),
                "--listen" => o.listen = value()?,
                "--workers" => o.workers = number(flag, &value()?)? as usize,
                "--worker-cpu" => o.worker_cpu = number(flag, &value()?)?,
                "--worker-memory" => o.worker_memory = number(flag, &value()?)?,
                "--worker-slots" => o.worker_slots = number(flag, &value()?)?,
                "--account" => o.accounts.push(account(&value()?)?),
                "--no-auth" => o.no_auth = true,
                "--phase-ms" => o.phase = Duration::from_millis(number(flag, &value()?)?),
                "--offline-after-ms" => {
                    o.offline_after = Duration::from_millis(number(flag, &value()?)?)
                }
                "--vm" => {
                    let v = value()?;
                    let (name, image) = v
                        .split_once('=')
                        .ok_or_else(|| format!("--vm wants NAME=IMAGE, not {v:?}"))?;
                    o.vms.push((name.into(), image.into()));
                }
                "--fail-image" => o.fail_images.push(value()?),
                "--exit-with-stdin" => o.exit_with_stdin = true,
                other => return Err(format!("unknown flag {other:?}")),
            }
        }
        Ok(Some(o))
    }
}

fn number(flag: &str, v: &str) -> Result<u64, String> {
    v.parse()
        .map_err(|_| format!("{flag} wants a whole number, not {v:?}"))
}

fn account(v: &str) -> Result<Account, String> {
    let mut parts = v.splitn(3, ':');
    let name = parts.next().unwrap_or_default();
    let token = parts.next().unwrap_or_default();
    if name.is_empty() || token.is_empty() {
        return Err(format!("--account wants NAME:TOKEN[:ROLES], not {v:?}"));
    }
    let roles: Vec<String> = match parts.next() {
        Some(r) if !r.is_empty() => r.split(',').map(str::to_string).collect(),
        _ => ALL_ROLES.iter().map(|r| r.to_string()).collect(),
    };
    for r in &roles {
        if !ALL_ROLES.contains(&r.as_str()) {
            return Err(format!("unknown role {r:?}"));
        }
    }
    Ok(Account {
        name: name.into(),
        token: token.into(),
        roles,
    })
}
