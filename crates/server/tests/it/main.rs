//! passcard (server crate) integration tests: one binary, one module per area.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::type_complexity,
    reason = "test code: a failed unwrap is a failed test"
)]

/// The `passcard` CLI, run as a process: keygen, token issue/inspect/verify.
mod cli;
/// Three instances sharing PostgreSQL (when PASSCARD_TEST_DATABASE_URL is set).
mod cluster;
/// For other services: /v1/verify and the revocation feed.
mod feed;
/// Real nginx with auth_request in front of a backend (when installed).
mod nginx;
/// Key rotation under traffic.
mod rotation;
/// The HTTP server on a random port against a temporary SQLite store.
mod server;
/// Session mode (PASSCARD_MODE=session).
mod session;
/// Shared set-up: a server per test, an HTTP client, temporary folders.
mod support;
