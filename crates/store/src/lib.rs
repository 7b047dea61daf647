//! passcard-store: durable state behind one trait.
//!
//! [`Store`] is what the server needs: users, refresh-token families, the
//! revocation event log, and shared server secrets. Backends implement it;
//! nothing outside a backend module knows which one is in use. [`open`]
//! picks the backend from the URL scheme.
//!
//! Every query a backend runs increments [`Store::queries`], so tests and
//! metrics can prove that a code path touches no store at all.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;

mod sql;

#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "sqlite")]
mod sqlite;

#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;
#[cfg(feature = "redis")]
pub use redis::RedisSessions;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

/// How long a query waits for a pooled connection before it fails: with
/// the database gone, requests fail in seconds instead of sqlx's 30.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
const ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// How long one store call (its queries and their retry, a Redis command
/// and its reconnections) may take: a store that does not answer within it
/// (a server that hangs or is paused keeps its connections open, and
/// nothing else ends the wait) fails the call as unavailable
/// ([`StoreError::TimedOut`]).
pub const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// A user account.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct User {
    /// Integer id; the `sub` of the user's tokens.
    pub id: i64,
    /// Unique, lowercase username.
    pub username: String,
    /// PHC string of the argon2id password hash.
    pub password_hash: String,
    /// Role: `user` or `admin` (a string, so more can come).
    pub role: String,
    /// A banned user can neither log in nor refresh.
    pub disabled: bool,
    /// Bumped by every revocation of all the user's tokens; access tokens
    /// carry it as `ver`.
    pub token_version: i64,
}

/// A refresh token as stored: its SHA-256 hash, never the token.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RefreshRecord {
    /// SHA-256 of the token.
    pub hash: [u8; 32],
    /// The family (one login) it belongs to.
    pub family_id: i64,
    /// The user.
    pub user_id: i64,
    /// Unix seconds after which it is refused.
    pub expires_at: i64,
    /// When it was rotated, if it was.
    pub used_at: Option<i64>,
    /// Whether its family was revoked.
    pub family_revoked: bool,
}

/// A refresh token to store.
#[derive(Clone, Debug)]
pub struct NewRefresh {
    /// SHA-256 of the token.
    pub hash: [u8; 32],
    /// Its family.
    pub family_id: i64,
    /// The user.
    pub user_id: i64,
    /// Unix seconds after which it is refused.
    pub expires_at: i64,
}

/// What happened when a refresh token was presented for rotation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rotation {
    /// The token was unused; it is now used and its successor is stored.
    Rotated,
    /// The token had already been rotated, at this time (its family is
    /// live and it has not expired).
    AlreadyUsed {
        /// Unix seconds.
        used_at: i64,
    },
    /// The token is gone, expired, or its family was revoked.
    Refused,
}

/// What a revocation event revokes. Exhaustive on purpose: a server must
/// handle every kind, so a new kind is a breaking change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Revocation {
    /// One access token, by `jti`, until its `exp`.
    Jti {
        /// The token id.
        jti: String,
        /// The token's `exp`; the entry is useless after it.
        expires_at: i64,
    },
    /// Every access token of the user with `ver` below `version`.
    Version {
        /// The user's new token version.
        version: i64,
    },
    /// Every access token of one login: the refresh family in their `sid`
    /// (a logout, or a detected refresh-token theft).
    Family {
        /// The refresh family.
        family_id: i64,
    },
}

/// One entry of the revocation event log.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RevocationEvent {
    /// Monotonically increasing id.
    pub id: i64,
    /// The user concerned.
    pub user_id: i64,
    /// What is revoked.
    pub revocation: Revocation,
    /// Unix seconds.
    pub created_at: i64,
}

