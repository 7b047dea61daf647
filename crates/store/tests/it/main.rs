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

/// A store on a fresh SQLite file in a temporary folder, removed on drop.
pub(crate) struct TempSqlite {
    pub(crate) store: Arc<dyn Store>,
    dir: std::path::PathBuf,
}

impl Drop for TempSqlite {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

pub(crate) async fn sqlite() -> TempSqlite {
    let dir = std::env::temp_dir().join(format!(
        "passcard-store-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}/test.db", dir.display());
    let store = passcard_store::open(&url).await.unwrap();
    TempSqlite { store, dir }
}

/// A store in a fresh PostgreSQL schema, or `None` (said loudly, once)
/// when PASSCARD_TEST_DATABASE_URL is unset.
pub(crate) struct TempPostgres {
    pub(crate) store: Arc<dyn Store>,
    admin: sqlx::PgPool,
    schema: String,
}

impl TempPostgres {
    pub(crate) async fn drop_schema(self) {
        drop(self.store);
        sqlx::query(&format!("DROP SCHEMA {} CASCADE", self.schema))
            .execute(&self.admin)
            .await
            .unwrap();
    }
}

pub(crate) async fn postgres() -> Option<TempPostgres> {
    use std::str::FromStr as _;
    let Ok(url) = std::env::var("PASSCARD_TEST_DATABASE_URL") else {
        static SAID: std::sync::Once = std::sync::Once::new();
        SAID.call_once(|| {
            use std::io::Write as _;
            // Written past the test harness's capture, so it shows.
            let _ = writeln!(
                std::io::stderr(),
                "\n*** SKIPPED: PostgreSQL store tests (set PASSCARD_TEST_DATABASE_URL, e.g. postgres://postgres@127.0.0.1:5432/test) ***\n"
            );
        });
        return None;
    };
    let admin = sqlx::PgPool::connect(&url)
        .await
        .expect("PASSCARD_TEST_DATABASE_URL is set but unreachable");
    let schema = format!(
        "passcard_test_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&admin)
        .await
        .unwrap();
    let options = sqlx::postgres::PgConnectOptions::from_str(&url)
        .unwrap()
        .options([("search_path", schema.as_str())]);
    let store = Arc::new(
        passcard_store::PostgresStore::open_with(options)
            .await
            .unwrap(),
    );
    Some(TempPostgres {
        store,
        admin,
        schema,
    })
}

/// Sessions in Redis under a key prefix of their own, or `None` (said
/// loudly, once) when PASSCARD_TEST_REDIS_URL is unset.
pub(crate) struct TempRedis {
    pub(crate) sessions: Arc<passcard_store::RedisSessions>,
    url: String,
    prefix: String,
}

impl TempRedis {
    pub(crate) async fn cleanup(self) {
        let client = redis::Client::open(self.url.as_str()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}:*", self.prefix))
            .query_async(&mut conn)
            .await
            .unwrap();
        for k in keys {
            let _: () = redis::cmd("DEL")
                .arg(k)
                .query_async(&mut conn)
                .await
                .unwrap();
        }
    }
}

pub(crate) async fn redis(users: Arc<dyn Store>) -> Option<TempRedis> {
    let Ok(url) = std::env::var("PASSCARD_TEST_REDIS_URL") else {
        static SAID: std::sync::Once = std::sync::Once::new();
        SAID.call_once(|| {
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr(),
                "\n*** SKIPPED: Redis session tests (set PASSCARD_TEST_REDIS_URL, e.g. redis://127.0.0.1:6379) ***\n"
            );
        });
        return None;
    };
    let prefix = format!(
        "passcard-test-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let sessions = passcard_store::RedisSessions::open(&url, users, &prefix, 2)
        .await
        .expect("PASSCARD_TEST_REDIS_URL is set but unreachable");
    Some(TempRedis {
        sessions: Arc::new(sessions),
        url,
        prefix,
    })
}
