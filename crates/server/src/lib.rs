//! passcard: the stateless JWT authentication server and its CLI.
//!
//! [`app::spawn`] starts the server from a [`config::Config`];
//! [`app::app`] gives the router for a state. Library items are public for
//! the binary and the integration tests, not as a stable API.

pub mod app;
pub mod auth;
pub mod cli;
mod commands;
pub mod config;
pub mod error;
mod extract;
pub mod human;
pub mod keyconf;
pub mod limiter;
pub mod metrics;
pub mod password;
pub mod revocation;
mod routes;
pub mod session;
pub mod state;
pub mod tokens;
pub mod verify_cache;
