//! The core: the VM inventory, the tasks and their scheduling, the operations, the
//! background refresher, events and input validation. It drives VMs through the backend
//! layer and never names tiny_http or tungstenite; the web layer above talks to it
//! through [`Core`]. The job bodies still call `backend::tart` helpers directly (see
//! docs/architecture.md, "Debt").

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
pub mod vm;
pub mod vm_actions;

pub use state::Core;
