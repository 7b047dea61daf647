//! Sessions in Redis (feature `redis`), through a pool of multiplexed
//! connections.
//!
//! The pool is redis-rs `ConnectionManager`s used in turn (one by
//! default): each is one connection that pipelines the commands of
//! concurrent requests and reconnects on its own after an I/O error.
//! Nothing is checked out, so a request pays one round trip per command
//! and no more. Measured with `scripts/sessions-vs-tower.sh` (docs/benchmarks.md):
//! deadpool-redis, tried first, checks each connection out with an
//! UNWATCH+PING round trip and reached 0.43x the throughput of
//! tower-sessions' Redis store; multiplexed connections reach parity, and
//! one beats several against a single-threaded Redis on two cores because
//! more commands share each write.
//!
//! `{prefix}:s:{hash}` is a Redis hash (user, created, idle, expires) whose
//! key expires with the session; `{prefix}:u:{user}` is the set of a
//! user's session hashes, for logout-everywhere and bans. The set is kept
//! in step by scripts, each atomic: a logout removes its id, a login
//! removes the ids of sessions that expired and ends the oldest past the
//! most a user may hold (so the set stays that short), and logout-everywhere
//! deletes exactly the sessions it lists (a login landing meanwhile is
//! either deleted with them or stays listed, never orphaned). Users are
//! read from the main store on every lookup, so role changes and bans
//! apply at the next request.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::{NewSession, QueryCounter, SessionRecord, SessionStore, Store, StoreError, User};

/// I/O failures, and the answers of a Redis that is starting, failing
/// over or read-only for now, mean "unreachable, retry": 503, not 500.
#[allow(clippy::needless_pass_by_value, reason = "called as map_err(err)")]
fn err(e: redis::RedisError) -> StoreError {
    use redis::{ErrorKind, ServerErrorKind as S};
    let transient = e.is_io_error()
        || matches!(
            e.kind(),
            ErrorKind::Server(
                S::BusyLoading | S::TryAgain | S::ClusterDown | S::MasterDown | S::ReadOnly
            )
        );
    if transient {
        StoreError::RedisUnreachable(e.to_string())
    } else {
        StoreError::Redis(e.to_string())
    }
}

/// A write refused by a replica.
fn is_read_only(e: &redis::RedisError) -> bool {
    matches!(
        e.kind(),
        redis::ErrorKind::Server(redis::ServerErrorKind::ReadOnly)
    ) || e.to_string().contains("READONLY")
}

