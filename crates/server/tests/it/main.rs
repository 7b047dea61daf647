//! passcard (server crate) integration tests: one binary, one module per area.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::type_complexity,
    reason = "test code: a failed unwrap is a failed test"
)]
#![allow(
    clippy::disallowed_methods,
    reason = "tests measure real elapsed time where another process or task acts"
)]

/// The web page in a real browser (headless Chromium over WebDriver).
mod browser;
/// The `passcard` CLI, run as a process: keygen, token, user, serve, compare.
mod cli;
/// Instances sharing PostgreSQL: revocations pushed to every one.
mod cluster;
/// The HTTP contract suite, on every configuration of the matrix.
mod contract;
/// The HTTP edge over real connections: slow clients, idle connections,
/// the connection cap.
mod edge;
/// Stores the test owns, stopped, restarted, paused and cut under traffic.
mod faults;
/// For other services: a resource server built with passcard-axum, over
/// real connections.
mod feed;
/// The OAuth endpoints driven by other people's clients: authlib, PyJWT,
/// node jose, and passcard-axum's discovery.
mod interop;
/// Real nginx with auth_request in front of a backend.
mod nginx;
/// `passcard serve` as a process: logs, files, signals.
mod process;
/// Key rotation under traffic.
mod rotation;
/// Schemathesis against the OpenAPI document the server serves.
mod schema;
/// Starting and serving: keys, restarts, a real port, CLI changes
/// reaching a running server.
mod serve;
/// Mixed traffic for minutes on SQLite and on two PostgreSQL instances:
/// invariants on every answer, memory and descriptors flat.
mod soak;
/// One refresh token presented 100 times at once.
mod storm;
