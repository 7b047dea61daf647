//! # passcard-testkit
//!
//! What passcard's tests share, so no test crate copies another's:
//!
//! * [`ManualClock`]: time that moves only when a test says so, so expiry,
//!   reuse windows and rate-limit windows are tested without sleeping.
//! * [`mod@env`]: the services a run may use (PostgreSQL, Redis, nginx), read
//!   from the environment, with a loud message when a test skips.
//! * [`TempSchema`], [`TempPrefix`], [`TempDir`]: a PostgreSQL schema, a
//!   Redis key prefix and a folder of a test's own, gone afterwards.
//! * [`Setup`] and [`TestApp`]: a passcard server on one
//!   [configuration](Setup) of the matrix (SQLite or PostgreSQL, tokens or
//!   sessions, sessions in Redis), driven through its router without a
//!   socket; [`TestServer`] is the same on a real loopback port.
//! * [`TcpProxy`] and [`RedisServer`]: a forwarder whose target moves, and
//!   a Redis of the test's own, for failovers; [`PgServer`], a PostgreSQL
//!   of the test's own. Both can be stopped, restarted and paused.
//! * [`Browser`]: a real, headless Chromium driven over WebDriver, with
//!   screenshots.
//! * Every answer through the router is held against docs/openapi.json:
//!   a status it does not list for the operation fails the test.
//! * [`poll_until`]: the one way to wait for something that happens
//!   elsewhere (another instance, a background task).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::missing_panics_doc,
    reason = "test scaffolding: a failure is a failed test"
)]

mod app;
mod browser;
mod call;
mod clock;
pub mod env;
mod net;
mod pg;
mod poll;
mod spec;
mod store;

pub use app::{Kind, PASSWORD, Setup, TestApp, TestServer};
pub use browser::{Browser, Page, screenshots};
pub use call::{Answer, Call, Cred, Login};
pub use clock::ManualClock;
pub use net::{RedisServer, TcpProxy};
pub use pg::PgServer;
pub use poll::poll_until;
pub use store::{TempDir, TempPrefix, TempSchema};
