//! A small re-implementation of the parts of swift-argument-parser that tart's users see:
//! options before or after positionals, `--opt value` and `--opt=value`, `--` terminator,
//! `-h/--help`, and ArgumentParser's exact error wording (contract section 1.5).
//!
//! Each command declares a [`Spec`]; the usage line is written out by hand in the spec
//! because that is what the contract pins, byte for byte.

use crate::failure::Failure;
use crate::output;

/// One `--option` of a command.
#[derive(Debug)]
pub struct Opt {
    /// Long name without dashes, e.g. `format`.
    pub long: &'static str,
    /// Optional one-letter short name.
    pub short: Option<char>,
    /// `Some("<format>")` for options taking a value, `None` for flags.
    pub value: Option<&'static str>,
    /// One-line help text (shown in `Help:` lines and in `--help`).
    pub help: &'static str,
}

/// One positional argument.
#[derive(Debug)]
pub struct Pos {
    /// The name shown in errors, e.g. `name` for `'<name>'`.
    pub name: &'static str,
    /// Takes one or more values (`<name> ...`).
    pub many: bool,
    /// May be omitted.
    pub optional: bool,
}

/// A long-only option (no short form).
pub const fn opt(long: &'static str, value: Option<&'static str>, help: &'static str) -> Opt {
    Opt {
        long,
        short: None,
        value,
        help,
    }
}

/// A required single-value positional.
pub const fn pos(name: &'static str) -> Pos {
    Pos {
        name,
        many: false,
        optional: false,
    }
}

impl Pos {
    /// The same positional taking one or more values (`<name> ...`).
    pub const fn many(self) -> Pos {
        Pos { many: true, ..self }
    }

    /// The same positional, optional.
    pub const fn optional(self) -> Pos {
        Pos {
            optional: true,
            ..self
        }
    }
}

/// The single required `<name>` positional most commands take.
pub const ONE_NAME: &[Pos] = &[pos("name")];

/// `--insecure`, shared by the commands that talk to a registry.
pub const INSECURE: Opt = Opt {
    long: "insecure",
    short: None,
    value: None,
    help: "connect to the OCI registry via insecure HTTP protocol",
};

/// `--concurrency <n>`, shared by the commands that pull.
pub const CONCURRENCY: Opt = Opt {
    long: "concurrency",
    short: None,
    value: Some("<concurrency>"),
    help: "network concurrency to use when pulling a remote VM from the OCI-compatible registry",
};

/// Hidden `--deduplicate` of the commands that pull.
pub const DEDUPLICATE: Opt = Opt {
    long: "deduplicate",
    short: None,
    value: None,
    help: "deduplicate disk layers (hidden in tart)",
};

/// A command's argument declaration.
#[derive(Debug)]
pub struct Spec {
    /// Subcommand name.
    pub command: &'static str,
    /// One-line description for help.
    pub abstract_: &'static str,
    /// Synopsis after `tart <command> ` in the usage line.
    pub synopsis: &'static str,
    pub options: &'static [Opt],
    pub positionals: &'static [Pos],
    /// Everything after the first positional is passed through verbatim (`exec`).
    pub passthrough: bool,
}

/// The result of parsing.
#[derive(Debug, Default)]
pub struct Parsed {
    /// `(long name, value)` in command-line order.
    pub options: Vec<(&'static str, Option<String>)>,
    pub positionals: Vec<String>,
    /// Values of the trailing passthrough arguments (`exec`).
    pub rest: Vec<String>,
}

impl Parsed {
    /// Whether a flag was given.
    pub fn flag(&self, long: &str) -> bool {
        self.options.iter().any(|(name, _)| *name == long)
    }

    /// The last value given for `long`.
    pub fn value(&self, long: &str) -> Option<&str> {
        self.options
            .iter()
            .rev()
            .find(|(name, _)| *name == long)
            .and_then(|(_, value)| value.as_deref())
    }

    /// Every value given for a repeatable option.
    pub fn values(&self, long: &str) -> Vec<&str> {
        self.options
            .iter()
            .filter(|(name, _)| *name == long)
            .filter_map(|(_, value)| value.as_deref())
            .collect()
    }

    /// The positional at `index`, or "" when absent (only for optional positionals).
    pub fn pos(&self, index: usize) -> &str {
        self.positionals
            .get(index)
            .map(String::as_str)
            .unwrap_or("")
    }
}

impl Spec {
    /// The `Usage:` block for this command.
    pub fn usage(&self) -> String {
        format!(
            "Usage: tart {} {}\n  See 'tart {} --help' for more information.",
            self.command, self.synopsis, self.command
        )
    }

