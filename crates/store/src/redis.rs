//! Sessions in Redis (feature `redis`), through a connection pool.
//!
//! `{prefix}:s:{hash}` is a Redis hash (user, created, idle, expires) whose
//! key expires with the session; `{prefix}:u:{user}` is the set of a
//! user's session hashes, for logout-everywhere and bans. Users are read
//! from the main store on every lookup, so role changes and bans apply at
//! the next request.

use std::sync::Arc;

use async_trait::async_trait;
use deadpool_redis::redis::{self, AsyncCommands as _};
use deadpool_redis::{Config, Pool, Runtime};

use crate::{NewSession, QueryCounter, SessionRecord, SessionStore, Store, StoreError, User};

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Redis(e.to_string())
}

fn hex(hash: &[u8; 32]) -> String {
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// Sessions in Redis.
pub struct RedisSessions {
    pool: Pool,
    users: Arc<dyn Store>,
    prefix: String,
    queries: QueryCounter,
}

impl RedisSessions {
    /// Connects to `url` (a pool of connections), with keys under `prefix`.
    pub async fn open(url: &str, users: Arc<dyn Store>, prefix: &str) -> Result<Self, StoreError> {
        let pool = Config::from_url(url)
            .create_pool(Some(Runtime::Tokio1))
            .map_err(err)?;
        // Fail at start, not at the first login, if Redis is unreachable.
        let mut conn = pool.get().await.map_err(err)?;
        let _: String = redis::cmd("PING")
            .query_async(&mut conn)
            .await
            .map_err(err)?;
        Ok(Self {
            pool,
            users,
            prefix: prefix.to_owned(),
            queries: QueryCounter::new(),
        })
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
    async fn create_session(&self, s: &NewSession, now: i64) -> Result<(), StoreError> {
        let mut conn = self.pool.get().await.map_err(err)?;
        let key = self.session_key(&s.hash);
        let user_key = self.user_key(s.user_id);
        self.queries.add(1);
        let _: () = redis::pipe()
            .atomic()
            .hset_multiple(
                &key,
                &[
                    ("user", s.user_id),
                    ("created", now),
                    ("idle", s.idle_expires_at),
                    ("expires", s.expires_at),
                ],
            )
            .expire_at(&key, s.idle_expires_at.min(s.expires_at))
            .sadd(&user_key, hex(&s.hash))
            .expire_at(&user_key, s.expires_at)
            .query_async(&mut conn)
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn session(
        &self,
        hash: &[u8; 32],
        now: i64,
        idle_until: i64,
    ) -> Result<Option<(User, SessionRecord)>, StoreError> {
        let mut conn = self.pool.get().await.map_err(err)?;
        let key = self.session_key(hash);
        self.queries.add(1);
        let fields: Vec<Option<i64>> = redis::cmd("HMGET")
            .arg(&key)
            .arg("user")
            .arg("created")
            .arg("idle")
            .arg("expires")
            .query_async(&mut conn)
            .await
            .map_err(err)?;
        let [Some(user_id), Some(created), Some(idle), Some(expires)] = fields[..] else {
            return Ok(None);
        };
        if expires <= now || idle <= now {
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
            let _: () = redis::pipe()
                .atomic()
                .hset(&key, "idle", slide_to)
                .expire_at(&key, slide_to)
                .query_async(&mut conn)
                .await
                .map_err(err)?;
            record.idle_expires_at = slide_to;
        }
        Ok(Some((user, record)))
    }

    async fn delete_session(&self, hash: &[u8; 32]) -> Result<(), StoreError> {
        let mut conn = self.pool.get().await.map_err(err)?;
        self.queries.add(1);
        let _: () = conn.del(self.session_key(hash)).await.map_err(err)?;
        Ok(())
    }

    async fn delete_user_sessions(&self, user_id: i64) -> Result<u64, StoreError> {
        let mut conn = self.pool.get().await.map_err(err)?;
        let user_key = self.user_key(user_id);
        self.queries.add(1);
        let members: Vec<String> = conn.smembers(&user_key).await.map_err(err)?;
        let mut pipe = redis::pipe();
        pipe.atomic();
        for m in &members {
            pipe.del(format!("{}:s:{m}", self.prefix));
        }
        pipe.del(&user_key);
        self.queries.add(1);
        let _: () = pipe.query_async(&mut conn).await.map_err(err)?;
        Ok(members.len() as u64)
    }

    fn queries(&self) -> u64 {
        self.queries.get()
    }
}
