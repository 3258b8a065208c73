//! `taartenfabriek service`: the LaunchAgent plist it writes (checked on any OS by
//! parsing it with Python's plistlib, as launchd's own parser would read it), and the
//! macOS-only refusal elsewhere.

use std::io::Write;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_taartenfabriek");

fn temp_home(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tf-service-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Parses a plist with Python's plistlib and returns it as JSON.
fn parse_plist(xml: &[u8]) -> serde_json::Value {
    let mut child = Command::new("python3")
        .args([
            "-c",
            "import json, plistlib, sys; print(json.dumps(plistlib.loads(sys.stdin.buffer.read())))",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 (scripts/test installs it on Debian)");
    child.stdin.take().unwrap().write_all(xml).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "plistlib refused it: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_launch_agent_plist_runs_the_server_with_the_flags_given_a_homebrew_path_and_logs_in_the_data_folder()
 {
    let home = temp_home("plist");
    // Characters XML must escape, in a path the plist carries twice.
    let data = home.join("data & <more>");
    let data_arg = data.to_str().unwrap();
    let out = Command::new(BIN)
        .args(["service", "plist", "--port", "8123", "--data-dir", data_arg])
        .args(["--tart", "/opt/homebrew/bin/tart"])
        .env("HOME", &home)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plist = parse_plist(&out.stdout);
    assert_eq!(plist["Label"], "dev.taartenfabriek.server");
    let argv: Vec<&str> = plist["ProgramArguments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        argv[1..],
        [
            "--port",
            "8123",
            "--data-dir",
            data_arg,
            "--tart",
            "/opt/homebrew/bin/tart"
        ]
    );
    assert!(argv[0].ends_with("taartenfabriek"), "{argv:?}");
    let path = plist["EnvironmentVariables"]["PATH"].as_str().unwrap();
    let dirs: Vec<&str> = path.split(':').collect();
    assert_eq!(
        dirs[..2],
        ["/opt/homebrew/bin", "/usr/local/bin"],
        "Homebrew's tart is found"
    );
    let log = data.join("service.log");
    assert_eq!(plist["StandardOutPath"], log.to_str().unwrap());
    assert_eq!(plist["StandardErrorPath"], log.to_str().unwrap());
    assert_eq!(plist["RunAtLoad"], true);
    assert_eq!(plist["KeepAlive"]["SuccessfulExit"], false);
    assert_eq!(
        plist["LimitLoadToSessionType"], "Aqua",
        "the GUI session macOS guests need"
    );
    // Printing the plist writes nothing.
    assert!(!home.join("Library").exists());
    let _ = std::fs::remove_dir_all(&home);
}

#[test]
fn bad_flags_are_refused_before_anything_is_written() {
    let home = temp_home("bad");
    let out = Command::new(BIN)
        .args(["service", "install", "--port", "eighty"])
        .env("HOME", &home)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!home.join("Library").exists());
    let _ = std::fs::remove_dir_all(&home);
}

#[cfg(not(target_os = "macos"))]
#[test]
fn elsewhere_than_macos_the_service_commands_say_they_are_macos_only() {
    let home = temp_home("linux");
    for action in ["install", "uninstall", "status"] {
        let out = Command::new(BIN)
            .args(["service", action])
            .env("HOME", &home)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{action}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("macOS-only"), "{action}: {stderr}");
    }
    assert!(!home.join("Library").exists(), "nothing was written");
    let _ = std::fs::remove_dir_all(&home);
}
