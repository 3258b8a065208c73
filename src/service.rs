//! `taartenfabriek service install|uninstall|status|plist`: running the server as a
//! per-user launchd LaunchAgent on a Mac (in the user's GUI session, which macOS 15.2+
//! guests need to start), with the flags given, a `PATH` that finds Homebrew's tart, and
//! its output in the data folder. The plist is made here on any OS (so it is tested on
//! Linux); installing it is macOS-only. Used by the binary; no threads, no state.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The job's launchd label, also the plist's file name.
pub const LABEL: &str = "dev.taartenfabriek.server";

/// `PATH` for the job: launchd's default has no Homebrew, so `tart` would not be found
/// (Apple Silicon's Homebrew first, then Intel's and the system's).
pub const LAUNCHD_PATH: &str = "/opt/homebrew/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";

/// The log file of the job's stdout and stderr, in the data folder.
pub fn log_path(data_dir: &Path) -> PathBuf {
    data_dir.join("service.log")
}

/// `~/Library/LaunchAgents/<LABEL>.plist`.
pub fn plist_path(home: &Path) -> PathBuf {
    home.join("Library/LaunchAgents")
        .join(format!("{LABEL}.plist"))
}

/// The LaunchAgent's plist: runs `program` with `args` at login and keeps it running if
/// it exits with an error (not after a clean stop), in the GUI session only.
pub fn plist(program: &Path, args: &[String], data_dir: &Path) -> String {
    let mut argv = vec![program.to_string_lossy().into_owned()];
    argv.extend(args.iter().cloned());
    let log = log_path(data_dir).to_string_lossy().into_owned();
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \
         \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n\
         <plist version=\"1.0\">\n<dict>\n",
    );
    let key = |out: &mut String, k: &str| out.push_str(&format!("  <key>{}</key>\n", xml(k)));
    let string = |out: &mut String, k: &str, v: &str| {
        key(out, k);
        out.push_str(&format!("  <string>{}</string>\n", xml(v)));
    };
    string(&mut out, "Label", LABEL);
    key(&mut out, "ProgramArguments");
    out.push_str("  <array>\n");
    for a in &argv {
        out.push_str(&format!("    <string>{}</string>\n", xml(a)));
    }
    out.push_str("  </array>\n");
    key(&mut out, "EnvironmentVariables");
    out.push_str(&format!(
        "  <dict>\n    <key>PATH</key>\n    <string>{}</string>\n  </dict>\n",
        xml(LAUNCHD_PATH)
    ));
    key(&mut out, "RunAtLoad");
    out.push_str("  <true/>\n");
    // Restarted after a crash or a fatal error, not after a clean stop.
    key(&mut out, "KeepAlive");
    out.push_str("  <dict>\n    <key>SuccessfulExit</key>\n    <false/>\n  </dict>\n");
    // macOS guests need the logged-in user's GUI session.
    string(&mut out, "LimitLoadToSessionType", "Aqua");
    string(&mut out, "ProcessType", "Interactive");
    string(&mut out, "StandardOutPath", &log);
    string(&mut out, "StandardErrorPath", &log);
    out.push_str("</dict>\n</plist>\n");
    out
}

/// Text as XML character data.
fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `gui/<uid>`, launchd's domain of the logged-in user.
fn gui_domain() -> Result<String, String> {
    let out = Command::new("id")
        .arg("-u")
        .output()
        .map_err(|e| format!("cannot run id -u: {e}"))?;
    Ok(format!(
        "gui/{}",
        String::from_utf8_lossy(&out.stdout).trim()
    ))
}

fn launchctl(args: &[&str]) -> Result<(bool, String), String> {
    let out = Command::new("launchctl")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run launchctl: {e}"))?;
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    Ok((out.status.success(), text))
}

/// Refuses on anything but macOS, saying what the command is for.
pub fn require_macos() -> Result<(), String> {
    if cfg!(target_os = "macos") {
        Ok(())
    } else {
        Err(
            "`taartenfabriek service` is macOS-only: it installs a launchd LaunchAgent. \
             Elsewhere, run the server under your own supervisor (systemd, a container), \
             or print the plist with `taartenfabriek service plist`."
                .into(),
        )
    }
}

/// Writes the plist and loads it (replacing a loaded one); returns what to tell the user.
pub fn install(home: &Path, plist_text: &str, data_dir: &Path) -> Result<String, String> {
    require_macos()?;
    let path = plist_path(home);
    std::fs::create_dir_all(path.parent().expect("a folder"))
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    std::fs::create_dir_all(data_dir)
        .map_err(|e| format!("cannot create {}: {e}", data_dir.display()))?;
    let domain = gui_domain()?;
    // A job loaded before is replaced; its absence is not an error.
    let _ = launchctl(&["bootout", &format!("{domain}/{LABEL}")]);
    std::fs::write(&path, plist_text)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let (ok, text) = launchctl(&["bootstrap", &domain, &path.to_string_lossy()])?;
    if !ok {
        return Err(format!("launchctl bootstrap failed: {}", text.trim()));
    }
    Ok(format!(
        "installed {} and started it; it starts at every login.\n\
         log: {}\nopen the page: taartenfabriek url",
        path.display(),
        log_path(data_dir).display()
    ))
}

/// Unloads the job and removes its plist.
pub fn uninstall(home: &Path) -> Result<String, String> {
    require_macos()?;
    let path = plist_path(home);
    let domain = gui_domain()?;
    let (_, _) = launchctl(&["bootout", &format!("{domain}/{LABEL}")])?;
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(format!("stopped and removed {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Ok(format!("not installed ({} does not exist)", path.display()))
        }
        Err(e) => Err(format!("cannot remove {}: {e}", path.display())),
    }
}

/// Whether the plist is installed and the job loaded (with launchd's view of it).
pub fn status(home: &Path) -> Result<String, String> {
    require_macos()?;
    let path = plist_path(home);
    if !path.exists() {
        return Ok(format!("not installed ({} does not exist)", path.display()));
    }
    let domain = gui_domain()?;
    let (loaded, text) = launchctl(&["print", &format!("{domain}/{LABEL}")])?;
    let state = text
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("state = ") || l.starts_with("pid = "))
        .unwrap_or("");
    Ok(if loaded {
        format!("installed ({}), loaded {state}", path.display())
    } else {
        format!("installed ({}), not loaded", path.display())
    })
}
