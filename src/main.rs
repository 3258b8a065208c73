//! `taartenfabriek`: parses flags, starts the server, prints where it listens, and runs
//! until interrupted or until the server can no longer serve.

use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use taartenfabriek::Timeouts;
use taartenfabriek::{Config, OrchardConfig, Server, demo, demo_cluster};

const USAGE: &str = "\
taartenfabriek — a local web app and API that manages Tart virtual machines

USAGE:
    taartenfabriek [OPTIONS]
    taartenfabriek url [--data-dir DIR] [--demo]
                         print the running server's address with its token, to open in a browser
    taartenfabriek service install [OPTIONS] | uninstall | status | plist [OPTIONS]
                         (macOS) run the server at login as a LaunchAgent with these OPTIONS,
                         logging to <data-dir>/service.log; `plist` prints it (any OS)

OPTIONS:
    --host ADDR          address to listen on [env TARTVM_HOST, default 127.0.0.1]
    --port N             port to listen on, 0 for any free port [env TARTVM_PORT, default 8000]
    --tart PATH          the tart program [env TARTVM_TART, default: tart on PATH]
    --data-dir DIR       token, task history and logs [env TARTVM_DATA_DIR, default ~/.tartvm-manager]
    --refresh-interval S seconds between background inventory refreshes, 0 for none [default 10]
    --tart-timeout S     kill any tart call (and a start's wait for an IP) after S seconds,
                         instead of the per-kind defaults (30 s queries ... 3 h pulls)
                         [env TARTVM_TART_TIMEOUT_SECS]
    --demo               serve the bundled tart simulator with a demo home of sample VMs
    --orchard URL        also show and drive the VMs of an Orchard cluster: http://host:port
                         (plain HTTP) or https://host:port (TLS through curl)
                         [env TARTVM_ORCHARD_URL]
    --orchard-account NAME
                         the Orchard service account [env TARTVM_ORCHARD_ACCOUNT]; its token
                         comes from env TARTVM_ORCHARD_TOKEN or --orchard-token-file
    --orchard-token-file PATH
                         read the service account's token from PATH
    --orchard-cert PATH  the controller's own certificate (PEM) to trust, and only it
    --no-local           show only the Orchard cluster, not this Mac's tart VMs
    --demo-cluster       start the bundled Orchard simulator with sample workers and VMs
    --allow-non-loopback-i-know-this-exposes-my-vms
                         allow a --host other than loopback: anyone who can reach it controls your VMs
    -h, --help           print this help
    -V, --version        print the version
";

/// What the command line and environment say beyond `Config`.
#[derive(Default)]
struct Modes {
    demo: bool,
    demo_cluster: bool,
    orchard_url: Option<String>,
    orchard_account: Option<String>,
    orchard_token: Option<String>,
    orchard_token_file: Option<PathBuf>,
    orchard_cert: Option<PathBuf>,
    orchard_via_curl: bool,
}

fn main() -> ExitCode {
    let mut config = Config::from_home_env();
    let mut modes = Modes::default();
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "service") {
        return service(args.split_off(1), config, modes);
    }
    let url_command = args.first().is_some_and(|a| a == "url");
    if url_command {
        args.remove(0);
    }
    if let Err(e) = apply_env(&mut config, &mut modes)
        .and_then(|()| apply_args(args, &mut config, &mut modes))
        .and_then(|()| apply_orchard(&mut config, &modes))
    {
        eprintln!("taartenfabriek: {e}\n\n{USAGE}");
        return ExitCode::from(2);
    }
    if url_command {
        if modes.demo {
            config.data_dir = config.data_dir.join(demo::DEMO_FOLDER);
        }
        return print_url(&config.data_dir);
    }
    if modes.demo
        && let Err(e) = demo::prepare(&mut config)
    {
        eprintln!("taartenfabriek: cannot prepare the demo: {e}");
        return ExitCode::FAILURE;
    }
    let _demo_cluster = if modes.demo_cluster {
        match demo_cluster::start(&mut config) {
            Ok(d) => Some(d),
            Err(e) => {
                eprintln!("taartenfabriek: cannot start the demo cluster: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        None
    };
    if !config.host.is_loopback() && config.allow_non_loopback {
        eprintln!(
            "taartenfabriek: WARNING: listening on {}, not loopback: anyone who can reach this \
             address and learns the token controls the VMs on this machine",
            config.host
        );
    }
    let server = match Server::start(config) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("taartenfabriek: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Written, not `println!`ed: a reader that stops after the first line (a test, a
    // script) closes the pipe, and the server must not die of the second.
    let mut out = std::io::stdout();
    let _ = writeln!(out, "taartenfabriek listening on {}", server.url());
    // The token travels in the fragment, which browsers never send: the page reads it,
    // and the server never serves it (SECURITY.md promise 2).
    let _ = writeln!(
        out,
        "open {}  (print it again with `taartenfabriek url`)",
        server.url_with_token()
    );
    let _ = out.flush();
    let why = server.wait();
    eprintln!("taartenfabriek: fatal: {why}");
    ExitCode::FAILURE
}

/// `service install|uninstall|status|plist [OPTIONS]`: the OPTIONS are checked as the
/// server would read them, then written into the LaunchAgent as given.
fn service(mut args: Vec<String>, mut config: Config, mut modes: Modes) -> ExitCode {
    use taartenfabriek::service;
    let action = if args.is_empty() {
        String::new()
    } else {
        args.remove(0)
    };
    let home = PathBuf::from(std::env::var_os("HOME").unwrap_or_default());
    let result = match action.as_str() {
        "install" | "plist" => apply_env(&mut config, &mut modes)
            .and_then(|()| apply_args(args.clone(), &mut config, &mut modes))
            .and_then(|()| {
                let program = std::env::current_exe().map_err(|e| e.to_string())?;
                let text = service::plist(&program, &args, &config.data_dir);
                if action == "plist" {
                    Ok(text)
                } else {
                    service::install(&home, &text, &config.data_dir)
                }
            }),
        "uninstall" if args.is_empty() => service::uninstall(&home),
        "status" if args.is_empty() => service::status(&home),
        _ => Err(format!(
            "usage: taartenfabriek service install [OPTIONS] | uninstall | status | plist [OPTIONS]\n\n{USAGE}"
        )),
    };
    match result {
        Ok(text) => {
            print!("{text}");
            if !text.ends_with('\n') {
                println!();
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("taartenfabriek: {e}");
            ExitCode::from(2)
        }
    }
}

fn apply_env(config: &mut Config, modes: &mut Modes) -> Result<(), String> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    modes.orchard_url = var("TARTVM_ORCHARD_URL");
    modes.orchard_account = var("TARTVM_ORCHARD_ACCOUNT");
    modes.orchard_token = var("TARTVM_ORCHARD_TOKEN");
    if let Some(host) = var("TARTVM_HOST") {
        config.host = parse_host(&host)?;
    }
    if let Some(port) = var("TARTVM_PORT") {
        config.port = parse_port(&port)?;
    }
    if let Some(tart) = var("TARTVM_TART") {
        config.tart = PathBuf::from(tart);
    }
    if let Some(dir) = var("TARTVM_DATA_DIR") {
        config.data_dir = PathBuf::from(dir);
    }
    if let Some(secs) = var("TARTVM_TART_TIMEOUT_SECS") {
        config.timeouts = parse_timeout(&secs)?;
    }
    Ok(())
}

/// `taartenfabriek url`: the running server's address with its token in the fragment.
fn print_url(data_dir: &std::path::Path) -> ExitCode {
    match taartenfabriek::running_server_url(data_dir) {
        Ok(url) => {
            println!("{url}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("taartenfabriek: {e}");
            ExitCode::FAILURE
        }
    }
}

fn apply_args(args: Vec<String>, config: &mut Config, modes: &mut Modes) -> Result<(), String> {
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--host" => config.host = parse_host(&value()?)?,
            "--port" => config.port = parse_port(&value()?)?,
            "--tart" => config.tart = PathBuf::from(value()?),
            "--data-dir" => config.data_dir = PathBuf::from(value()?),
            "--refresh-interval" => {
                let secs: u64 = value()?
                    .parse()
                    .map_err(|_| "--refresh-interval takes whole seconds".to_string())?;
                config.refresh_interval = (secs > 0).then(|| Duration::from_secs(secs));
            }
            "--tart-timeout" => config.timeouts = parse_timeout(&value()?)?,
            "--demo" => modes.demo = true,
            "--demo-cluster" => modes.demo_cluster = true,
            "--orchard" => modes.orchard_url = Some(value()?),
            "--orchard-account" => modes.orchard_account = Some(value()?),
            "--orchard-token-file" => modes.orchard_token_file = Some(PathBuf::from(value()?)),
            "--orchard-cert" => modes.orchard_cert = Some(PathBuf::from(value()?)),
            // Undocumented: plain HTTP through curl, so tests exercise the TLS transport.
            "--orchard-via-curl" => modes.orchard_via_curl = true,
            "--orchard-token" => {
                return Err(
                    "the Orchard token is never a flag value (ps shows it to every \
                            user): set TARTVM_ORCHARD_TOKEN or use --orchard-token-file"
                        .into(),
                );
            }
            "--no-local" => config.no_local = true,
            "--allow-non-loopback-i-know-this-exposes-my-vms" => config.allow_non_loopback = true,
            "-h" | "--help" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            "-V" | "--version" => {
                println!("taartenfabriek {}", env!("CARGO_PKG_VERSION"));
                std::process::exit(0);
            }
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    Ok(())
}

/// Builds the Orchard settings from the flags and environment.
fn apply_orchard(config: &mut Config, modes: &Modes) -> Result<(), String> {
    if config.no_local {
        // Nothing local to keep fresh.
        config.refresh_interval = None;
    }
    let Some(url) = &modes.orchard_url else {
        if config.no_local && !modes.demo_cluster {
            return Err("--no-local needs --orchard or --demo-cluster".into());
        }
        return Ok(());
    };
    let token = match &modes.orchard_token_file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read the Orchard token file {}: {e}", path.display()))?
                .trim()
                .to_string(),
        ),
        None => modes.orchard_token.clone(),
    };
    if modes.orchard_account.is_some() != token.is_some() {
        return Err(
            "an Orchard service account needs both --orchard-account and its token \
                    (TARTVM_ORCHARD_TOKEN or --orchard-token-file)"
                .into(),
        );
    }
    config.orchard = Some(OrchardConfig {
        url: url.clone(),
        account: modes.orchard_account.clone(),
        token,
        cert: modes.orchard_cert.clone(),
        via_curl: modes.orchard_via_curl,
    });
    Ok(())
}

fn parse_host(s: &str) -> Result<IpAddr, String> {
    match s {
        "localhost" => Ok(IpAddr::from([127, 0, 0, 1])),
        _ => s
            .trim_matches(['[', ']'])
            .parse()
            .map_err(|_| format!("{s:?} is not an IP address")),
    }
}

/// One timeout for every kind of `tart` call, in whole seconds (at least 1).
fn parse_timeout(s: &str) -> Result<Timeouts, String> {
    match s.trim().parse::<u64>() {
        Ok(secs) if secs > 0 => Ok(Timeouts::all(Duration::from_secs(secs))),
        _ => Err(format!(
            "{s:?} is not a tart timeout (whole seconds, at least 1)"
        )),
    }
}

fn parse_port(s: &str) -> Result<u16, String> {
    s.parse()
        .map_err(|_| format!("{s:?} is not a port number (0-65535)"))
}
