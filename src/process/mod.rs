//! Process supervision: running a command-line program as a bounded, supervised child
//! (see [`supervisor`]). Knows nothing of tart, tasks or HTTP.

pub mod output;
pub mod supervisor;
