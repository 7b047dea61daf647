//! The SQLite backend: the embedded default.

use std::str::FromStr as _;
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};

use crate::{QueryCounter, StoreError};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// A SQLite database file (WAL mode, foreign keys on).
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
    queries: QueryCounter,
}

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
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(Self {
            pool,
            queries: QueryCounter::default(),
        })
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
