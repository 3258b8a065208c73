//! Small helpers every layer may use: lock and clock helpers, randomness, socket
//! options, and the API token file. None of them depends on another layer.

pub mod net;
pub mod random;
pub mod sync;
pub mod token;
