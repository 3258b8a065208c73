//! The Orchard backend: a cluster of Macs behind an Orchard controller
//! (cirruslabs/orchard), reached over its REST API (see docs/orchard.md).
//!
//! - [`endpoint`]: the controller's URL, credentials and transport;
//! - [`http`]: HTTP/1.1 over std's `TcpStream` (plain-HTTP controllers);
//! - [`curl`]: TLS controllers through `curl`, pinned to the controller's certificate;
//! - [`client`]: the typed calls; [`watch`]: one VM's NDJSON watch on its own thread;
//! - [`model`]: Orchard's JSON and the rows the server shows of it;
//! - [`host`]: [`OrchardHost`], the cluster as a `Backend` (the seam's second
//!   implementation); [`follow`]: a create followed to running; [`cache`]: the last VM
//!   and worker lists, kept by a poller.
//!
//! Threads: the poller ([`cache::spawn_poller`]) and one watch per create being
//! followed ([`watch::spawn_watch`]); the cache's lock is never held across a call.

pub mod cache;
pub mod client;
pub mod curl;
pub mod endpoint;
pub mod error;
pub mod follow;
pub mod host;
pub mod http;
pub mod model;
pub mod watch;

pub use client::OrchardClient;
pub use endpoint::Endpoint;
pub use error::OrchardError;
pub use host::OrchardHost;
