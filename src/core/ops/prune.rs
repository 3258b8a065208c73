//! `prune`: remove old or excess cached images or VMs, under the whole-home key (it may
//! remove any VM or image, so nothing else runs beside it). Its result lists what it
//! removed and the bytes those took. Cancellable.

use serde_json::{Value, json};

use super::Operation;
use crate::backend::host::{Done, OpRequest, PruneOptions, total_bytes};
use crate::core::Core;
use crate::core::tasks::Action;
use crate::core::tasks::scheduler::Keys;

/// Prunes with `options`.
pub struct Prune {
    pub options: PruneOptions,
}

impl Operation for Prune {
    const ACTION: Action = Action::Prune;

    fn target(&self) -> Option<&str> {
        None
    }

    fn keys(&self) -> Keys {
        Keys::Home
    }

    fn request(&self) -> OpRequest {
        OpRequest::Prune {
            options: self.options,
        }
    }

    fn effect(&self, core: &Core, done: &Done) {
        if let Done::Pruned(removed) = done {
            for entry in removed {
                core.inventory.invalidate(&entry.name);
            }
        }
        core.refresh_quietly();
    }

    fn result(&self, done: &Done) -> Value {
        let removed = match done {
            Done::Pruned(removed) => removed.as_slice(),
            _ => &[],
        };
        let freed = total_bytes(removed);
        let entries: Vec<Value> = removed.iter().map(|e| e.to_json()).collect();
        json!({
            "message": format!("Removed {} entries, {freed} bytes", removed.len()),
            "removed": entries,
            "freed_bytes": freed,
        })
    }

    fn failure_changes_host(&self) -> bool {
        true
    }
}