impl RevocationEvent {
    /// An event as a backend reads it from the log.
    pub fn new(id: i64, user_id: i64, revocation: Revocation, created_at: i64) -> Self {
        Self {
            id,
            user_id,
            revocation,
            created_at,
        }
    }
}

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A unique value (a username) is taken.
    #[error("already exists")]
    Conflict,
    /// The URL names no supported backend.
    #[error("unsupported database URL scheme \"{0}\" (supported: sqlite:, postgres:)")]
    UnsupportedUrl(String),
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A COMMIT failed: the transaction may or may not have taken effect.
    #[error("database error at commit: {0}")]
    Commit(#[source] sqlx::Error),
    /// Migrations failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The Redis session store failed.
    #[error("redis error: {0}")]
    Redis(String),
    /// The Redis session store cannot be reached (refused, dropped, timed
    /// out).
    #[error("redis unreachable: {0}")]
    RedisUnreachable(String),
    /// The database's files could not be made readable by their owner only.
    #[error("cannot make the database files private: {0}")]
    Permissions(#[source] std::io::Error),
    /// The store did not answer within [`CALL_TIMEOUT`] (a server that
    /// hangs, is paused or is cut off without a reset): a write may or may
    /// not have taken effect.
    #[error("the store did not answer within {0:?}")]
    TimedOut(std::time::Duration),
}

impl StoreError {
    /// Whether the store could not be reached or is not serving for now
    /// (as opposed to a query that failed): servers answer 503, and the
    /// caller may retry. That is a connection refused, dropped or timed
    /// out, a call that got no answer within [`CALL_TIMEOUT`], a pool that
    /// gave up waiting or was closed, and PostgreSQL's
    /// connection errors (SQLSTATE class 08, but for 08P01, a protocol
    /// violation) and shutdown notices (57P01 to 57P03, sent to every
    /// connection when the server stops).
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Database(
                sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_),
            )
            | Self::Commit(
                sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_),
            )
            | Self::RedisUnreachable(_)
            | Self::TimedOut(_) => true,
            Self::Database(sqlx::Error::Database(e)) | Self::Commit(sqlx::Error::Database(e)) => {
                e.code().is_some_and(|c| {
                    (c.starts_with("08") && c != "08P01")
                        || matches!(&*c, "57P01" | "57P02" | "57P03")
                })
            }
            _ => false,
        }
    }
}

/// The storage interface of passcard.
///
/// Methods that revoke write the durable change and its revocation event in
/// one transaction, so the log never misses a change.
#[async_trait]
pub trait Store: SessionStore {
    /// Creates a user; [`StoreError::Conflict`] when the name is taken.
    async fn create_user(
        &self,
        username: &str,
        password_hash: &str,
        role: &str,
        now: i64,
    ) -> Result<User, StoreError>;

    /// The user with this (lowercase) name.
    async fn user_by_name(&self, username: &str) -> Result<Option<User>, StoreError>;

    /// The user with this id.
    async fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError>;

    /// Users in id order, after the id `after` (0: from the start), whose
    /// name contains `search` (ASCII case-insensitive; `None` or empty:
    /// all), at most `limit` of them.
    async fn list_users(
        &self,
        search: Option<&str>,
        after: i64,
        limit: u32,
    ) -> Result<Vec<User>, StoreError>;

    /// Sets the role and bumps the token version (logging the bump), so
    /// tokens with the old role stop working at once.
    async fn set_role(&self, id: i64, role: &str, now: i64) -> Result<Option<User>, StoreError>;

    /// Bumps the token version (logged) and revokes every refresh family of
    /// the user: "log out everywhere". With `disable`, also bans the user.
    async fn revoke_user(
        &self,
        id: i64,
        disable: bool,
        now: i64,
    ) -> Result<Option<User>, StoreError>;

    /// Puts one access token on the denylist (logged) and, when given,
    /// revokes its refresh family: its refresh tokens, and (logged) every
    /// access token minted in it.
    async fn revoke_token(
        &self,
        user_id: i64,
        jti: &str,
        expires_at: i64,
        family_id: Option<i64>,
        now: i64,
    ) -> Result<(), StoreError>;

    /// Starts a refresh family for a login and stores its first token.
    async fn start_family(
        &self,
        first: &NewRefreshFor,
        now: i64,
    ) -> Result<FamilyStarted, StoreError>;

    /// The stored refresh token with this hash.
    async fn refresh_token(&self, hash: &[u8; 32]) -> Result<Option<RefreshRecord>, StoreError>;

    /// Marks `old` used and stores `successor`, atomically; if `old` was
    /// already used, changes nothing and says when.
    async fn rotate_refresh(
        &self,
        old: &[u8; 32],
        successor: &NewRefresh,
        now: i64,
    ) -> Result<Rotation, StoreError>;