    /// A usage error without a `Help:` line.
    pub fn error(&self, message: impl Into<String>) -> Failure {
        Failure::Usage {
            message: message.into(),
            help: None,
            usage: self.usage(),
        }
    }

    /// A usage error that names `long` in a `Help:` line.
    pub fn error_about(&self, long: &str, message: impl Into<String>) -> Failure {
        let help = self
            .options
            .iter()
            .find(|o| o.long == long)
            .map(|o| format!("{}  {}", synopsis_of(o), o.help));
        Failure::Usage {
            message: message.into(),
            help,
            usage: self.usage(),
        }
    }

    /// `The value 'x' is invalid for '--opt <v>'. Please provide one of ...`.
    pub fn bad_choice(&self, long: &str, value: &str, choices: &[&str]) -> Failure {
        let quoted: Vec<String> = choices.iter().map(|c| format!("'{c}'")).collect();
        let list = match quoted.as_slice() {
            [] => String::new(),
            [one] => one.clone(),
            [init @ .., last] => {
                let sep = if init.len() == 1 { " and " } else { " or " };
                format!("{}{sep}{last}", init.join(", "))
            }
        };
        self.error_about(
            long,
            format!(
                "The value '{value}' is invalid for '{}'. Please provide one of {list}.",
                self.option_synopsis(long)
            ),
        )
    }

    /// `The value 'x' is invalid for '--opt <v>'` (non-numeric integer etc.).
    pub fn bad_value(&self, long: &str, value: &str) -> Failure {
        self.error_about(
            long,
            format!(
                "The value '{value}' is invalid for '{}'",
                self.option_synopsis(long)
            ),
        )
    }

    /// Parses an unsigned integer option; `max` is the type's maximum (u16, u64...).
    pub fn uint(
        &self,
        parsed: &Parsed,
        long: &str,
        default: u64,
        max: u64,
    ) -> Result<u64, Failure> {
        match parsed.value(long) {
            None => Ok(default),
            Some(text) => text
                .parse::<u64>()
                .ok()
                .filter(|v| *v <= max)
                .ok_or_else(|| self.bad_value(long, text)),
        }
    }

