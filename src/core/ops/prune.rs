//! `prune`: `tart prune` with the body's options, under the whole-home key (it may
//! remove any VM or image, so nothing else runs beside it). What it removed is found by
//! looking at the candidates before and after (tart prints nothing): the result lists
//! those entries and the bytes they took.

use std::sync::Arc;

use serde_json::json;

use super::{check, complete, home, step};
use crate::backend::tart::prune::{self, PruneOptions, candidates, total_bytes};
use crate::core::Core;
use crate::core::tasks::scheduler::{Keys, QueueFull};
use crate::core::tasks::{Action, Task};
use crate::limits::TART_PRUNE_TIMEOUT;

/// Queues `prune` with `options`.
pub fn submit(app: &Arc<Core>, options: PruneOptions) -> Result<Task, QueueFull> {
    super::submit(app, Action::Prune, None, Keys::Home, move |app, id| {
        run(app, id, &options)
    })
}

fn run(app: &Arc<Core>, id: &str, options: &PruneOptions) {
    let home = home(app);
    let before = home
        .as_deref()
        .map(|h| candidates(h, options.entries))
        .unwrap_or_default();
    let timeout = TART_PRUNE_TIMEOUT.min(app.config.timeouts.pull);
    let outcome = step(app, id, &options.args(), None, timeout, None);
    let mut removed: Vec<prune::Entry> = before
        .into_iter()
        .filter(|e| std::fs::symlink_metadata(&e.path).is_err())
        .collect();
    // Listed as the preview lists them: oldest access first.
    removed.sort_by(|a, b| a.accessed.cmp(&b.accessed).then(a.name.cmp(&b.name)));
    for entry in &removed {
        app.inventory.invalidate(&entry.name);
    }
    let Some(outcome) = outcome else { return };
    app.refresh_quietly();
    if check(app, id, "prune", &outcome, timeout) {
        let freed = total_bytes(&removed);
        let entries: Vec<_> = removed.iter().map(prune::Entry::to_json).collect();
        complete(
            app,
            id,
            json!({
                "message": format!("Removed {} entries, {freed} bytes", removed.len()),
                "removed": entries,
                "freed_bytes": freed,
            }),
        );
    }
}
