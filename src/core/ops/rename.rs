//! `rename_vm`: `tart rename` of a stopped (or suspended) VM to a free name. tart has no
//! running check, and a running VM's `tart run` keeps its old paths (its control socket
//! and a later suspend would break), so the web layer refuses a running VM; it also
//! checked the new name is free (tart answers exit 64 for every error).
//!
//! It holds both names while it runs, so no other job acts on the old name or makes the
//! new one meanwhile.

use std::sync::Arc;

use serde_json::json;

use super::{check, complete, step};
use crate::backend::tart::lifecycle::rename_args;
use crate::core::Core;
use crate::core::tasks::scheduler::{Keys, QueueFull};
use crate::core::tasks::{Action, Task};
use crate::limits::TART_CHANGE_TIMEOUT;

/// Queues `rename_vm` of `name` to `new_name`.
pub fn submit(app: &Arc<Core>, name: String, new_name: String) -> Result<Task, QueueFull> {
    let key = name.clone();
    // Both names: nothing may act on the old one or make the new one meanwhile.
    let keys = Keys::Two(name.clone(), new_name.clone());
    super::submit(app, Action::RenameVm, Some(&key), keys, move |app, id| {
        rename(app, id, &name, &new_name)
    })
}

fn rename(app: &Arc<Core>, id: &str, name: &str, new_name: &str) {
    let timeout = TART_CHANGE_TIMEOUT.min(app.config.timeouts.pull);
    let outcome = step(app, id, &rename_args(name, new_name), None, timeout, None);
    app.inventory.invalidate(name);
    app.inventory.invalidate(new_name);
    let Some(outcome) = outcome else { return };
    app.refresh_quietly();
    if check(app, id, "rename", &outcome, timeout) {
        complete(
            app,
            id,
            json!({
                "message": format!("VM {name} renamed to {new_name}"),
                "name": new_name,
                "old_name": name,
            }),
        );
    }
}
