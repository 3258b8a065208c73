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

mod backend;
mod config;
pub mod console;
mod core;
pub mod demo;
pub mod demo_cluster;
pub mod limits;
mod process;
mod server;
pub mod service;
mod util;
mod web;

pub use config::{Config, OrchardConfig, Timeouts};
pub use server::{Server, StartError};
pub use util::token::running_server_url;
