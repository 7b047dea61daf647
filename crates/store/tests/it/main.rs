//! passcard-store integration tests: the storage contract, run against
//! every backend: SQLite always, PostgreSQL when PASSCARD_TEST_DATABASE_URL
//! is set (each test in a schema of its own, dropped afterwards).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap is a failed test"
)]

/// The contract every backend must honour.
mod contract;

use std::sync::Arc;

use passcard_store::Store;
use passcard_testkit::{TempDir, TempPrefix, TempSchema, env};

/// A store on a fresh SQLite file in a temporary folder, removed on drop.
pub(crate) struct TempSqlite {
    pub(crate) store: Arc<dyn Store>,
    _dir: TempDir,
}

pub(crate) async fn sqlite() -> TempSqlite {
    let dir = TempDir::new("store");
    let url = format!("sqlite://{}/test.db", dir.display());
    let store = passcard_store::open(&url).await.unwrap();
    TempSqlite { store, _dir: dir }
}

/// A store in a fresh PostgreSQL schema (dropped with it), or `None`
/// (said loudly) when PASSCARD_TEST_DATABASE_URL is unset.
pub(crate) struct TempPostgres {
    pub(crate) store: Arc<dyn Store>,
    _schema: TempSchema,
}

pub(crate) async fn postgres() -> Option<TempPostgres> {
    let base = env::postgres("the PostgreSQL store tests")?;
    let schema = TempSchema::create(&base).await;
    let store = passcard_store::open(schema.url()).await.unwrap();
    Some(TempPostgres {
        store,
        _schema: schema,
    })
}

/// Sessions in Redis under a key prefix of their own (deleted with it),
/// or `None` (said loudly) when PASSCARD_TEST_REDIS_URL is unset.
pub(crate) struct TempRedis {
    pub(crate) sessions: Arc<passcard_store::RedisSessions>,
    _prefix: TempPrefix,
}

pub(crate) async fn redis(users: Arc<dyn Store>) -> Option<TempRedis> {
    let url = env::redis("the Redis session store tests")?;
    let prefix = TempPrefix::new(&url);
    let sessions = passcard_store::RedisSessions::open(&url, users, prefix.prefix(), 2)
        .await
        .expect("PASSCARD_TEST_REDIS_URL is set but unreachable");
    Some(TempRedis {
        sessions: Arc::new(sessions),
        _prefix: prefix,
    })
}

/// The Redis session store's own promises.
mod redis_sessions;
/// The SQLite backend's own promises.
mod sqlite_files;
