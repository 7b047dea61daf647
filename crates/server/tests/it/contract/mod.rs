//! The HTTP contract suite: what a client of passcard relies on, run
//! through the router (no socket) on every configuration of the matrix:
//! SQLite and PostgreSQL, tokens and sessions, sessions in Redis. Each
//! area lists its tests for every mode, for token mode only (refresh
//! tokens, forged JWTs) and for session mode only (the cookie).

use passcard_testkit::{Kind, Setup};

/// Accounts: registration, login, the failed-login limit, bad requests.
mod accounts;
/// Authenticated requests: /v1/me, RFC 6750 answers, forged and expired
/// tokens, the verify cache, /v1/verify.
mod authenticated;
/// Tokens in cookies: the login, every endpoint by cookie, the CSRF rule,
/// refresh and logout by cookie; the admin's user list.
mod cookies;
/// The edge: response headers, and problem+json for every refusal.
mod edge;
/// The revocation feed (JSON pages and the event stream).
mod feed;
/// The core's hostile-token table over HTTP: the server and the core agree.
mod hostile;
/// JWKS, health, metrics, OpenAPI, keys.
mod meta;
/// The OAuth endpoints: metadata, token, introspection, revocation.
mod oauth;
/// A store outage and a stale revocation view.
mod outage;
/// Refresh-token rotation, reuse and theft.
mod refresh;
/// Logout, logout everywhere, role changes, bans.
mod revocation;
/// The session cookie and its CSRF rule.
mod sessions;
/// The web page and its assets.
mod web;

pub(crate) use feed::FEED_TOKEN;
pub(crate) use meta::key_file;

/// Runs `test` on `kind` unless this run lacks a service it needs (then
/// the skip is said loudly).
pub(crate) async fn run<F, Fut>(kind: Kind, test: F)
where
    F: FnOnce(Setup) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    if kind.available() {
        test(Setup::new(kind)).await;
    }
}

/// Instantiates an area's tests on the configurations they apply to:
/// `every` on all five, `tokens` on the two token configurations,
/// `sessions` on the three session ones.
macro_rules! contract {
    (every: [$($e:ident),* $(,)?], tokens: [$($t:ident),* $(,)?], sessions: [$($s:ident),* $(,)?] $(,)?) => {
        mod sqlite_token {
            $( #[tokio::test] async fn $e() { crate::contract::run(passcard_testkit::Kind::SqliteToken, super::$e).await } )*
            $( #[tokio::test] async fn $t() { crate::contract::run(passcard_testkit::Kind::SqliteToken, super::$t).await } )*
        }
        mod postgres_token {
            $( #[tokio::test] async fn $e() { crate::contract::run(passcard_testkit::Kind::PostgresToken, super::$e).await } )*
            $( #[tokio::test] async fn $t() { crate::contract::run(passcard_testkit::Kind::PostgresToken, super::$t).await } )*
        }
        mod sqlite_session {
            $( #[tokio::test] async fn $e() { crate::contract::run(passcard_testkit::Kind::SqliteSession, super::$e).await } )*
            $( #[tokio::test] async fn $s() { crate::contract::run(passcard_testkit::Kind::SqliteSession, super::$s).await } )*
        }
        mod postgres_session {
            $( #[tokio::test] async fn $e() { crate::contract::run(passcard_testkit::Kind::PostgresSession, super::$e).await } )*
            $( #[tokio::test] async fn $s() { crate::contract::run(passcard_testkit::Kind::PostgresSession, super::$s).await } )*
        }
        mod redis_session {
            $( #[tokio::test] async fn $e() { crate::contract::run(passcard_testkit::Kind::RedisSession, super::$e).await } )*
            $( #[tokio::test] async fn $s() { crate::contract::run(passcard_testkit::Kind::RedisSession, super::$s).await } )*
        }
    };
}
pub(crate) use contract;