    /// Revokes a refresh family: its refresh tokens, and (logged) every
    /// access token minted in it. Revoking it again changes nothing.
    async fn revoke_family(&self, family_id: i64, now: i64) -> Result<(), StoreError>;

    /// Revocation events with id above `after`, oldest first, at most
    /// `limit`.
    async fn events_after(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<RevocationEvent>, StoreError>;

    /// Deletes what can no longer matter: `jti` events whose token expired
    /// before `jti_before` (pass now minus the leeway), version and family
    /// events created before `versions_before`, refresh tokens expired at
    /// `now`.
    /// Returns how many rows went.
    async fn prune(
        &self,
        now: i64,
        jti_before: i64,
        versions_before: i64,
    ) -> Result<u64, StoreError>;

    /// A push channel that signals appends to the revocation log, where
    /// the backend has one (PostgreSQL LISTEN/NOTIFY); `None` means poll.
    async fn listen(&self) -> Result<Option<Box<dyn Listener>>, StoreError>;

    /// The shared secret `name`, created from `fresh` by the first caller.
    async fn secret(&self, name: &str, fresh: &[u8]) -> Result<Vec<u8>, StoreError>;

    /// How many queries this store has run.
    fn queries(&self) -> u64;

    /// Closes the store's connections: calls in flight finish, later calls
    /// fail. Servers call it when they shut down.
    async fn close(&self);
}

/// A session to store.
#[derive(Clone, Debug)]
pub struct NewSession {
    /// SHA-256 of the session id.
    pub hash: [u8; 32],
    /// The user.
    pub user_id: i64,
    /// When it ends if unused (Unix seconds).
    pub idle_expires_at: i64,
    /// When it ends regardless (Unix seconds).
    pub expires_at: i64,
    /// The most live sessions the user may hold, this one included: the
    /// oldest beyond it are deleted.
    pub max_per_user: u32,
}

/// A stored session.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionRecord {
    /// When it was created.
    pub created_at: i64,
    /// When it ends if unused.
    pub idle_expires_at: i64,
    /// When it ends regardless.
    pub expires_at: i64,
}

/// Where sessions live: the main database (every [`Store`] is one) or
/// Redis ([`RedisSessions`], feature `redis`).
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Stores a new session (its id's hash) for a user, and deletes the
    /// user's oldest live sessions beyond
    /// [`max_per_user`](NewSession::max_per_user); answers how many it
    /// deleted.
    async fn create_session(&self, session: &NewSession, now: i64) -> Result<u64, StoreError>;

    /// The live session with this hash and its user, read together (so a
    /// role change or a ban applies at the next request). Slides the idle
    /// expiry to `idle_until` (capped by the absolute expiry) when less than
    /// half of the idle time is left, so most lookups write nothing.
    async fn session(
        &self,
        hash: &[u8; 32],
        now: i64,
        idle_until: i64,
    ) -> Result<Option<(User, SessionRecord)>, StoreError>;

    /// Deletes a session.
    async fn delete_session(&self, hash: &[u8; 32]) -> Result<(), StoreError>;

    /// Deletes every session of a user.
    async fn delete_user_sessions(&self, user_id: i64) -> Result<u64, StoreError>;

    /// Queries this session store ran that the main store's
    /// [`Store::queries`] does not count: none for sessions in the main
    /// database, the Redis commands for Redis.
    fn own_queries(&self) -> u64 {
        0
    }

    /// Checks that a session store of its own answers (Redis: a `PING`,
    /// not counted as a query). Sessions in the main database answer `Ok`
    /// here without a query: the main store is checked by its own reads.
    async fn check(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// The session store a URL names: `None` for the main database, or
/// `redis://…` with keys under `prefix` over `connections` multiplexed
/// connections (users are still read from `store`).
pub async fn open_sessions(
    url: Option<&str>,
    prefix: &str,
    connections: usize,
    store: Arc<dyn Store>,
) -> Result<Arc<dyn SessionStore>, StoreError> {
    match url {
        None => Ok(store),
        #[cfg(feature = "redis")]
        Some(url) if url.starts_with("redis://") || url.starts_with("rediss://") => Ok(Arc::new(
            RedisSessions::open(url, store, prefix, connections).await?,
        )),
        Some(other) => Err(StoreError::UnsupportedUrl(
            other.split(':').next().unwrap_or_default().to_owned(),
        )),
    }
}

/// What a push channel reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Push {
    /// The revocation log grew.
    Changed,
    /// The channel's connection dropped and was re-established: signals may
    /// have been missed, so read the log.
    Reconnected,
}

/// A subscription to revocation-log appends.
#[async_trait]
pub trait Listener: Send {
    /// Waits for the next signal. An error means the channel is down for
    /// now; subscribe again later and read the log.
    async fn next(&mut self) -> Result<Push, StoreError>;
}

/// The first refresh token of a new family.
#[derive(Clone, Debug)]
pub struct NewRefreshFor {
    /// SHA-256 of the token.
    pub hash: [u8; 32],
    /// The user.
    pub user_id: i64,
    /// Unix seconds after which it is refused.
    pub expires_at: i64,
    /// The most live families (logins) the user may hold, this one
    /// included: the oldest beyond it are revoked.
    pub max_per_user: u32,
}

/// A family just started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FamilyStarted {
    /// Its id.
    pub id: i64,
    /// How many of the user's older families it ended (revoked, logged as
    /// revocations) to stay within [`NewRefreshFor::max_per_user`].
    pub ended: u64,
}

