//! Subcommand dispatch, the root command's help and `--version`.
//!
//! Each subcommand lives in its own file with its [`Spec`](crate::args::Spec) and a
//! `run(args, ctx)` function.

mod clone;
mod create;
mod delete;
mod get;
mod ip;
mod list;
mod login;
mod misc;
mod prune;
mod pull;
mod rename;
mod run;
mod set;
mod stop;
mod suspend;

use crate::failure::Failure;
use crate::home::Home;
use crate::knobs::Knobs;
use crate::output;

/// What every command gets: the knobs of this invocation.
pub struct Ctx<'a> {
    pub knobs: &'a Knobs,
}

impl Ctx<'_> {
    /// Opens `$TART_HOME`; with `gc`, first garbage-collects `tmp/` like tart does before
    /// every command except `pull` and `clone`.
    pub fn home(&self, gc: bool) -> Result<Home, Failure> {
        let home = Home::open()?;
        if gc && let Err(error) = home.gc_tmp() {
            output::err_line(&format!("Failed to perform garbage collection: {error}"));
        }
        Ok(home)
    }
}

/// Subcommands and their one-line abstracts, in tart's help order.
const SUBCOMMANDS: &[(&str, &str)] = &[
    ("create", "Create a VM"),
    ("clone", "Clone a VM"),
    ("run", "Run a VM"),
    ("set", "Modify VM's configuration"),
    ("get", "Get a VM's configuration"),
    ("list", "List created VMs"),
    ("login", "Login to a registry"),
    ("logout", "Logout from a registry"),
    ("ip", "Get VM's IP address"),
    ("exec", "Execute a command in a running VM"),
    ("pull", "Pull a VM from a registry"),
    ("push", "Push a VM to a registry"),
    ("import", "Import VM from a compressed .tvm file"),
    ("export", "Export VM to a compressed .tvm file"),
    ("prune", "Prune OCI and IPSW caches or local VMs"),
    ("rename", "Rename a local VM"),
    ("stop", "Stop a VM"),
    ("delete", "Delete a VM"),
    ("suspend", "Suspend a VM"),
];

/// The name fault rules match this invocation by (`version` for `--version`).
pub fn fault_name(argv: &[String]) -> &str {
    match argv.first().map(String::as_str) {
        Some("--version") => "version",
        Some(name) => name,
        None => "",
    }
}

/// Runs the subcommand named by `argv[0]`.
pub fn dispatch(argv: &[String], knobs: &Knobs) -> Result<(), Failure> {
    let ctx = Ctx { knobs };
    let Some(first) = argv.first() else {
        print_root_help();
        return Ok(());
    };
    let rest = &argv[1..];
    match first.as_str() {
        "--version" if rest.is_empty() => {
            output::out_line(&knobs.version);
            Ok(())
        }
        "--version" => Err(Failure::root_usage(unexpected(rest))),
        "-h" | "--help" => {
            print_root_help();
            Ok(())
        }
        "help" => match rest.first() {
            None => {
                print_root_help();
                Ok(())
            }
            Some(sub) if SUBCOMMANDS.iter().any(|(n, _)| n == sub) => {
                run_sub(sub, &["--help".to_string()], &ctx)
            }
            Some(sub) => Err(Failure::root_usage(format!("Unknown subcommand '{sub}'"))),
        },
        "fqn" => misc::fqn(rest),
        sub if sub.starts_with('-') => Err(Failure::root_usage(format!("Unknown option '{sub}'"))),
        sub if SUBCOMMANDS.iter().any(|(n, _)| *n == sub) => run_sub(sub, rest, &ctx),
        _ => Err(Failure::root_usage(unexpected(argv))),
    }
}

fn run_sub(sub: &str, args: &[String], ctx: &Ctx) -> Result<(), Failure> {
    match sub {
        "list" => list::run(args, ctx),
        "get" => get::run(args, ctx),
        "ip" => ip::run(args, ctx),
        "run" => run::run(args, ctx),
        "stop" => stop::run(args, ctx),
        "delete" => delete::run(args, ctx),
        "pull" => pull::run(args, ctx),
        "clone" => clone::run(args, ctx),
        "create" => create::run(args, ctx),
        "set" => set::run(args, ctx),
        "rename" => rename::run(args, ctx),
        "suspend" => suspend::run(args, ctx),
        "prune" => prune::run(args, ctx),
        "login" => login::login(args, ctx),
        "logout" => login::logout(args, ctx),
        "push" => misc::push(args, ctx),
        "exec" => misc::exec(args, ctx),
        "import" => misc::import(args, ctx),
        _ => misc::export(args, ctx),
    }
}

/// `Unexpected argument 'x'` / `2 unexpected arguments: 'a', 'b'`.
fn unexpected(args: &[String]) -> String {
    if args.len() == 1 {
        format!("Unexpected argument '{}'", args[0])
    } else {
        let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
        format!("{} unexpected arguments: {}", args.len(), quoted.join(", "))
    }
}

fn print_root_help() {
    let mut text = String::from(
        "USAGE: tart <subcommand>\n\nOPTIONS:\n  --version               Show the version.\n  -h, --help              Show help information.\n\nSUBCOMMANDS:\n",
    );
    for (name, about) in SUBCOMMANDS {
        text.push_str(&format!("  {name:<24}{about}\n"));
    }
    text.push_str("\n  See 'tart help <subcommand>' for detailed help.");
    output::out_line(&text);
}
