//! The SQLite backend: the embedded default.

use std::str::FromStr as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{Connection as _, SqliteConnection, SqlitePool};
use tokio::sync::{MappedMutexGuard, Mutex, MutexGuard, Semaphore, SemaphorePermit};

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
    /// One per connection: a waiter takes whichever comes free first, and
    /// gives up after the pool's acquire timeout.
    free: Semaphore,
    next: AtomicUsize,
}

/// A reader connection, lent until dropped.
pub(crate) struct Reader<'a> {
    conn: MappedMutexGuard<'a, SqliteConnection>,
    _permit: SemaphorePermit<'a>,
}

impl std::ops::Deref for Reader<'_> {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for Reader<'_> {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.conn
    }
}

/// Creates the database file owner-only before SQLite does (SQLite gives
/// its `-wal`, `-shm` and journal files the database's permissions), and
/// takes group and other access away from files an older version left
/// open.
#[cfg(unix)]
fn make_private(db: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    let name = db.to_string_lossy();
    if name.is_empty() || name == ":memory:" || name.starts_with("file::memory:") {
        return Ok(());
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(db)
    {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let path = std::path::PathBuf::from(format!("{name}{suffix}"));
        if let Ok(meta) = std::fs::metadata(&path) {
            let mode = meta.permissions().mode();
            if mode & 0o077 != 0 {
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode & 0o700))?;
            }
        }
    }
    Ok(())
}

/// No permission bits to set on this platform.
#[cfg(not(unix))]
fn make_private(_: &std::path::Path) -> std::io::Result<()> {
    Ok(())
}

/// How many [`Readers`]: one per core of a small server.
const READERS: usize = 2;

impl SqliteStore {
    /// An embedded database has no connection a server can end: nothing
    /// to check.
    fn note_dead_connection(&self) {}

    /// Opens (creating if missing) the database at `url` and migrates it.
    /// The files (the database, its `-wal` and `-shm`) are readable by
    /// their owner only: they hold password hashes and the refresh-token
    /// MAC secret.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        make_private(options.get_filename()).map_err(StoreError::Permissions)?;
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
                free: Semaphore::new(READERS),
                next: AtomicUsize::new(0),
            }),
            queries: QueryCounter::default(),
        })
    }

    /// A free reader connection, waiting at most the pool's acquire
    /// timeout for one.
    async fn reader(&self) -> Result<Reader<'_>, StoreError> {
        let readers = &*self.readers;
        let permit = tokio::time::timeout(crate::ACQUIRE_TIMEOUT, readers.free.acquire())
            .await
            .map_err(|_| StoreError::Database(sqlx::Error::PoolTimedOut))?
            .map_err(|_| StoreError::Database(sqlx::Error::PoolClosed))?;
        // With a permit, one connection at least is unlocked (close() may
        // hold one for a moment: then wait for it).
        let start = readers.next.fetch_add(1, Ordering::Relaxed);
        let n = readers.conns.len();
        let free = (0..n).find_map(|i| readers.conns[(start + i) % n].try_lock().ok());
        let guard = match free {
            Some(guard) => guard,
            None => readers.conns[start % n].lock().await,
        };
        let conn = MutexGuard::try_map(guard, Option::as_mut)
            .map_err(|_| StoreError::Database(sqlx::Error::PoolClosed))?;
        Ok(Reader {
            conn,
            _permit: permit,
        })
    }

    async fn close_impl(&self) {
        self.readers.free.close();
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