fn hex(hash: &[u8; 32]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(64);
    for b in hash {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

/// The scripts that keep a session and its user's set in step, each run
/// atomically by Redis.
#[derive(Debug)]
struct Scripts {
    create: redis::Script,
    delete: redis::Script,
    delete_all: redis::Script,
}

impl Scripts {
    fn new() -> Self {
        Self {
            // KEYS: the session, the user's set. ARGV: the session-key
            // prefix, the id, user, created, idle, expires, the most
            // sessions the user may hold. Also takes the ids of sessions
            // that expired off the set, and ends the oldest live ones past
            // the most (the set is never longer than that, so this walk is
            // bounded). Answers how many it ended.
            create: redis::Script::new(
                r"
                local live = {}
                for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do
                    local created = redis.call('HGET', ARGV[1] .. id, 'created')
                    if created then
                        table.insert(live, {id, tonumber(created)})
                    else
                        redis.call('SREM', KEYS[2], id)
                    end
                end
                local ended = 0
                local over = #live - (tonumber(ARGV[7]) - 1)
                if over > 0 then
                    table.sort(live, function(a, b)
                        if a[2] ~= b[2] then return a[2] < b[2] end
                        return a[1] < b[1]
                    end)
                    for i = 1, over do
                        redis.call('DEL', ARGV[1] .. live[i][1])
                        redis.call('SREM', KEYS[2], live[i][1])
                        ended = ended + 1
                    end
                end
                redis.call('HSET', KEYS[1], 'user', ARGV[3], 'created', ARGV[4],
                           'idle', ARGV[5], 'expires', ARGV[6])
                redis.call('EXPIREAT', KEYS[1], math.min(tonumber(ARGV[5]), tonumber(ARGV[6])))
                redis.call('SADD', KEYS[2], ARGV[2])
                -- The set lives as long as its longest session.
                local ttl = redis.call('TTL', KEYS[2])
                if ttl < tonumber(ARGV[6]) - tonumber(ARGV[4]) then
                    redis.call('EXPIREAT', KEYS[2], ARGV[6])
                end
                return ended
                ",
            ),
            // KEYS: the session. ARGV: the user-set prefix, the id.
            delete: redis::Script::new(
                r"
                local user = redis.call('HGET', KEYS[1], 'user')
                redis.call('DEL', KEYS[1])
                if user then
                    redis.call('SREM', ARGV[1] .. user, ARGV[2])
                end
                return 0
                ",
            ),
            // KEYS: the user's set. ARGV: the session-key prefix. Deletes
            // exactly the sessions listed, and the set.
            delete_all: redis::Script::new(
                r"
                local ids = redis.call('SMEMBERS', KEYS[1])
                for _, id in ipairs(ids) do
                    redis.call('DEL', ARGV[1] .. id)
                end
                redis.call('DEL', KEYS[1])
                return #ids
                ",
            ),
        }
    }
}

/// Sessions in Redis.
pub struct RedisSessions {
    pool: Vec<std::sync::Mutex<ConnectionManager>>,
    client: redis::Client,
    config: ConnectionManagerConfig,
    next: AtomicUsize,
    users: Arc<dyn Store>,
    prefix: String,
    queries: QueryCounter,
    scripts: Scripts,
}

impl RedisSessions {
    /// Connects to `url` over `connections` multiplexed connections (at
    /// least one), with keys under `prefix`. Fails at once, not at the
    /// first login, if Redis is unreachable.
    pub async fn open(
        url: &str,
        users: Arc<dyn Store>,
        prefix: &str,
        connections: usize,
    ) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(err)?;
        // With Redis gone, a request fails within seconds (it waits for at
        // most three connection attempts of 2 s each), and the connection
        // comes back by itself once Redis does (the next command after a
        // failed reconnection tries again).
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(5)))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let mut pool = Vec::with_capacity(connections.max(1));
        for _ in 0..connections.max(1) {
            pool.push(std::sync::Mutex::new(
                ConnectionManager::new_with_config(client.clone(), config.clone())
                    .await
                    .map_err(err)?,
            ));
        }
        Ok(Self {
            pool,
            client,
            config,
            next: AtomicUsize::new(0),
            users,
            prefix: prefix.to_owned(),
            queries: QueryCounter::new(),
            scripts: Scripts::new(),
        })
    }

    /// The next connection, in turn (a clone is a handle, not a
    /// connection), and its place in the pool.
    fn conn(&self) -> (usize, ConnectionManager) {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.pool.len();
        (i, self.slot(i))
    }

    fn slot(&self, i: usize) -> ConnectionManager {
        self.pool[i]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Runs `call` on the next connection, for at most
    /// [`CALL_TIMEOUT`](crate::CALL_TIMEOUT). A connection that had
    /// dropped (Redis restarted, or the connection was killed) reconnects,
    /// and `call` runs once more on it: one dead connection does not fail a
    /// request. A Redis that answers READONLY
    /// (a replica now: the address moved to a new primary after a
    /// failover, but this connection did not) refused the write, so the
    /// connection is replaced by a new one and `call` runs once more on it.
    /// redis-rs reconnects by itself only after I/O errors.
    async fn with_conn<T, F, Fut>(&self, call: F) -> Result<T, StoreError>
    where
        F: Fn(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        crate::sql::bounded(async {
            let (i, conn) = self.conn();
            match call(conn).await {
                // Every command here is safe to repeat (reads, and writes
                // that set or delete the same values again).
                Err(e) if e.is_connection_dropped() => {
                    tracing::debug!(error = %e, "the Redis connection had dropped; trying once more");
                    call(self.slot(i)).await.map_err(err)
                }
                Err(e) if is_read_only(&e) => {
                    tracing::warn!(error = %e, "Redis answered READONLY: reconnecting");
                    let fresh = ConnectionManager::new_with_config(
                        self.client.clone(),
                        self.config.clone(),
                    )
                    .await
                    .map_err(err)?;
                    *self.pool[i].lock().unwrap_or_else(|p| p.into_inner()) = fresh.clone();
                    call(fresh).await.map_err(err)
                }
                other => other.map_err(err),
            }
        })
        .await
    }

    /// Deletes a session and takes it off its user's set.
    async fn forget(&self, hash: &[u8; 32]) -> Result<(), StoreError> {
        let (key, prefix) = (self.session_key(hash), format!("{}:u:", self.prefix));
        self.with_conn(|mut conn| {
            let mut invocation = self.scripts.delete.key(&key);
            invocation.arg(&prefix).arg(hex(hash));
            async move { invocation.invoke_async::<()>(&mut conn).await }
        })
        .await
    }

    fn session_key(&self, hash: &[u8; 32]) -> String {
        format!("{}:s:{}", self.prefix, hex(hash))
    }

    fn user_key(&self, user_id: i64) -> String {
        format!("{}:u:{user_id}", self.prefix)
    }
}

