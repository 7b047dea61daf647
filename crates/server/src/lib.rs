//! passcard: the stateless JWT authentication server and its CLI.
//!
//! This crate wires [`passcard_jwt`] into a command-line tool; the HTTP
//! server joins it in a later milestone. Library items are public for the
//! binary and the integration tests, not as a stable API.

pub mod cli;
mod commands;
pub mod human;
pub mod keyconf;
