//! `pull_vm`: bring an image into the host's cache. May take hours: the transfer lane,
//! cancellable. New images are new rows, listed before the task ends.

use serde_json::{Value, json};

use super::Operation;
use crate::backend::host::{Done, OpRequest};
use crate::core::tasks::Action;
use crate::core::tasks::scheduler::Lane;

/// Pulls `reference`.
pub struct Pull {
    pub reference: String,
}

impl Operation for Pull {
    const ACTION: Action = Action::PullVm;

    fn target(&self) -> Option<&str> {
        Some(&self.reference)
    }

    fn lane(&self) -> Lane {
        Lane::Transfer
    }

    fn request(&self) -> OpRequest {
        OpRequest::Pull {
            reference: self.reference.clone(),
        }
    }

    fn result(&self, _done: &Done) -> Value {
        let reference = &self.reference;
        json!({ "message": format!("Pulled {reference}"), "image": reference })
    }
}
