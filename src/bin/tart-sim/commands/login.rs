//! `tart login <host> [--username <user> --password-stdin] [--insecure] [--no-validate]`
//! and `tart logout <host>` (contract 2.16).
//!
//! There is no Keychain: a login is remembered as a `<host> <username>` line in
//! `$TART_HOME/.sim/credentials` (never the password), so tests can see what a server
//! logged in to. Unless `--no-validate`, the password is checked against
//! `TART_SIM_REGISTRY_PASSWORD` when that is set (tart pings `https://<host>/v2/`); a
//! wrong one fails like a registry's 401.

use std::fs;
use std::io::{BufRead, Read};

use crate::args::{Spec, opt, pos};
use crate::commands::Ctx;
use crate::failure::Failure;
use crate::home::Home;
use crate::output;

static LOGIN: Spec = Spec {
    command: "login",
    abstract_: "Login to a registry",
    synopsis: "<host> [--username <username>] [--password-stdin] [--insecure] [--no-validate]",
    options: &[
        opt("username", Some("<username>"), "username"),
        opt("password-stdin", None, "password-stdin"),
        opt(
            "insecure",
            None,
            "connect to the OCI registry via insecure HTTP protocol",
        ),
        opt(
            "no-validate",
            None,
            "skip validation of the registry's credentials before logging-in",
        ),
    ],
    positionals: &[pos("host")],
    passthrough: false,
};

static LOGOUT: Spec = Spec {
    command: "logout",
    abstract_: "Logout from a registry",
    synopsis: "<host>",
    options: &[],
    positionals: &[pos("host")],
    passthrough: false,
};

/// The 401 a registry answers for wrong credentials, as tart renders it.
const AUTH_FAILED: &str = "invalid credentials: AuthFailed(why: \"received unexpected HTTP status code 401 while retrieving an authentication token\", details: \"\")";

fn credentials_file(home: &Home) -> std::path::PathBuf {
    home.sim_dir().join("credentials")
}

/// Fails for a host tart's `RemoteName` parser would not accept as a registry host.
fn check_host(host: &str) -> Result<(), Failure> {
    let schemed = host.starts_with("http://") || host.starts_with("https://");
    let valid = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'));
    if schemed {
        return Err(Failure::runtime(format!(
            "improperly formatted host \"{host}\" was provided, make sure that it doesn't start with http:// or https://"
        )));
    }
    if !valid {
        return Err(Failure::runtime(format!(
            "improperly formatted host \"{host}\" was provided"
        )));
    }
    Ok(())
}

/// Rewrites the credentials file without `host`'s line, then appends `line` if given.
fn store(home: &Home, host: &str, line: Option<String>) -> Result<(), Failure> {
    let io = |e: std::io::Error| Failure::io("updating credentials", e);
    fs::create_dir_all(home.sim_dir()).map_err(io)?;
    let path = credentials_file(home);
    let old = fs::read_to_string(&path).unwrap_or_default();
    let mut kept: Vec<String> = old
        .lines()
        .filter(|l| l.split(' ').next() != Some(host))
        .map(str::to_string)
        .collect();
    kept.extend(line);
    let mut text = kept.join("\n");
    if !text.is_empty() {
        text.push('\n');
    }
    fs::write(path, text).map_err(io)
}

pub fn login(args: &[String], ctx: &Ctx) -> Result<(), Failure> {
    let parsed = LOGIN.parse(args)?;
    if parsed.value("username").is_some() != parsed.flag("password-stdin") {
        return Err(LOGIN.error("both --username and --password-stdin are required"));
    }
    let home = ctx.home(true)?;
    let host = parsed.pos(0);
    check_host(host)?;
    let stdin = std::io::stdin();
    let (username, password) = if let Some(user) = parsed.value("username") {
        let mut password = String::new();
        let _ = stdin.lock().read_to_string(&mut password);
        (
            user.to_string(),
            password.trim_end_matches(['\n', '\r']).to_string(),
        )
    } else {
        let mut answers = Vec::new();
        for prompt in ["User: ", "Password: "] {
            output::out_bytes(prompt.as_bytes());
            let mut line = String::new();
            let _ = stdin.lock().read_line(&mut line);
            answers.push(line.trim_end_matches(['\n', '\r']).to_string());
        }
        (answers.remove(0), answers.remove(0))
    };
    if !parsed.flag("no-validate")
        && let Ok(expected) = std::env::var("TART_SIM_REGISTRY_PASSWORD")
        && password != expected
    {
        return Err(Failure::runtime(AUTH_FAILED));
    }
    store(&home, host, Some(format!("{host} {username}")))
}

/// `tart logout`: always succeeds silently, whether or not a login existed.
pub fn logout(args: &[String], ctx: &Ctx) -> Result<(), Failure> {
    let parsed = LOGOUT.parse(args)?;
    let home = ctx.home(true)?;
    store(&home, parsed.pos(0), None)
}
