//! The SQLite backend: the embedded default.

use std::str::FromStr as _;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow};
use sqlx::{Row as _, SqlitePool};

use crate::{
    NewRefresh, NewRefreshFor, QueryCounter, RefreshRecord, Revocation, RevocationEvent, Rotation,
    Store, StoreError, User,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// A SQLite database file (WAL mode, foreign keys on).
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
    queries: QueryCounter,
}

const USER_COLUMNS: &str = "id, username, password_hash, role, disabled, token_version";

fn user(row: &SqliteRow) -> Result<User, sqlx::Error> {
    Ok(User {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        password_hash: row.try_get("password_hash")?,
        role: row.try_get("role")?,
        disabled: row.try_get("disabled")?,
        token_version: row.try_get("token_version")?,
    })
}

fn event(row: &SqliteRow) -> Result<RevocationEvent, sqlx::Error> {
    let kind: String = row.try_get("kind")?;
    let revocation = if kind == "jti" {
        Revocation::Jti {
            jti: row.try_get::<Option<String>, _>("jti")?.unwrap_or_default(),
            expires_at: row
                .try_get::<Option<i64>, _>("expires_at")?
                .unwrap_or_default(),
        }
    } else {
        Revocation::Version {
            version: row
                .try_get::<Option<i64>, _>("version")?
                .unwrap_or_default(),
        }
    };
    Ok(RevocationEvent {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        revocation,
        created_at: row.try_get("created_at")?,
    })
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
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
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(Self {
            pool,
            queries: QueryCounter::default(),
        })
    }

    /// Bumps the version and logs it, inside `tx`.
    async fn bump_version(
        &self,
        tx: &mut sqlx::SqliteConnection,
        id: i64,
        now: i64,
    ) -> Result<Option<i64>, StoreError> {
        self.queries.add(2);
        let Some(version) = sqlx::query_scalar::<_, i64>(
            "UPDATE users SET token_version = token_version + 1 WHERE id = ? RETURNING token_version",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(None);
        };
        sqlx::query(
            "INSERT INTO revocation_events (kind, user_id, version, created_at) VALUES ('version', ?, ?, ?)",
        )
        .bind(id)
        .bind(version)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        Ok(Some(version))
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_user(
        &self,
        username: &str,
        password_hash: &str,
        role: &str,
        now: i64,
    ) -> Result<User, StoreError> {
        self.queries.add(1);
        let row = sqlx::query(&format!(
            "INSERT INTO users (username, password_hash, role, created_at) VALUES (?, ?, ?, ?) RETURNING {USER_COLUMNS}"
        ))
        .bind(username)
        .bind(password_hash)
        .bind(role)
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict
            } else {
                StoreError::Database(e)
            }
        })?;
        Ok(user(&row)?)
    }

    async fn user_by_name(&self, username: &str) -> Result<Option<User>, StoreError> {
        self.queries.add(1);
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE username = ?"
        ))
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(user).transpose()?)
    }

    async fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError> {
        self.queries.add(1);
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(user).transpose()?)
    }

    async fn set_role(&self, id: i64, role: &str, now: i64) -> Result<Option<User>, StoreError> {
        let mut tx = self.pool.begin().await?;
        self.queries.add(1);
        let changed = sqlx::query("UPDATE users SET role = ? WHERE id = ?")
            .bind(role)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if changed == 0 {
            return Ok(None);
        }
        self.bump_version(&mut tx, id, now).await?;
        self.queries.add(1);
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?"))
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(user(&row)?))
    }

    async fn revoke_user(
        &self,
        id: i64,
        disable: bool,
        now: i64,
    ) -> Result<Option<User>, StoreError> {
        let mut tx = self.pool.begin().await?;
        if self.bump_version(&mut tx, id, now).await?.is_none() {
            return Ok(None);
        }
        self.queries.add(2);
        if disable {
            sqlx::query("UPDATE users SET disabled = 1 WHERE id = ?")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "UPDATE refresh_families SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        self.queries.add(1);
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?"))
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(user(&row)?))
    }

    async fn revoke_token(
        &self,
        user_id: i64,
        jti: &str,
        expires_at: i64,
        family_id: Option<i64>,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        self.queries.add(1);
        sqlx::query(
            "INSERT INTO revocation_events (kind, user_id, jti, expires_at, created_at) VALUES ('jti', ?, ?, ?, ?)",
        )
        .bind(user_id)
        .bind(jti)
        .bind(expires_at)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if let Some(family) = family_id {
            self.queries.add(1);
            sqlx::query(
                "UPDATE refresh_families SET revoked_at = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(family)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn start_family(&self, first: &NewRefreshFor, now: i64) -> Result<i64, StoreError> {
        let mut tx = self.pool.begin().await?;
        self.queries.add(2);
        let family: i64 = sqlx::query_scalar(
            "INSERT INTO refresh_families (user_id, created_at) VALUES (?, ?) RETURNING id",
        )
        .bind(first.user_id)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO refresh_tokens (hash, family_id, user_id, expires_at, created_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&first.hash[..])
        .bind(family)
        .bind(first.user_id)
        .bind(first.expires_at)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(family)
    }

    async fn refresh_token(&self, hash: &[u8; 32]) -> Result<Option<RefreshRecord>, StoreError> {
        self.queries.add(1);
        let row = sqlx::query(
            "SELECT t.family_id, t.user_id, t.expires_at, t.used_at, f.revoked_at IS NOT NULL AS revoked \
             FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id WHERE t.hash = ?",
        )
        .bind(&hash[..])
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(RefreshRecord {
            hash: *hash,
            family_id: row.try_get("family_id")?,
            user_id: row.try_get("user_id")?,
            expires_at: row.try_get("expires_at")?,
            used_at: row.try_get("used_at")?,
            family_revoked: row.try_get("revoked")?,
        }))
    }

    async fn rotate_refresh(
        &self,
        old: &[u8; 32],
        successor: &NewRefresh,
        now: i64,
    ) -> Result<Rotation, StoreError> {
        let mut tx = self.pool.begin().await?;
        self.queries.add(1);
        let updated =
            sqlx::query("UPDATE refresh_tokens SET used_at = ? WHERE hash = ? AND used_at IS NULL")
                .bind(now)
                .bind(&old[..])
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if updated == 0 {
            self.queries.add(1);
            let used_at: Option<i64> =
                sqlx::query_scalar("SELECT used_at FROM refresh_tokens WHERE hash = ?")
                    .bind(&old[..])
                    .fetch_optional(&mut *tx)
                    .await?
                    .flatten();
            return Ok(Rotation::AlreadyUsed {
                used_at: used_at.unwrap_or(now),
            });
        }
        self.queries.add(1);
        sqlx::query(
            "INSERT INTO refresh_tokens (hash, family_id, user_id, expires_at, created_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&successor.hash[..])
        .bind(successor.family_id)
        .bind(successor.user_id)
        .bind(successor.expires_at)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Rotation::Rotated)
    }

    async fn revoke_family(&self, family_id: i64, now: i64) -> Result<(), StoreError> {
        self.queries.add(1);
        sqlx::query(
            "UPDATE refresh_families SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(family_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn events_after(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<RevocationEvent>, StoreError> {
        self.queries.add(1);
        let rows = sqlx::query(
            "SELECT id, kind, user_id, jti, version, expires_at, created_at FROM revocation_events \
             WHERE id > ? ORDER BY id LIMIT ?",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(event).collect::<Result<_, _>>()?)
    }

    async fn prune(&self, now: i64, versions_before: i64) -> Result<u64, StoreError> {
        self.queries.add(3);
        let mut gone = sqlx::query(
            "DELETE FROM revocation_events WHERE (kind = 'jti' AND expires_at < ?) OR (kind = 'version' AND created_at < ?)",
        )
        .bind(now)
        .bind(versions_before)
        .execute(&self.pool)
        .await?
        .rows_affected();
        gone += sqlx::query("DELETE FROM refresh_tokens WHERE expires_at < ?")
            .bind(now)
            .execute(&self.pool)
            .await?
            .rows_affected();
        gone += sqlx::query(
            "DELETE FROM refresh_families WHERE NOT EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.family_id = refresh_families.id)",
        )
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(gone)
    }

    async fn secret(&self, name: &str, fresh: &[u8]) -> Result<Vec<u8>, StoreError> {
        self.queries.add(2);
        sqlx::query(
            "INSERT INTO server_secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(fresh)
        .execute(&self.pool)
        .await?;
        Ok(
            sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = ?")
                .bind(name)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    fn queries(&self) -> u64 {
        self.queries.get()
    }
}
