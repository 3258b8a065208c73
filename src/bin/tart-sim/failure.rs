//! The one error type of the simulator and how it is rendered.
//!
//! tart has three error renderings (contract section 1.5): a bare `RuntimeError` message,
//! an `Error: `-prefixed description, and ArgumentParser's usage errors. Every command
//! returns `Result<(), Failure>`; `main` renders the failure in one place.

use crate::output;

/// Exit code of ArgumentParser usage errors (`EX_USAGE`).
pub const EXIT_USAGE: i32 = 64;

/// The root command's usage block, appended to `ValidationError`s thrown from `run()`.
pub const ROOT_USAGE: &str = "Usage: tart <subcommand>\n  See 'tart --help' for more information.";

/// Why a command did not succeed.
#[derive(Debug)]
pub enum Failure {
    /// A tart `RuntimeError`: the bare message on stderr.
    Runtime { message: String, code: i32 },
    /// Any other error thrown from a command: `Error: <message>` on stderr, exit 1.
    Error(String),
    /// An argument-parser or validation error: `Error:`, optional `Help:`, usage; exit 64.
    Usage {
        message: String,
        help: Option<String>,
        usage: String,
    },
    /// The command already printed what it had to say; just exit with this code.
    Exit(i32),
}

impl Failure {
    /// `the specified VM "<name>" does not exist`, exit 2.
    pub fn vm_does_not_exist(name: &str) -> Self {
        Failure::Runtime {
            message: format!("the specified VM \"{name}\" does not exist"),
            code: 2,
        }
    }

    /// A RuntimeError with exit code 1.
    pub fn runtime(message: impl Into<String>) -> Self {
        Failure::Runtime {
            message: message.into(),
            code: 1,
        }
    }

    /// A `ValidationError` thrown from `run()`: rendered with the root usage, exit 64.
    pub fn root_usage(message: impl Into<String>) -> Self {
        Failure::Usage {
            message: message.into(),
            help: None,
            usage: ROOT_USAGE.to_string(),
        }
    }

    /// Wraps an I/O error the way Foundation errors surface: `Error: <description>`.
    pub fn io(context: &str, error: std::io::Error) -> Self {
        Failure::Error(format!("{context}: {error}"))
    }

    /// Writes the failure to stderr and returns the exit code.
    pub fn report(&self) -> i32 {
        match self {
            Failure::Runtime { message, code } => {
                output::err_line(message);
                *code
            }
            Failure::Error(message) => {
                output::err_line(&format!("Error: {message}"));
                1
            }
            Failure::Usage {
                message,
                help,
                usage,
            } => {
                let mut text = format!("Error: {message}\n");
                if let Some(help) = help {
                    text.push_str(&format!("Help:  {help}\n"));
                }
                text.push_str(usage);
                output::err_line(&text);
                EXIT_USAGE
            }
            Failure::Exit(code) => *code,
        }
    }
}
