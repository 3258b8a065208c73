//! `set_vm`: one `tart set` with every change of a settings body, on a stopped VM. The
//! web layer checked that the VM is stopped (a `set` on a running VM changes the live
//! disk; on a suspended one a new MAC breaks the restore) and that the disk only grows.
//! `displayRefit` is read from `config.json` and passed again: `set` drops it otherwise.

use std::sync::Arc;

use serde_json::json;

use super::{check, complete, home, step};
use crate::backend::tart::lifecycle::{SetChanges, display_refit, set_args};
use crate::core::Core;
use crate::core::tasks::scheduler::{Keys, QueueFull};
use crate::core::tasks::{Action, Task};
use crate::limits::TART_CHANGE_TIMEOUT;

/// Queues `set_vm` for `name`.
pub fn submit(app: &Arc<Core>, name: String, changes: SetChanges) -> Result<Task, QueueFull> {
    let key = name.clone();
    super::submit(
        app,
        Action::SetVm,
        Some(&key),
        Keys::One(key.clone()),
        move |app, id| set(app, id, &name, changes),
    )
}

fn set(app: &Arc<Core>, id: &str, name: &str, mut changes: SetChanges) {
    changes.display_refit = home(app).and_then(|h| display_refit(&h, name));
    let timeout = TART_CHANGE_TIMEOUT.min(app.config.timeouts.pull);
    let outcome = step(app, id, &set_args(name, &changes), None, timeout, None);
    // Whatever happened, the cached settings are stale (a failed disk step still saved
    // the config first, as tart does).
    app.inventory.invalidate(name);
    let Some(outcome) = outcome else { return };
    app.refresh_quietly(); // the row shows the new values when the task ends
    if check(app, id, "set", &outcome, timeout) {
        let mut changed = Vec::new();
        if let Some(cpu) = changes.cpu {
            changed.push(format!("{cpu} CPUs"));
        }
        if let Some(mib) = changes.memory_mib {
            changed.push(format!("{} GB memory", mib / 1024));
        }
        if let Some(display) = &changes.display {
            changed.push(format!("display {display}"));
        }
        if let Some(gb) = changes.disk_gb {
            changed.push(format!("{gb} GB disk"));
        }
        if changes.random_mac {
            changed.push("a new MAC address".into());
        }
        complete(
            app,
            id,
            json!({
                "message": format!("VM {name} now has {}", changed.join(", ")),
                "name": name,
            }),
        );
    }
}
