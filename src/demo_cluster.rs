//! `--demo-cluster`: starts the bundled `orchard-sim` (beside our own executable) with
//! three fake workers and a few sample VMs, and points the server at it, so the cluster
//! side of the UI can be seen without an Orchard controller.
//!
//! The simulator exits when its stdin closes, i.e. when this process ends however it
//! ends; [`DemoCluster`] also kills and reaps it on drop.

use std::io::{self, BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};

use crate::config::{Config, OrchardConfig};

/// The simulator's name beside our executable.
const SIMULATOR: &str = "orchard-sim";

/// Sample VMs of the demo cluster: `NAME=IMAGE`.
const SAMPLE_VMS: &[&str] = &[
    "ci-runner-1=ghcr.io/cirruslabs/macos-sequoia-xcode:latest",
    "ci-runner-2=ghcr.io/cirruslabs/macos-sequoia-xcode:latest",
    "release-build=ghcr.io/cirruslabs/macos-sonoma-base:latest",
    "nightly-tests=ghcr.io/cirruslabs/macos-sequoia-base:latest",
];

/// The running demo controller; keep it alive as long as the server.
pub struct DemoCluster {
    child: Child,
    /// Held open: the simulator exits when it closes.
    _stdin: ChildStdin,
}

impl Drop for DemoCluster {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the demo controller and sets `config.orchard` to it.
pub fn start(config: &mut Config) -> io::Result<DemoCluster> {
    let exe = std::env::current_exe()?;
    let sim: PathBuf = exe.with_file_name(SIMULATOR);
    if !sim.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "{} not found (build it with `cargo build --bins`)",
                sim.display()
            ),
        ));
    }
    let token = crate::util::random::uuid_v4();
    let mut cmd = Command::new(&sim);
    cmd.args([
        "--workers",
        "3",
        "--worker-slots",
        "2",
        "--worker-cpu",
        "12",
        "--worker-memory",
        "32768",
        "--phase-ms",
        "1500",
        "--exit-with-stdin",
    ])
    // The demo account's token goes through the environment, never argv (ps shows argv).
    .env("ORCHARD_BOOTSTRAP_ADMIN_TOKEN", &token);
    for vm in SAMPLE_VMS {
        cmd.args(["--vm", vm]);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let stdin = child.stdin.take().expect("piped");
    let mut out = BufReader::new(child.stdout.take().expect("piped"));
    let mut line = String::new();
    out.read_line(&mut line)?;
    let url = line
        .trim()
        .strip_prefix("orchard-sim listening on ")
        .ok_or_else(|| io::Error::other(format!("{SIMULATOR} said {line:?}")))?
        .to_string();
    // Drain the rest (the token banner) so the simulator never blocks on a full pipe.
    std::thread::spawn(move || {
        let _ = io::copy(&mut out.by_ref(), &mut io::sink());
    });
    config.orchard = Some(OrchardConfig {
        url,
        account: Some("bootstrap-admin".into()),
        token: Some(token),
        cert: None,
        via_curl: false,
    });
    Ok(DemoCluster {
        child,
        _stdin: stdin,
    })
}
