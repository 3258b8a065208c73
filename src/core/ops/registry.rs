//! `login` and `logout` of an image registry. The password lives only in the
//! operation's [`Password`] until the backend hands it to the host: never in argv, the
//! task, the journal or a log line.
//!
//! Both are keyed by registry host, so a login and a logout of one registry run in
//! order.

use serde_json::{Value, json};

use super::Operation;
use crate::backend::host::{Done, OpRequest, Password};
use crate::core::Core;
use crate::core::tasks::Action;
use crate::core::tasks::scheduler::Keys;

/// The key of a registry's tasks: a name no VM can have (it starts with NUL).
fn key(host: &str) -> Keys {
    Keys::One(format!("\u{0}registry:{host}"))
}

/// Logs in to `host`.
pub struct Login {
    pub host: String,
    pub username: String,
    pub password: Password,
    pub insecure: bool,
}

impl Operation for Login {
    const ACTION: Action = Action::Login;

    fn target(&self) -> Option<&str> {
        None
    }

    fn keys(&self) -> Keys {
        key(&self.host)
    }

    fn request(&self) -> OpRequest {
        OpRequest::Login {
            host: self.host.clone(),
            username: self.username.clone(),
            password: self.password.clone(),
            insecure: self.insecure,
        }
    }

    /// A login changes no VM.
    fn effect(&self, _core: &Core, _done: &Done) {}

    fn result(&self, _done: &Done) -> Value {
        json!({
            "message": format!("Logged in to {} as {}", self.host, self.username),
            "host": self.host,
        })
    }
}

/// Logs out of `host`.
pub struct Logout {
    pub host: String,
}

impl Operation for Logout {
    const ACTION: Action = Action::Logout;

    fn target(&self) -> Option<&str> {
        None
    }

    fn keys(&self) -> Keys {
        key(&self.host)
    }

    fn request(&self) -> OpRequest {
        OpRequest::Logout {
            host: self.host.clone(),
        }
    }

    fn effect(&self, _core: &Core, _done: &Done) {}

    fn result(&self, _done: &Done) -> Value {
        json!({ "message": format!("Logged out of {}", self.host), "host": self.host })
    }
}
