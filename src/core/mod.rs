//! The core: the VM inventory, the tasks and their scheduling, the operations, the
//! background refresher, events and input validation. It drives VMs only through the
//! backend seam (`backend::host`): the local host, and a cluster with `--orchard`
//! ([`Host`]). It never names tiny_http or tungstenite; the web layer above talks to it
//! through [`Core`].

pub mod catalog;
pub mod events;
pub mod inventory;
pub mod ops;
pub mod refresher;
pub mod state;
pub mod tasks;
pub mod validate;
pub mod vm;
pub mod vm_actions;

pub use state::{Core, Host};
