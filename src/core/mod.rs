//! The core: the VM inventory, the tasks and their scheduling, and input validation.
//! It drives VMs through the backend layer and never names tiny_http or tungstenite.

pub mod events;
pub mod inventory;
pub mod tasks;
pub mod validate;
