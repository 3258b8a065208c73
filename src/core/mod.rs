//! The core: the VM inventory, the tasks and their scheduling, the background refresher
//! and input validation. It drives VMs through the backend layer and never names
//! tiny_http, tungstenite or a `tart` argv; the web layer above talks to it through
//! [`Core`].

pub mod catalog;
pub mod cluster;
pub mod cluster_tasks;
pub mod events;
pub mod inventory;
pub mod ops;
pub mod refresher;
pub mod state;
pub mod tasks;
pub mod validate;
pub mod vm_actions;

pub use state::Core;
