//! The PostgreSQL backend: for several server instances sharing one store.

use std::str::FromStr as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};

use crate::{QueryCounter, StoreError};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// A PostgreSQL database.
#[derive(Clone, Debug)]
pub struct PostgresStore {
    pool: PgPool,
    queries: QueryCounter,
    dead: Arc<DeadSince>,
}

/// When a connection was last found dead, so the pool checks the
/// connections that were idle since before then: after a restart or a
/// failover every pooled connection is dead, and each would otherwise fail
/// a request.
#[derive(Debug)]
struct DeadSince {
    epoch: Instant,
    /// Nanoseconds since `epoch`; 0 when none was.
    at: AtomicU64,
}

impl DeadSince {
    #[allow(
        clippy::disallowed_methods,
        reason = "connection health, measured on the real clock: no policy depends on it"
    )]
    fn new() -> Self {
        Self {
            epoch: Instant::now(),
            at: AtomicU64::new(0),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn note(&self) {
        self.at.store(self.now().max(1), Ordering::Relaxed);
    }

    /// Whether a connection idle for `idle` went idle before the last
    /// death was found.
    fn suspect(&self, idle: Duration) -> bool {
        let at = self.at.load(Ordering::Relaxed);
        let idle = u64::try_from(idle.as_nanos()).unwrap_or(u64::MAX);
        at != 0 && self.now().saturating_sub(idle) <= at
    }
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
        let dead = Arc::new(DeadSince::new());
        let check = dead.clone();
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(crate::ACQUIRE_TIMEOUT)
            // sqlx pings a connection at every check-out by default: a
            // round trip the request waits for (it pings again when the
            // connection comes back, but off the request's path). Only a
            // connection idle for a while is pinged now, which is where a
            // restarted server or an idle timeout leaves dead ones, and any
            // connection idle since before one was found dead (after a
            // restart or a failover, every pooled connection is).
            .test_before_acquire(false)
            .before_acquire(move |conn, meta| {
                let suspect = meta.idle_for >= IDLE_PING || check.suspect(meta.idle_for);
                Box::pin(async move {
                    if suspect {
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
            dead,
        })
    }

    /// A connection was found dead: check the others before use.
    fn note_dead_connection(&self) {
        self.dead.note();
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
        Ok(Some(Box::new(PgPush {
            listener: subscribe(&self.pool, &self.dead).await?,
            pool: self.pool.clone(),
            dead: self.dead.clone(),
        })))
    }
}

/// A connection listening on the revocation channel (taken from the pool:
/// if it was dead, once more on one that is checked), within
/// [`CALL_TIMEOUT`](crate::CALL_TIMEOUT).
async fn subscribe(pool: &PgPool, dead: &DeadSince) -> Result<PgListener, StoreError> {
    async fn once(pool: &PgPool) -> Result<PgListener, StoreError> {
        let mut listener = PgListener::connect_with(pool).await?;
        // A lost connection is reported (and listened again on by
        // `resubscribe`), not silently replaced inside `try_recv`.
        listener.eager_reconnect(false);
        listener.listen(CHANNEL).await?;
        Ok(listener)
    }
    crate::sql::bounded(async {
        match once(pool).await {
            Err(e) if crate::sql::retryable(&e, true) => {
                dead.note();
                once(pool).await
            }
            other => other,
        }
    })
    .await
}

/// LISTEN on the revocation channel.
struct PgPush {
    listener: PgListener,
    pool: PgPool,
    dead: Arc<DeadSince>,
}

#[async_trait::async_trait]
impl crate::Listener for PgPush {
    async fn next(&mut self) -> Result<crate::Push, StoreError> {
        match self.listener.try_recv().await.map_err(StoreError::from) {
            Ok(Some(_)) => Ok(crate::Push::Changed),
            // The connection dropped or was ended. Listen again before
            // saying so: the caller then reads the log, and nothing
            // appended from here on can slip between that read and the new
            // LISTEN. The pool's other connections are checked before use:
            // whatever ended this one likely ended them too.
            Ok(None) => self.resubscribe().await,
            Err(e) if crate::sql::retryable(&e, true) => self.resubscribe().await,
            Err(e) => Err(e),
        }
    }
}

impl PgPush {
    async fn resubscribe(&mut self) -> Result<crate::Push, StoreError> {
        self.dead.note();
        self.listener = subscribe(&self.pool, &self.dead).await?;
        Ok(crate::Push::Reconnected)
    }
}
