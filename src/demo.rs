//! Demo mode: serve the bundled `tart-sim` (found beside our own executable) as `tart`,
//! with its own `TART_HOME` under the data folder, seeded on first use with a few VMs
//! (macOS and Linux, one running) and a pulled image, so a newcomer on any OS sees a
//! live system.
//!
//! The demo has a data folder of its own, `<data-dir>/demo`: its own token, task history
//! and lock, so demo tasks never mix with real ones and a demo can run beside the real
//! server.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::config::Config;

/// Seconds in an hour, for the demo VMs' access dates.
const DEMO_SECONDS_PER_HOUR: u64 = 3600;

/// The simulator's name beside our executable.
const SIMULATOR: &str = "tart-sim";

/// The demo's data folder inside the data folder.
pub const DEMO_FOLDER: &str = "demo";

/// Points `config` at the simulator, the demo's own data folder and a demo home,
/// seeding the home if it is new.
pub fn prepare(config: &mut Config) -> io::Result<()> {
    let sim = simulator_path()?;
    config.data_dir = config.data_dir.join(DEMO_FOLDER);
    crate::util::data_dir::create_private(&config.data_dir)?;
    let home = config.data_dir.join("tart-home");
    if !home.join("vms").exists() {
        seed(&sim, &home)?;
    }
    config.tart = sim;
    config
        .tart_env
        .push((OsString::from("TART_HOME"), home.into_os_string()));
    Ok(())
}

fn simulator_path() -> io::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let sim = exe.with_file_name(SIMULATOR);
    if sim.is_file() {
        Ok(sim)
    } else {
        Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "{} not found (build it with `cargo build --bins`)",
                sim.display()
            ),
        ))
    }
}

fn seed(sim: &Path, home: &Path) -> io::Result<()> {
    fs::create_dir_all(home)?;
    // Sizes as a real Mac's home has them: macOS guests with 4-8 cores, 8-16 GB and
    // 80-120 GB disks, smaller Linux guests, not every VM the same.
    let steps: &[&[&str]] = &[
        &[
            "create",
            "--from-ipsw",
            "latest",
            "--disk-size",
            "80",
            "sequoia-base",
        ],
        &["set", "sequoia-base", "--cpu", "4", "--memory", "8192"],
        &[
            "create",
            "--from-ipsw",
            "latest",
            "--disk-size",
            "120",
            "sonoma-dev",
        ],
        &[
            "set",
            "sonoma-dev",
            "--cpu",
            "8",
            "--memory",
            "16384",
            "--display",
            "1920x1200",
        ],
        &["create", "--linux", "--disk-size", "30", "ubuntu"],
        &["set", "ubuntu", "--cpu", "2", "--memory", "4096"],
        &["create", "--linux", "--disk-size", "60", "debian-builder"],
        &["set", "debian-builder", "--cpu", "6", "--memory", "12288"],
        &["pull", "ghcr.io/cirruslabs/macos-sequoia-base:latest"],
    ];
    for &args in steps {
        let status = sim_command(sim, home)
            .args(args)
            .stdout(Stdio::null())
            .status()?;
        if !status.success() {
            return Err(io::Error::other(format!(
                "tart-sim {} failed ({status})",
                args.join(" ")
            )));
        }
    }
    // Last used at different times, as `tart list` and a prune preview would show them.
    for (name, hours_ago) in [
        ("sequoia-base", 0),
        ("sonoma-dev", 5),
        ("ubuntu", 30),
        ("debian-builder", 24 * 12),
    ] {
        let accessed = std::time::SystemTime::now()
            - std::time::Duration::from_secs(hours_ago * DEMO_SECONDS_PER_HOUR);
        let dir = File::open(home.join("vms").join(name))?;
        dir.set_times(fs::FileTimes::new().set_accessed(accessed))?;
    }
    // One VM running, detached like a VM started through the app.
    let log = File::create(home.join("demo-run.log"))?;
    let child = sim_command(sim, home)
        .args(["run", "--vnc", "--no-graphics", "--", "sequoia-base"])
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()?;
    // Reaped by a thread of its own, like every `tart run` we start.
    std::thread::spawn(move || {
        let mut child = child;
        let _ = child.wait();
    });
    Ok(())
}

fn sim_command(sim: &Path, home: &Path) -> Command {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(sim);
    cmd.env("TART_HOME", home)
        .env("CI", "1")
        .env("TART_SIM_PULL_MS", "300")
        .stdin(Stdio::null())
        .process_group(0);
    cmd
}
