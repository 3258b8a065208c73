//! Events: the one ordered stream of VM and task changes that `/ws/events` and
//! `/api/events` serve (`api-next.md` §5). `hub` numbers, buffers and fans them out; it
//! knows nothing of HTTP or WebSockets.

pub mod hub;

pub use hub::{Backlog, Event, EventHub};