#[async_trait]
impl SessionStore for RedisSessions {
    async fn create_session(&self, s: &NewSession, now: i64) -> Result<u64, StoreError> {
        self.queries.add(1);
        let (key, user_key) = (self.session_key(&s.hash), self.user_key(s.user_id));
        let prefix = format!("{}:s:", self.prefix);
        self.with_conn(|mut conn| {
            let mut invocation = self.scripts.create.key(&key);
            invocation
                .key(&user_key)
                .arg(&prefix)
                .arg(hex(&s.hash))
                .arg(s.user_id)
                .arg(now)
                .arg(s.idle_expires_at)
                .arg(s.expires_at)
                .arg(s.max_per_user.max(1));
            async move { invocation.invoke_async::<u64>(&mut conn).await }
        })
        .await
    }

    async fn session(
        &self,
        hash: &[u8; 32],
        now: i64,
        idle_until: i64,
    ) -> Result<Option<(User, SessionRecord)>, StoreError> {
        let key = self.session_key(hash);
        self.queries.add(1);
        let fields: Vec<Option<i64>> = self
            .with_conn(|mut conn| {
                let key = &key;
                async move {
                    redis::cmd("HMGET")
                        .arg(key)
                        .arg("user")
                        .arg("created")
                        .arg("idle")
                        .arg("expires")
                        .query_async(&mut conn)
                        .await
                }
            })
            .await?;
        let [Some(user_id), Some(created), Some(idle), Some(expires)] = fields[..] else {
            return Ok(None);
        };
        if expires <= now || idle <= now {
            // Over by the server's clock, not yet by Redis's: gone now.
            self.queries.add(1);
            self.forget(hash).await?;
            return Ok(None);
        }
        let Some(user) = self.users.user_by_id(user_id).await? else {
            return Ok(None);
        };
        let mut record = SessionRecord {
            created_at: created,
            idle_expires_at: idle,
            expires_at: expires,
        };
        let slide_to = idle_until.min(expires);
        if (idle - now) * 2 < (idle_until - now) && slide_to > idle {
            self.queries.add(1);
            self.with_conn(|mut conn| {
                let key = &key;
                async move {
                    redis::pipe()
                        .atomic()
                        .hset(key, "idle", slide_to)
                        .expire_at(key, slide_to)
                        .query_async::<()>(&mut conn)
                        .await
                }
            })
            .await?;
            record.idle_expires_at = slide_to;
        }
        Ok(Some((user, record)))
    }

    async fn delete_session(&self, hash: &[u8; 32]) -> Result<(), StoreError> {
        self.queries.add(1);
        self.forget(hash).await
    }

    async fn delete_user_sessions(&self, user_id: i64) -> Result<u64, StoreError> {
        self.queries.add(1);
        let (user_key, prefix) = (self.user_key(user_id), format!("{}:s:", self.prefix));
        self.with_conn(|mut conn| {
            let mut invocation = self.scripts.delete_all.key(&user_key);
            invocation.arg(&prefix);
            async move { invocation.invoke_async(&mut conn).await }
        })
        .await
    }

    fn own_queries(&self) -> u64 {
        self.queries.get()
    }

    async fn check(&self) -> Result<(), StoreError> {
        self.with_conn(
            |mut conn| async move { redis::cmd("PING").query_async::<()>(&mut conn).await },
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use redis::{ErrorKind, RedisError, ServerErrorKind};

    use super::err;

    #[test]
    fn unreachable_and_transient_redis_errors_are_unavailable() {
        let refused = RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(err(refused).is_unavailable());
        for kind in [
            ServerErrorKind::BusyLoading,
            ServerErrorKind::MasterDown,
            ServerErrorKind::ReadOnly,
            ServerErrorKind::TryAgain,
            ServerErrorKind::ClusterDown,
        ] {
            let e = RedisError::from((ErrorKind::Server(kind), "transient"));
            assert!(err(e).is_unavailable(), "{kind:?}");
        }
        let wrong_type = RedisError::from((
            ErrorKind::Server(ServerErrorKind::ResponseError),
            "WRONGTYPE",
        ));
        assert!(!err(wrong_type).is_unavailable());
        let parse = RedisError::from((ErrorKind::Parse, "bad reply"));
        assert!(!err(parse).is_unavailable());
    }
}
