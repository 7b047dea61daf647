//! Places of a test's own: a folder, a PostgreSQL schema, a Redis key
//! prefix.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// A name unique in this run: the process id and a counter.
pub(crate) fn unique(tag: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{tag}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A temporary folder, removed when dropped.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// A new, empty folder under the system's temporary folder.
    pub fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(unique(&format!("passcard-{tag}")));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `cleanup` to completion on a runtime of its own (drops cannot
/// await, and may run outside any runtime or inside a finished one).
fn clean_up_elsewhere<F>(cleanup: F)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let done = std::thread::spawn(move || {
        if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            rt.block_on(cleanup);
        }
    });
    let _ = done.join();
}

/// A schema of its own on the test PostgreSQL server, dropped (with
/// everything in it) when this is dropped, in the background: the drop
/// waits for the test's connections to let go of their locks, which they
/// do only once the test's runtime has ended (a rolled-back transaction
/// lets go when its connection is returned, a task on that runtime).
/// Schemas of test processes that are gone are dropped by the next run.
/// Its URL selects the schema
/// (`search_path`) and names the connections after it
/// (`application_name`), so a test can cut exactly its own.
#[derive(Debug)]
pub struct TempSchema {
    base: String,
    admin: sqlx::PgPool,
    name: String,
    url: String,
}

impl TempSchema {
    /// Creates a schema on the server at `base` (a database URL).
    pub async fn create(base: &str) -> Self {
        let admin = sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .connect(base)
            .await
            .unwrap_or_else(|e| panic!("PASSCARD_TEST_DATABASE_URL is set but unreachable: {e}"));
        static SWEPT: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
        SWEPT.get_or_init(|| sweep(&admin)).await;
        let name = unique("passcard_test").to_lowercase();
        sqlx::query(&format!("CREATE SCHEMA {name}"))
            .execute(&admin)
            .await
            .unwrap();
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}application_name={name}&options%5Bsearch_path%5D={name}");
        Self {
            base: base.to_owned(),
            admin,
            name,
            url,
        }
    }

    /// The URL a store opens.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The schema's name (also the `application_name` of its connections).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A connection to the server outside the schema, for the test's own
    /// queries (cutting connections, say).
    pub fn admin(&self) -> &sqlx::PgPool {
        &self.admin
    }

    /// Terminates the schema's connections whose current query starts
    /// with `query_prefix` (`""` for all); returns how many.
    pub async fn terminate(&self, query_prefix: &str) -> i64 {
        sqlx::query_scalar(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE application_name = $1 AND query ILIKE $2",
        )
        .bind(&self.name)
        .bind(format!("{query_prefix}%"))
        .fetch_one(&self.admin)
        .await
        .unwrap()
    }
}

/// Drops the schemas that test processes no longer running left behind.
async fn sweep(admin: &sqlx::PgPool) {
    // Without /proc there is no telling which processes are alive.
    if !Path::new("/proc/self").exists() {
        return;
    }
    let schemas: Vec<String> = sqlx::query_scalar(
        "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'passcard\\_test\\_%'",
    )
    .fetch_all(admin)
    .await
    .unwrap_or_default();
    for schema in schemas {
        let pid = schema.split('_').nth(2).and_then(|p| p.parse::<u32>().ok());
        let alive = pid.is_some_and(|p| Path::new(&format!("/proc/{p}")).exists());
        if !alive {
            let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                .execute(admin)
                .await;
        }
    }
}

impl Drop for TempSchema {
    fn drop(&mut self) {
        let (base, name) = (self.base.clone(), self.name.clone());
        // Not joined: see the type's documentation.
        std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(pool) = sqlx::PgPool::connect(&base).await {
                    let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                        .execute(&pool)
                        .await;
                    pool.close().await;
                }
            });
        });
    }
}

/// A key prefix of its own on the test Redis server; its keys are deleted
/// when this is dropped.
#[derive(Debug)]
pub struct TempPrefix {
    url: String,
    prefix: String,
}

impl TempPrefix {
    /// A fresh prefix on the Redis at `url`.
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            prefix: unique("passcard-test"),
        }
    }

    /// The Redis URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
}

impl Drop for TempPrefix {
    fn drop(&mut self) {
        let (url, prefix) = (self.url.clone(), self.prefix.clone());
        clean_up_elsewhere(async move {
            let Ok(client) = redis::Client::open(url.as_str()) else {
                return;
            };
            let Ok(mut conn) = client.get_multiplexed_async_connection().await else {
                return;
            };
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(format!("{prefix}:*"))
                .query_async(&mut conn)
                .await
                .unwrap_or_default();
            for k in keys {
                let _: Result<(), _> = redis::cmd("DEL").arg(k).query_async(&mut conn).await;
            }
        });
    }
}
