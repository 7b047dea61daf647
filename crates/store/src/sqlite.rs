//! The SQLite backend: the embedded default.

use std::str::FromStr as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{Connection as _, SqliteConnection, SqlitePool};
use tokio::sync::{MappedMutexGuard, Mutex, MutexGuard};

use crate::{QueryCounter, StoreError};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// A SQLite database file (WAL mode, foreign keys on).
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
    readers: Arc<Readers>,
    queries: QueryCounter,
}

/// Connections kept out of the pool for the reads on every request's path
/// (a session and its user, a user by id or name). sqlx's pool pings a
/// SQLite connection each time it is returned, a round trip to the
/// connection's thread as costly as the query itself (perf: thread
/// hand-offs were the session path's largest cost); a connection lent
/// under a lock is not pinged. In WAL mode they read alongside the pool's
/// writers without blocking them.
#[derive(Debug)]
struct Readers {
    /// `None` once the store is closed.
    conns: Vec<Mutex<Option<SqliteConnection>>>,
    next: AtomicUsize,
}

/// How many [`Readers`]: one per core of a small server.
const READERS: usize = 2;

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` and migrates it.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(crate::ACQUIRE_TIMEOUT)
            // sqlx pings a connection at every check-out by default: for
            // an in-process database that is a round trip to the
            // connection's thread that can never fail, on every query.
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await?;
        MIGRATOR.run(&pool).await?;
        let mut conns = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            conns.push(Mutex::new(Some(
                SqliteConnection::connect_with(&options).await?,
            )));
        }
        Ok(Self {
            pool,
            readers: Arc::new(Readers {
                conns,
                next: AtomicUsize::new(0),
            }),
            queries: QueryCounter::default(),
        })
    }

    /// A reader connection: a free one if there is one, else the next in
    /// turn once it is free.
    async fn reader(&self) -> Result<MappedMutexGuard<'_, SqliteConnection>, StoreError> {
        let conns = &self.readers.conns;
        let start = self.readers.next.fetch_add(1, Ordering::Relaxed);
        let free = (0..conns.len()).find_map(|i| conns[(start + i) % conns.len()].try_lock().ok());
        let guard = match free {
            Some(guard) => guard,
            None => conns[start % conns.len()].lock().await,
        };
        MutexGuard::try_map(guard, Option::as_mut)
            .map_err(|_| StoreError::Database(sqlx::Error::PoolClosed))
    }

    async fn close_impl(&self) {
        for conn in &self.readers.conns {
            let taken = conn.lock().await.take();
            if let Some(conn) = taken {
                let _ = conn.close().await;
            }
        }
        self.pool.close().await;
    }
}

impl SqliteStore {
    /// SQLite has no push channel: servers poll the log.
    #[allow(clippy::unused_async, reason = "same shape as the other backends")]
    async fn listen_impl(&self) -> Result<Option<Box<dyn crate::Listener>>, StoreError> {
        Ok(None)
    }
}

// SQLite serialises writers, so event ids are visible in order already.
crate::sql::impl_store!(SqliteStore, sqlx::Sqlite, "", "");
