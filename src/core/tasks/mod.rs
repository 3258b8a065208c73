//! Tasks: the long actions (start, stop, delete, pull) that run in the background while
//! clients poll `/api/tasks/<id>` or follow `/ws/tasks/<id>`.
//!
//! `model` is the Task as the API shows it, `store` keeps tasks and their subscribers,
//! `journal` makes them survive restarts, `scheduler` runs jobs on lanes under name
//! locks, `queue` turns a job into a task on the scheduler, and `sink` is where a
//! backend reports a running operation's progress into its task. What the jobs *do* is
//! in `core::ops`.

pub mod journal;
pub mod model;
pub mod queue;
pub mod scheduler;
pub mod sink;
pub mod snapshot;
pub mod store;

pub use model::{Action, Task};
pub use snapshot::Snapshot;
pub use store::TaskStore;
