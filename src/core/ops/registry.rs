//! `login` and `logout`: `tart login --username <user> --password-stdin -- <host>` with
//! the password written to tart's stdin, and `tart logout -- <host>`.
//!
//! The password lives only in the job's [`Password`] until it is written to the pipe:
//! never in argv (every local user can read a process's argv), the Task, the journal or
//! a log line, and its `Debug` form is a placeholder so no panic message can carry it.

use std::sync::Arc;

use serde_json::json;

use super::{check, complete, step};
use crate::backend::tart::lifecycle::{login_args, logout_args};
use crate::core::Core;
use crate::core::tasks::scheduler::{Keys, QueueFull};
use crate::core::tasks::{Action, Task};
use crate::limits::{TART_CHANGE_TIMEOUT, TART_LOGIN_TIMEOUT};

/// A registry password; shown as `Password(…)` when debug-printed.
pub struct Password(String);

impl Password {
    pub fn new(text: String) -> Password {
        Password(text)
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(…)")
    }
}

/// The tasks of registry actions are keyed by host, so a login and a logout of one
/// registry run in order.
fn key(host: &str) -> String {
    format!("\u{0}registry:{host}")
}

/// Queues `login` to `host`.
pub fn submit_login(
    app: &Arc<Core>,
    host: String,
    username: String,
    password: Password,
    insecure: bool,
) -> Result<Task, QueueFull> {
    super::submit(
        app,
        Action::Login,
        None,
        Keys::One(key(&host)),
        move |app, id| {
            let mut input = password.0.into_bytes();
            input.push(b'\n');
            let timeout = TART_LOGIN_TIMEOUT.min(app.config.timeouts.pull);
            let args = login_args(&host, &username, insecure);
            let outcome = step(app, id, &args, Some(&input), timeout, None);
            input.fill(0);
            let Some(outcome) = outcome else { return };
            if check(app, id, "login", &outcome, timeout) {
                complete(
                    app,
                    id,
                    json!({ "message": format!("Logged in to {host} as {username}"), "host": host }),
                );
            }
        },
    )
}

/// Queues `logout` from `host`.
pub fn submit_logout(app: &Arc<Core>, host: String) -> Result<Task, QueueFull> {
    super::submit(
        app,
        Action::Logout,
        None,
        Keys::One(key(&host)),
        move |app, id| {
            let timeout = TART_CHANGE_TIMEOUT.min(app.config.timeouts.pull);
            let Some(outcome) = step(app, id, &logout_args(&host), None, timeout, None) else {
                return;
            };
            if check(app, id, "logout", &outcome, timeout) {
                complete(
                    app,
                    id,
                    json!({ "message": format!("Logged out of {host}"), "host": host }),
                );
            }
        },
    )
}
