//! taartenfabriek ("the cake factory"): a local web app and JSON/WebSocket API that
//! manages Tart virtual machines.
//!
//! Embed it with [`Server::start`]; the binary is a thin user of the same API:
//!
//! ```no_run
//! let mut config = taartenfabriek::Config::from_home_env();
//! config.port = 0; // any free port
//! let server = taartenfabriek::Server::start(config).unwrap();
//! println!("serving {} with token file in {}", server.url(), server.data_dir().display());
//! server.shutdown();
//! ```

#![deny(unsafe_code)]

mod app;
pub mod config;
pub mod demo;
pub mod error;
mod http;
pub mod inventory;
pub mod limits;
mod net;
mod random;
mod server;
mod sync;
pub mod tart;
pub mod tasks;
pub mod token;
pub mod validate;
mod ws;

pub use config::Config;
pub use error::Error;
pub use server::{Server, StartError};