    /// Parses a choice option.
    pub fn choice<'a>(
        &self,
        parsed: &'a Parsed,
        long: &str,
        default: &'a str,
        choices: &[&str],
    ) -> Result<&'a str, Failure> {
        match parsed.value(long) {
            None => Ok(default),
            Some(v) if choices.contains(&v) => Ok(v),
            Some(v) => Err(self.bad_choice(long, v, choices)),
        }
    }

    fn option_synopsis(&self, long: &str) -> String {
        self.options
            .iter()
            .find(|o| o.long == long)
            .map(synopsis_of)
            .unwrap_or_else(|| format!("--{long}"))
    }

    fn find_long(&self, name: &str) -> Option<&'static Opt> {
        self.options.iter().find(|o| o.long == name)
    }

    fn find_short(&self, c: char) -> Option<&'static Opt> {
        self.options.iter().find(|o| o.short == Some(c))
    }

    /// Parses `args` (everything after the subcommand). `Err` covers usage errors and the
    /// help request (printed here, as `Failure::Exit(0)`).
    pub fn parse(&'static self, args: &[String]) -> Result<Parsed, Failure> {
        let mut parsed = Parsed::default();
        let mut index = 0;
        let mut terminated = false;
        while index < args.len() {
            let arg = &args[index];
            index += 1;
            if self.passthrough && !parsed.positionals.is_empty() {
                parsed.rest.push(arg.clone());
                continue;
            }
            if terminated || arg == "-" || !arg.starts_with('-') {
                parsed.positionals.push(arg.clone());
                continue;
            }
            if arg == "--" {
                terminated = true;
                continue;
            }
            if arg == "--help" || arg == "-h" {
                self.print_help();
                return Err(Failure::Exit(0));
            }
            if let Some(long) = arg.strip_prefix("--") {
                let (name, inline) = match long.split_once('=') {
                    Some((n, v)) => (n, Some(v.to_string())),
                    None => (long, None),
                };
                let opt = self
                    .find_long(name)
                    .ok_or_else(|| self.error(format!("Unknown option '--{name}'")))?;
                let value = self.take_value(opt, inline, args, &mut index)?;
                parsed.options.push((opt.long, value));
            } else {
                // A cluster of short flags, e.g. `-q` or `-it`; a valued short option
                // takes the rest of the cluster or the next argument.
                let letters: Vec<char> = arg[1..].chars().collect();
                let mut at = 0;
                while at < letters.len() {
                    let c = letters[at];
                    at += 1;
                    let opt = self
                        .find_short(c)
                        .ok_or_else(|| self.error(format!("Unknown option '-{c}'")))?;
                    let inline = if opt.value.is_some() && at < letters.len() {
                        let rest: String = letters[at..].iter().collect();
                        at = letters.len();
                        Some(rest)
                    } else {
                        None
                    };
                    let value = self.take_value(opt, inline, args, &mut index)?;
                    parsed.options.push((opt.long, value));
                }
            }
        }
        self.check_positionals(&parsed)?;
        Ok(parsed)
    }

    fn take_value(
        &self,
        opt: &Opt,
        inline: Option<String>,
        args: &[String],
        index: &mut usize,
    ) -> Result<Option<String>, Failure> {
        match (opt.value, inline) {
            (None, None) => Ok(None),
            (None, Some(v)) => Err(self.error(format!(
                "The option '--{}' does not take any value, but '{v}' was specified.",
                opt.long
            ))),
            (Some(_), Some(v)) => Ok(Some(v)),
            (Some(_), None) => match args.get(*index) {
                Some(next) if !next.starts_with('-') || next == "-" => {
                    *index += 1;
                    Ok(Some(next.clone()))
                }
                _ => Err(self.error_about(
                    opt.long,
                    format!("Missing value for '{}'", synopsis_of(opt)),
                )),
            },
        }
    }

    fn check_positionals(&self, parsed: &Parsed) -> Result<(), Failure> {
        // Passthrough arguments (`exec`'s command) fill the trailing positional.
        let given = parsed.positionals.len() + usize::from(!parsed.rest.is_empty());
        let required = self.positionals.iter().filter(|p| !p.optional).count();
        if given < required {
            let missing = &self.positionals[given];
            let shown = if missing.many {
                format!("<{}> ...", missing.name)
            } else {
                format!("<{}>", missing.name)
            };
            return Err(self.error(format!("Missing expected argument '{shown}'")));
        }
        let takes_many = self.positionals.last().is_some_and(|p| p.many);
        if !takes_many && given > self.positionals.len() {
            let extra = &parsed.positionals[self.positionals.len()..];
            let message = if extra.len() == 1 {
                format!("Unexpected argument '{}'", extra[0])
            } else {
                let quoted: Vec<String> = extra.iter().map(|e| format!("'{e}'")).collect();
                format!(
                    "{} unexpected arguments: {}",
                    extra.len(),
                    quoted.join(", ")
                )
            };
            return Err(self.error(message));
        }
        Ok(())
    }

    /// Prints `tart <command> --help`.
    pub fn print_help(&self) {
        let mut text = format!(
            "OVERVIEW: {}\n\nUSAGE: tart {} {}\n",
            self.abstract_, self.command, self.synopsis
        );
        if !self.positionals.is_empty() {
            text.push_str("\nARGUMENTS:\n");
            for p in self.positionals {
                let shown = if p.many {
                    format!("<{}> ...", p.name)
                } else {
                    format!("<{}>", p.name)
                };
                text.push_str(&format!("  {shown}\n"));
            }
        }
        text.push_str("\nOPTIONS:\n");
        for o in self.options {
            let mut shown = match o.short {
                Some(c) => format!("-{c}, "),
                None => String::new(),
            };
            shown.push_str(&synopsis_of(o));
            if shown.len() < HELP_COLUMN {
                text.push_str(&format!("  {shown:<HELP_COLUMN$}{}\n", o.help));
            } else {
                // Too long for the column: ArgumentParser moves the help to the next line.
                text.push_str(&format!("  {shown}\n  {:HELP_COLUMN$}{}\n", "", o.help));
            }
        }
        text.push_str(&format!(
            "  {:<HELP_COLUMN$}Show help information.",
            "-h, --help"
        ));
        output::out_line(&text);
    }
}

/// Width of the option column in `--help` output, as ArgumentParser lays it out.
const HELP_COLUMN: usize = 24;

/// `--format <format>` or `--quiet`.
fn synopsis_of(opt: &Opt) -> String {
    match opt.value {
        Some(v) => format!("--{} {v}", opt.long),
        None => format!("--{}", opt.long),
    }
}
