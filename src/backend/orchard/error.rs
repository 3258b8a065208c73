//! `OrchardError`: every way a call to the controller fails, in words a user can act on.

use std::fmt;

/// A failed call to the Orchard controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrchardError {
    /// No connection, a timeout, or a connection that broke: the controller is down or
    /// unreachable from here.
    Unreachable(String),
    /// 401: the service account or token is wrong, or the account lacks a role (then
    /// Orchard names the roles).
    Unauthorized(String),
    /// 404: no such VM or worker.
    NotFound,
    /// Any other refusal, with Orchard's `message` (412 a rule, 409 a duplicate...).
    Rejected { status: u16, message: String },
    /// The answer was not what Orchard sends (bad HTTP, bad JSON, too large).
    Protocol(String),
}

impl fmt::Display for OrchardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OrchardError::Unreachable(why) => {
                write!(f, "cannot reach the Orchard controller: {why}")
            }
            OrchardError::Unauthorized(why) if why.is_empty() => write!(
                f,
                "the Orchard controller refused the service account's credentials (401)"
            ),
            OrchardError::Unauthorized(why) => {
                write!(f, "the Orchard controller refused the request: {why}")
            }
            OrchardError::NotFound => write!(f, "not found on the Orchard controller"),
            OrchardError::Rejected { status, message } => {
                write!(f, "the Orchard controller answered {status}: {message}")
            }
            OrchardError::Protocol(why) => {
                write!(f, "unexpected answer from the Orchard controller: {why}")
            }
        }
    }
}

impl std::error::Error for OrchardError {}

/// Maps a non-200 answer to an error, taking Orchard's `{"message": ...}` when present.
pub fn from_status(status: u16, body: &[u8]) -> OrchardError {
    let message = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.get("message")
                .and_then(|m| m.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| {
            String::from_utf8_lossy(body)
                .trim()
                .chars()
                .take(300)
                .collect()
        });
    match status {
        401 => OrchardError::Unauthorized(message),
        404 => OrchardError::NotFound,
        _ => OrchardError::Rejected {
            status,
            message: if message.is_empty() {
                "(no message)".into()
            } else {
                message
            },
        },
    }
}
