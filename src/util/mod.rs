//! Small helpers every layer may use: lock and clock helpers, randomness, socket
//! options, the API token file, and the data folder's lock and `server.json`. None of them depends on another layer.

pub mod data_dir;
pub mod fd_limit;
pub mod net;
pub mod random;
pub mod sync;
pub mod terminal;
pub mod time;
pub mod token;