tokio::task_local! {
    /// The queries run by the task inside [`counting_queries`].
    static TASK_QUERIES: AtomicU64;
}

/// Runs `work` and counts the store queries it runs itself (not those of
/// other tasks, whatever runs at the same time): what one request cost.
pub async fn counting_queries<F: std::future::Future>(work: F) -> (F::Output, u64) {
    let counter = AtomicU64::new(0);
    TASK_QUERIES
        .scope(counter, async {
            let out = work.await;
            (out, TASK_QUERIES.with(|c| c.load(Ordering::Relaxed)))
        })
        .await
}

/// Counts queries, for [`Store::queries`].
#[derive(Clone, Debug, Default)]
pub(crate) struct QueryCounter(Arc<AtomicU64>);

impl QueryCounter {
    /// A fresh counter.
    #[allow(dead_code, reason = "used by optional backends")]
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
        let _ = TASK_QUERIES.try_with(|c| c.fetch_add(n, Ordering::Relaxed));
    }

    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Opens the store a URL names (`sqlite://path/to/file.db` or
/// `postgres://user@host/db`), creating a SQLite file if needed and applying
/// migrations.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    let scheme = url.split(':').next().unwrap_or_default();
    match scheme {
        #[cfg(feature = "sqlite")]
        "sqlite" => Ok(Arc::new(SqliteStore::open(url).await?)),
        #[cfg(feature = "postgres")]
        "postgres" | "postgresql" => Ok(Arc::new(PostgresStore::open(url).await?)),
        other => Err(StoreError::UnsupportedUrl(other.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::StoreError;

    /// A database error with only a SQLSTATE, as PostgreSQL sends.
    #[derive(Debug, thiserror::Error)]
    #[error("SQLSTATE {0}")]
    struct Sqlstate(&'static str);

    impl sqlx::error::DatabaseError for Sqlstate {
        fn message(&self) -> &str {
            self.0
        }
        fn code(&self) -> Option<Cow<'_, str>> {
            Some(Cow::Borrowed(self.0))
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> sqlx::error::ErrorKind {
            sqlx::error::ErrorKind::Other
        }
    }

    fn unavailable(code: &'static str) -> bool {
        StoreError::Database(sqlx::Error::Database(Box::new(Sqlstate(code)))).is_unavailable()
    }

    #[test]
    fn postgres_shutdown_and_connection_errors_are_unavailable_and_others_not() {
        for code in ["57P01", "57P02", "57P03", "08006", "08001"] {
            assert!(unavailable(code), "{code}");
        }
        for code in ["08P01", "23505", "40001", "42P01"] {
            assert!(!unavailable(code), "{code}");
        }
        assert!(StoreError::Database(sqlx::Error::PoolTimedOut).is_unavailable());
        assert!(StoreError::TimedOut(super::CALL_TIMEOUT).is_unavailable());
        assert!(!StoreError::Database(sqlx::Error::RowNotFound).is_unavailable());
        assert!(!StoreError::Conflict.is_unavailable());
    }
}
