//! passcard: the stateless JWT authentication server and its CLI.
//!
//! The crate is layered, each layer using only those below it:
//!
//! * [`config`]: the checked, typed configuration and its defaults;
//! * [`domain`]: accounts, refresh rotation, sessions and revocation over
//!   the store, with time from a clock and errors of its own;
//! * [`http`]: thin handlers, middleware and serving
//!   ([`http::AppState::build`], [`http::app`], [`http::spawn`]);
//! * the CLI ([`run`]), which parses flags into a configuration and
//!   dispatches.
//!
//! Library items are public for the binary, for embedding a server in a
//! process (as `passcard compare` does) and for the test kit, not as a
//! stable API.

mod cli;
pub mod config;
pub mod domain;
pub mod http;
pub mod human;

pub use cli::run;
