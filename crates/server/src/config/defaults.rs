//! Every default setting, defined once: [`Config`](super::Config) starts
//! from these, and `passcard serve --help` shows them.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

/// `PASSCARD_LISTEN`.
pub const LISTEN: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8080));
/// `PASSCARD_DATA_DIR`.
pub const DATA_DIR: &str = "passcard-data";
/// `PASSCARD_ISSUER`.
pub const ISSUER: &str = "passcard";
/// `PASSCARD_AUDIENCE`.
pub const AUDIENCE: &str = "passcard";
/// `PASSCARD_ACCESS_TTL`.
pub const ACCESS_TTL: Duration = Duration::from_secs(5 * 60);
/// `PASSCARD_REFRESH_TTL`.
pub const REFRESH_TTL: Duration = Duration::from_secs(14 * 86_400);
/// `PASSCARD_REFRESH_REUSE_INTERVAL`.
pub const REFRESH_REUSE_INTERVAL: Duration = Duration::from_secs(10);
/// `PASSCARD_LEEWAY`.
pub const LEEWAY: Duration = Duration::from_secs(30);
/// `PASSCARD_OPEN_REGISTRATION`.
pub const OPEN_REGISTRATION: bool = true;
/// `PASSCARD_LOGIN_MAX_FAILURES`.
pub const LOGIN_MAX_FAILURES: u32 = 10;
/// `PASSCARD_LOGIN_FAILURE_WINDOW`.
pub const LOGIN_FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// `PASSCARD_REGISTRATIONS_PER_ADDRESS`.
pub const REGISTRATIONS_PER_ADDRESS: u32 = 10;
/// `PASSCARD_REGISTRATION_WINDOW`.
pub const REGISTRATION_WINDOW: Duration = Duration::from_secs(3600);
/// `PASSCARD_MAX_LOGINS_PER_USER`.
pub const MAX_LOGINS_PER_USER: u32 = 100;
/// `PASSCARD_LOGIN_WRITES_PER_MINUTE`.
pub const LOGIN_WRITES_PER_MINUTE: u32 = 30;
/// `PASSCARD_REVOCATION_POLL`.
pub const REVOCATION_POLL: Duration = Duration::from_secs(1);
/// `PASSCARD_VERIFY_CACHE`.
pub const VERIFY_CACHE: usize = 4096;
/// The largest `PASSCARD_VERIFY_CACHE`.
pub const MAX_VERIFY_CACHE: usize = 1 << 20;
/// `PASSCARD_SESSION_PREFIX`.
pub const SESSION_PREFIX: &str = "passcard";
/// `PASSCARD_REDIS_CONNECTIONS`.
pub const REDIS_CONNECTIONS: usize = 1;
/// `PASSCARD_SESSION_IDLE`.
pub const SESSION_IDLE: Duration = Duration::from_secs(30 * 60);
/// `PASSCARD_SESSION_TTL`.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// `PASSCARD_SERVICE_CLIENT_ID`.
pub const SERVICE_CLIENT_ID: &str = "passcard-service";
/// `PASSCARD_COOKIE_SECURE`.
pub const COOKIE_SECURE: bool = true;

/// `PASSCARD_HEADER_TIMEOUT`.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// `PASSCARD_BODY_TIMEOUT`.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// `PASSCARD_REQUEST_TIMEOUT`.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// `PASSCARD_VERIFY_REQUIRE_METHOD`.
pub const VERIFY_REQUIRES_METHOD: bool = true;
/// `PASSCARD_SHUTDOWN_TIMEOUT`.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// `PASSCARD_MAX_CONNECTIONS`: 1024, or half the process's open-file limit
/// if that is lower, so connections can never use up the descriptors the
/// store and the logs need.
pub fn max_connections() -> usize {
    let half = open_file_limit().map_or(usize::MAX, |n| n / 2);
    half.clamp(16, 1024)
}

/// The soft limit on open files (Linux: from /proc), if known.
fn open_file_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// `PASSCARD_HASH_CONCURRENCY`: CPU cores - 1, at least 1, so a flood of
/// logins leaves a core for token verification.
pub fn hash_concurrency() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get().saturating_sub(1))
        .unwrap_or(1)
        .max(1)
}

/// `PASSCARD_REGISTRATION_HASH_CONCURRENCY`: half the login budget, at
/// least 1, in a queue of its own.
pub fn registration_hash_concurrency(login: usize) -> usize {
    (login / 2).max(1)
}
