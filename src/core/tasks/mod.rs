//! Tasks: the long actions (start, stop, delete, pull) that run in the background while
//! clients poll `/api/tasks/<id>` or follow `/ws/tasks/<id>`.
//!
//! `model` is the Task as the API shows it, `store` keeps tasks and their subscribers,
//! `journal` makes them survive restarts, `scheduler` runs jobs with per-VM ordering, `run_log`
//! follows and caps the `tart run` log, and `actions` are the job bodies that drive `tart` (`start` the one that starts a VM).

pub mod actions;
pub mod graceful_stop;
pub mod journal;
pub mod model;
pub mod queue;
pub mod run_log;
pub mod scheduler;
pub mod start;
pub mod step;
pub mod store;

pub use model::{Action, Task};
pub use store::{Snapshot, TaskStore};
