//! Fault injection: `TART_SIM_FAULTS` (a file, re-read on every invocation) and
//! `TART_SIM_FAULT` (rules separated by `;`).
//!
//! Rule syntax, one per line, `#` starts a comment:
//! `fail <cmd>[:<name>] <exit> <message…>`, `hang <cmd>[:<name>]`,
//! `flood <cmd>[:<name>] <lines>`, `spew <cmd>[:<name>] <MiB>`, `grandchild <cmd>[:<name>] [<seconds>]`,
//! `slow <cmd>[:<name>] <ms>`, `fail-after-lock run[:<name>] <exit> <message…>`. `<cmd>` is
//! a subcommand, `version` or `*`; `:<name>` (or `:"<name>"` for names with spaces)
//! restricts the rule to invocations with that VM name / reference among their arguments. Matching rules run in order (file first, then
//! env) before the command does anything, except `fail-after-lock`, which `run` asks for
//! once it holds the VM's lock (a start that fails after taking the lock, as
//! Virtualization.framework errors do).

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::output;

/// What `hang` sleeps per iteration (it loops forever; the value only bounds wake-ups).
const HANG_NAP: Duration = Duration::from_secs(3600);

/// Default lifetime of a `grandchild`: long enough to outlive any sane caller timeout.
const GRANDCHILD_SECONDS: u64 = 600;

/// Length of one `flood` line including its newline, roughly what the contract asks.
const FLOOD_LINE_LEN: usize = 100;

#[derive(Debug)]
enum Action {
    Fail { code: i32, message: String },
    FailAfterLock { code: i32, message: String },
    Hang,
    Flood(u64),
    Spew(u64),
    Grandchild(u64),
    Slow(u64),
}

#[derive(Debug)]
struct Rule {
    command: String,
    name: Option<String>,
    action: Action,
}

fn parse_rule(line: &str) -> Option<Rule> {
    let line = line
        .split_once('#')
        .map_or(line, |(before, _)| before)
        .trim();
    let (verb, after_verb) = line.split_once(char::is_whitespace)?;
    let after_verb = after_verb.trim_start();
    let (command, name, rest) = match quoted_target(after_verb) {
        Some(found) => found,
        None => {
            let mut words = after_verb.splitn(2, char::is_whitespace);
            let target = words.next()?;
            let rest = words.next().unwrap_or("").trim();
            match target.split_once(':') {
                Some((c, n)) => (c.to_string(), Some(n.to_string()), rest),
                None => (target.to_string(), None, rest),
            }
        }
    };
    let action = match verb {
        "fail" => {
            let (code, message) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            Action::Fail {
                code: code.parse().ok()?,
                message: message.trim().to_string(),
            }
        }
        "fail-after-lock" => {
            let (code, message) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            Action::FailAfterLock {
                code: code.parse().ok()?,
                message: message.trim().to_string(),
            }
        }
        "hang" => Action::Hang,
        "flood" => Action::Flood(rest.parse().ok()?),
        "spew" => Action::Spew(rest.parse().ok()?),
        "grandchild" => Action::Grandchild(rest.parse().unwrap_or(GRANDCHILD_SECONDS)),
        "slow" => Action::Slow(rest.parse().ok()?),
        _ => return None,
    };
    Some(Rule {
        command,
        name,
        action,
    })
}

/// `<cmd>:"<name with spaces>" rest…`: a quoted name (no `"` inside), for the names tart
/// accepts that a whitespace split cannot carry.
fn quoted_target(text: &str) -> Option<(String, Option<String>, &str)> {
    let (command, after) = text.split_once(":\"")?;
    if command.contains(char::is_whitespace) {
        return None;
    }
    let (name, rest) = after.split_once('"')?;
    Some((command.to_string(), Some(name.to_string()), rest.trim()))
}

fn load() -> Vec<Rule> {
    let mut text = String::new();
    if let Some(path) = std::env::var_os("TART_SIM_FAULTS").filter(|p| !p.is_empty()) {
        text.push_str(&std::fs::read_to_string(path).unwrap_or_default());
        text.push('\n');
    }
    if let Ok(inline) = std::env::var("TART_SIM_FAULT") {
        text.push_str(&inline.replace(';', "\n"));
    }
    text.lines().filter_map(parse_rule).collect()
}

impl Rule {
    fn matches(&self, command: &str, args: &[String]) -> bool {
        (self.command == "*" || self.command == command)
            && self
                .name
                .as_ref()
                .is_none_or(|name| args.iter().any(|a| a == name))
    }
}

/// The first `fail-after-lock` rule matching `command` with `args`, as `(exit, message)`.
pub fn after_lock(command: &str, args: &[String]) -> Option<(i32, String)> {
    load()
        .into_iter()
        .filter(|rule| rule.matches(command, args))
        .find_map(|rule| match rule.action {
            Action::FailAfterLock { code, message } => Some((code, message)),
            _ => None,
        })
}

/// Applies every rule matching `command` with arguments `args`. Returns `Some(exit code)`
/// when a `fail` rule fires.
pub fn apply(command: &str, args: &[String]) -> Option<i32> {
    for rule in load() {
        if !rule.matches(command, args) {
            continue;
        }
        match rule.action {
            Action::FailAfterLock { .. } => {}
            Action::Fail { code, message } => {
                output::err_line(&message);
                return Some(code);
            }
            Action::Hang => loop {
                std::thread::sleep(HANG_NAP);
            },
            Action::Flood(lines) => flood(lines),
            Action::Spew(mib) => spew(mib),
            Action::Grandchild(seconds) => spawn_grandchild(seconds),
            Action::Slow(ms) => std::thread::sleep(Duration::from_millis(ms)),
        }
    }
    None
}

/// Alternates ~100-byte lines between stdout and stderr.
fn flood(lines: u64) {
    for i in 0..lines {
        let stream = if i % 2 == 0 { "stdout" } else { "stderr" };
        let mut line = format!("tart-sim flood line {i} on {stream} ");
        while line.len() < FLOOD_LINE_LEN - 1 {
            line.push('x');
        }
        if i % 2 == 0 {
            output::out_line(&line);
        } else {
            output::err_line(&line);
        }
    }
}

/// Writes `mib` MiB of ~100-byte lines to stdout in 1 MiB writes: fast enough to make a
/// gigabyte of output in a second or two (a chatty `tart run`).
fn spew(mib: u64) {
    use std::io::Write;
    let line = format!("{}\n", "tart-sim spew ".repeat(7));
    let block = line.repeat(1024 * 1024 / line.len() + 1).into_bytes();
    let mut out = std::io::stdout().lock();
    for _ in 0..mib {
        if out.write_all(&block[..1024 * 1024]).is_err() {
            return;
        }
    }
    let _ = out.write_all(b"\n");
    let _ = out.flush();
}

/// Starts `sleep <seconds>` in its own process group, inheriting stdout/stderr (so the
/// caller's pipes stay open after we exit), and does not wait for it.
fn spawn_grandchild(seconds: u64) {
    use std::os::unix::process::CommandExt;
    let spawned = Command::new("sleep")
        .arg(seconds.to_string())
        .stdin(Stdio::null())
        .process_group(0)
        .spawn();
    if let Err(error) = spawned {
        output::err_line(&format!(
            "tart-sim: grandchild fault could not spawn sleep: {error}"
        ));
    }
}
