//! Small helpers every layer may use: lock and clock helpers, randomness, socket
//! options, the API token file, the data folder's lock and `server.json`, and the two
//! pieces of HTTP both listeners (web and console) share: request targets and the
//! Host/Origin rules. None of them depends on another layer.

pub mod bounded;
pub mod data_dir;
pub mod fd_limit;
pub mod host;
pub mod net;
pub mod random;
pub mod sync;
pub mod target;
pub mod terminal;
pub mod time;
pub mod token;
