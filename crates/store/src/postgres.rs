//! The PostgreSQL backend: for several server instances sharing one store.

use std::str::FromStr as _;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};

use crate::{QueryCounter, StoreError};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// A PostgreSQL database.
#[derive(Clone, Debug)]
pub struct PostgresStore {
    pool: PgPool,
    queries: QueryCounter,
}

/// A pooled connection idle this long is pinged before it is used.
const IDLE_PING: std::time::Duration = std::time::Duration::from_secs(5);

impl PostgresStore {
    /// Connects to `url` and migrates the database (migrations take an
    /// advisory lock, so instances starting together do not race).
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        Self::open_with(PgConnectOptions::from_str(url)?).await
    }

    /// Connects with explicit options (tests use them to pick a schema).
    pub async fn open_with(options: PgConnectOptions) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(crate::ACQUIRE_TIMEOUT)
            // sqlx pings a connection at every check-out by default: a
            // round trip the request waits for (it pings again when the
            // connection comes back, but off the request's path). Only a
            // connection idle for a while is pinged now, which is where a
            // restarted server or an idle timeout leaves dead ones.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= IDLE_PING {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            })
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(Self {
            pool,
            queries: QueryCounter::default(),
        })
    }
}

// Identity values are taken at insert time but become visible at commit;
// appends to the revocation log take a transaction-scoped advisory lock, so
// a follower reading "id > last seen" never skips an event that commits
// late.
crate::sql::impl_store!(
    PostgresStore,
    sqlx::Postgres,
    "SELECT pg_advisory_xact_lock(7215090611)",
    "SELECT pg_notify('passcard_revocations', '')"
);

/// The channel revocation-log appends are announced on.
const CHANNEL: &str = "passcard_revocations";

impl PostgresStore {
    /// A pooled connection for a read.
    async fn reader(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Postgres>, StoreError> {
        Ok(self.pool.acquire().await?)
    }

    async fn close_impl(&self) {
        self.pool.close().await;
    }

    async fn listen_impl(&self) -> Result<Option<Box<dyn crate::Listener>>, StoreError> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(CHANNEL).await?;
        Ok(Some(Box::new(PgPush { listener })))
    }
}

/// LISTEN on the revocation channel.
struct PgPush {
    listener: PgListener,
}

#[async_trait::async_trait]
impl crate::Listener for PgPush {
    async fn next(&mut self) -> Result<crate::Push, StoreError> {
        // `try_recv` answers None when the connection dropped; the next call
        // reconnects and listens again.
        Ok(match self.listener.try_recv().await? {
            Some(_) => crate::Push::Changed,
            None => crate::Push::Reconnected,
        })
    }
}
