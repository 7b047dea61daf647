//! The one implementation of [`crate::Store`] in SQL, shared by every
//! backend. Queries use `$N` placeholders (which SQLite and PostgreSQL both
//! accept) and only BIGINT/TEXT/bytes columns, so the backends differ only
//! in their migrations and their connection set-up.

/// Implements `Store` for `$store` (a struct with `pool: sqlx::Pool<$db>`
/// and `queries: QueryCounter`, and inherent `listen_impl`, `close_impl`
/// and `reader`, which lends a connection for the reads on every request's
/// path: a session and its user, a user by id or name).
/// `$lock_events` is a statement run in a transaction before it appends to
/// the revocation log, so event ids become visible in increasing order
/// (empty where writes are serial); `$notify` runs after the append and
/// signals listeners on commit (empty where there is no push channel).
macro_rules! impl_store {
    ($store:ty, $db:ty, $lock_events:expr, $notify:expr) => {
        const USER_COLUMNS: &str = "id, username, password_hash, role, disabled, token_version";

        fn user(row: &<$db as sqlx::Database>::Row) -> Result<$crate::User, sqlx::Error> {
            use sqlx::Row as _;
            Ok($crate::User {
                id: row.try_get("id")?,
                username: row.try_get("username")?,
                password_hash: row.try_get("password_hash")?,
                role: row.try_get("role")?,
                disabled: row.try_get::<i64, _>("disabled")? != 0,
                token_version: row.try_get("token_version")?,
            })
        }

        fn event(
            row: &<$db as sqlx::Database>::Row,
        ) -> Result<$crate::RevocationEvent, sqlx::Error> {
            use sqlx::Row as _;
            let kind: String = row.try_get("kind")?;
            let number = |column: &str| -> Result<i64, sqlx::Error> {
                Ok(row.try_get::<Option<i64>, _>(column)?.unwrap_or_default())
            };
            let revocation = match kind.as_str() {
                "jti" => $crate::Revocation::Jti {
                    jti: row.try_get::<Option<String>, _>("jti")?.unwrap_or_default(),
                    expires_at: number("expires_at")?,
                },
                "family" => $crate::Revocation::Family {
                    family_id: number("family_id")?,
                },
                _ => $crate::Revocation::Version {
                    version: number("version")?,
                },
            };
            Ok($crate::RevocationEvent::new(
                row.try_get("id")?,
                row.try_get("user_id")?,
                revocation,
                row.try_get("created_at")?,
            ))
        }

        fn is_unique_violation(e: &sqlx::Error) -> bool {
            matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
        }

        impl $store {
            /// Serialises appends to the revocation log within `tx`.
            async fn lock_events(
                &self,
                tx: &mut <$db as sqlx::Database>::Connection,
            ) -> Result<(), $crate::StoreError> {
                let lock: &str = $lock_events;
                if !lock.is_empty() {
                    self.queries.add(1);
                    sqlx::query(lock).execute(&mut *tx).await?;
                }
                Ok(())
            }

            /// Signals listeners (on commit) that the log grew.
            async fn notify_events(
                &self,
                tx: &mut <$db as sqlx::Database>::Connection,
            ) -> Result<(), $crate::StoreError> {
                let notify: &str = $notify;
                if !notify.is_empty() {
                    self.queries.add(1);
                    sqlx::query(notify).execute(&mut *tx).await?;
                }
                Ok(())
            }

            /// Bumps the version and logs it, inside `tx`.
            async fn bump_version(
                &self,
                tx: &mut <$db as sqlx::Database>::Connection,
                id: i64,
                now: i64,
            ) -> Result<Option<i64>, $crate::StoreError> {
                self.lock_events(&mut *tx).await?;
                self.queries.add(1);
                let Some(version) = sqlx::query_scalar::<_, i64>(
                    "UPDATE users SET token_version = token_version + 1 WHERE id = $1 RETURNING token_version",
                )
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                else {
                    return Ok(None);
                };
                self.queries.add(1);
                sqlx::query(
                    "INSERT INTO revocation_events (kind, user_id, version, created_at) VALUES ('version', $1, $2, $3)",
                )
                .bind(id)
                .bind(version)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                self.notify_events(&mut *tx).await?;
                Ok(Some(version))
            }

            /// Revokes a family inside `tx`, logging it when it was live.
            async fn revoke_family_in(
                &self,
                tx: &mut <$db as sqlx::Database>::Connection,
                family_id: i64,
                user_id: Option<i64>,
                now: i64,
            ) -> Result<(), $crate::StoreError> {
                self.queries.add(1);
                let user: Option<i64> = sqlx::query_scalar(
                    "UPDATE refresh_families SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL \
                     AND ($3 IS NULL OR user_id = $3) RETURNING user_id",
                )
                .bind(now)
                .bind(family_id)
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some(user) = user {
                    self.queries.add(1);
                    sqlx::query(
                        "INSERT INTO revocation_events (kind, user_id, family_id, created_at) VALUES ('family', $1, $2, $3)",
                    )
                    .bind(user)
                    .bind(family_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                Ok(())
            }

            async fn user_where_id(
                &self,
                tx: &mut <$db as sqlx::Database>::Connection,
                id: i64,
            ) -> Result<$crate::User, $crate::StoreError> {
                self.queries.add(1);
                let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await?;
                Ok(user(&row)?)
            }
        }

        #[async_trait::async_trait]
        impl $crate::SessionStore for $store {
            async fn create_session(
                &self,
                session: &$crate::NewSession,
                now: i64,
            ) -> Result<u64, $crate::StoreError> {
                $crate::sql::retrying!(self, false, {
                    let mut tx = self.pool.begin().await?;
                    self.queries.add(2);
                    sqlx::query(
                        "INSERT INTO sessions (hash, user_id, created_at, idle_expires_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(&session.hash[..])
                    .bind(session.user_id)
                    .bind(now)
                    .bind(session.idle_expires_at)
                    .bind(session.expires_at)
                    .execute(&mut *tx)
                    .await?;
                    // The user's live sessions past the newest
                    // `max_per_user - 1` others end, this one kept.
                    let ended = sqlx::query(
                        "DELETE FROM sessions WHERE hash IN (SELECT hash FROM sessions \
                         WHERE user_id = $1 AND hash <> $2 AND expires_at > $3 AND idle_expires_at > $3 \
                         ORDER BY created_at DESC, hash DESC LIMIT 1000 OFFSET $4)",
                    )
                    .bind(session.user_id)
                    .bind(&session.hash[..])
                    .bind(now)
                    .bind(i64::from(session.max_per_user.saturating_sub(1)))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    $crate::sql::commit(tx).await?;
                    Ok(ended)
                })
            }

            async fn session(
                &self,
                hash: &[u8; 32],
                now: i64,
                idle_until: i64,
            ) -> Result<Option<($crate::User, $crate::SessionRecord)>, $crate::StoreError> {
                $crate::sql::retrying!(self, true, {
                    use sqlx::Row as _;
                    self.queries.add(1);
                    let row = sqlx::query(
                        "SELECT u.id, u.username, u.password_hash, u.role, u.disabled, u.token_version, \
                         s.created_at, s.idle_expires_at, s.expires_at \
                         FROM sessions s JOIN users u ON u.id = s.user_id \
                         WHERE s.hash = $1 AND s.expires_at > $2 AND s.idle_expires_at > $2",
                    )
                    .bind(&hash[..])
                    .bind(now)
                    .fetch_optional(&mut *self.reader().await?)
                    .await?;
                    let Some(row) = row else { return Ok(None) };
                    let mut record = $crate::SessionRecord {
                        created_at: row.try_get("created_at")?,
                        idle_expires_at: row.try_get("idle_expires_at")?,
                        expires_at: row.try_get("expires_at")?,
                    };
                    let slide_to = idle_until.min(record.expires_at);
                    // Slide only when less than half of the idle time is left.
                    if (record.idle_expires_at - now) * 2 < (idle_until - now) && slide_to > record.idle_expires_at {
                        self.queries.add(1);
                        sqlx::query("UPDATE sessions SET idle_expires_at = $1 WHERE hash = $2")
                            .bind(slide_to)
                            .bind(&hash[..])
                            .execute(&self.pool)
                            .await?;
                        record.idle_expires_at = slide_to;
                    }
                    Ok(Some((user(&row)?, record)))
                })
            }

            async fn delete_session(&self, hash: &[u8; 32]) -> Result<(), $crate::StoreError> {
                $crate::sql::retrying!(self, true, {
                    self.queries.add(1);
                    sqlx::query("DELETE FROM sessions WHERE hash = $1")
                        .bind(&hash[..])
                        .execute(&self.pool)
                        .await?;
                    Ok(())
                })
            }

            async fn delete_user_sessions(&self, user_id: i64) -> Result<u64, $crate::StoreError> {
                $crate::sql::retrying!(self, true, {
                    self.queries.add(1);
                    Ok(sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                        .bind(user_id)
                        .execute(&self.pool)
                        .await?
                        .rows_affected())
                })
            }
        }

        #[async_trait::async_trait]
        impl $crate::Store for $store {
            async fn create_user(
                &self,
                username: &str,
                password_hash: &str,
                role: &str,
                now: i64,
            ) -> Result<$crate::User, $crate::StoreError> {
                $crate::sql::retrying!(self, false, {
                    self.queries.add(1);
                    let row = sqlx::query(&format!(
                        "INSERT INTO users (username, password_hash, role, created_at) VALUES ($1, $2, $3, $4) RETURNING {USER_COLUMNS}"
                    ))
                    .bind(username)
                    .bind(password_hash)
                    .bind(role)
                    .bind(now)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(|e| {
                        if is_unique_violation(&e) {
                            $crate::StoreError::Conflict
                        } else {
                            $crate::StoreError::Database(e)
                        }
                    })?;
                    Ok(user(&row)?)
                })
            }

            async fn user_by_name(
                &self,
                username: &str,
            ) -> Result<Option<$crate::User>, $crate::StoreError> {
                $crate::sql::retrying!(self, true, {
                    self.queries.add(1);
                    let row =
                        sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1"))
                            .bind(username)
                            .fetch_optional(&mut *self.reader().await?)
                            .await?;
                    Ok(row.as_ref().map(user).transpose()?)
                })
            }

            async fn user_by_id(&self, id: i64) -> Result<Option<$crate::User>, $crate::StoreError> {
                $crate::sql::retrying!(self, true, {
                    self.queries.add(1);
                    let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
                        .bind(id)
                        .fetch_optional(&mut *self.reader().await?)
                        .await?;
                    Ok(row.as_ref().map(user).transpose()?)
                })
            }

            async fn list_users(
                &self,
                search: Option<&str>,
                after: i64,
                limit: u32,
            ) -> Result<Vec<$crate::User>, $crate::StoreError> {
                // `%` and `_` in the search are literal.
                let pattern = search.filter(|s| !s.is_empty()).map(|s| {
                    let mut p = String::with_capacity(s.len() + 2);
                    p.push('%');
                    for c in s.to_ascii_lowercase().chars() {
                        if matches!(c, '%' | '_' | '\\') {
                            p.push('\\');
                        }
                        p.push(c);
                    }
                    p.push('%');
                    p
                });
                $crate::sql::retrying!(self, true, {
                    self.queries.add(1);
                    let rows = sqlx::query(&format!(
                        "SELECT {USER_COLUMNS} FROM users WHERE id > $1 \
                         AND ($2 IS NULL OR username LIKE $2 ESCAPE '\\') \
                         ORDER BY id LIMIT $3"
                    ))
                    .bind(after)
                    .bind(pattern.as_deref())
                    .bind(i64::from(limit))
                    .fetch_all(&mut *self.reader().await?)
                    .await?;
                    Ok(rows.iter().map(user).collect::<Result<Vec<_>, _>>()?)
                })
            }

            async fn set_role(
                &self,
                id: i64,
                role: &str,
                now: i64,
            ) -> Result<Option<$crate::User>, $crate::StoreError> {
                $crate::sql::retrying!(self, true, {
                    let mut tx = self.pool.begin().await?;
                    // Every revoking transaction takes the log lock before any
                    // row lock, so two of them cannot deadlock.
                    self.lock_events(&mut tx).await?;
                    self.queries.add(1);
                    let changed = sqlx::query("UPDATE users SET role = $1 WHERE id = $2")
                        .bind(role)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    if changed == 0 {
                        return Ok(None);
                    }
                    self.bump_version(&mut tx, id, now).await?;
                    let user = self.user_where_id(&mut tx, id).await?;
                    $crate::sql::commit(tx).await?;
                    Ok(Some(user))
                })
            }

            async fn revoke_user(
                &self,
                id: i64,
                disable: bool,
                now: i64,
            ) -> Result<Option<$crate::User>, $crate::StoreError> {
                $crate::sql::retrying!(self, true, {
                    let mut tx = self.pool.begin().await?;
                    if self.bump_version(&mut tx, id, now).await?.is_none() {
                        return Ok(None);
                    }
                    if disable {
                        self.queries.add(1);
                        sqlx::query("UPDATE users SET disabled = 1 WHERE id = $1")
                            .bind(id)
                            .execute(&mut *tx)
                            .await?;
                    }
                    self.queries.add(1);
                    sqlx::query(
                        "UPDATE refresh_families SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
                    )
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                    let user = self.user_where_id(&mut tx, id).await?;
                    $crate::sql::commit(tx).await?;
                    Ok(Some(user))
                })
            }

            async fn revoke_token(
                &self,
                user_id: i64,
                jti: &str,
                expires_at: i64,
                family_id: Option<i64>,
                now: i64,
            ) -> Result<(), $crate::StoreError> {
                $crate::sql::retrying!(self, true, {
                    let mut tx = self.pool.begin().await?;
                    self.lock_events(&mut tx).await?;
                    self.queries.add(1);
                    sqlx::query(
                        "INSERT INTO revocation_events (kind, user_id, jti, expires_at, created_at) VALUES ('jti', $1, $2, $3, $4)",
                    )
                    .bind(user_id)
                    .bind(jti)
                    .bind(expires_at)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    if let Some(family) = family_id {
                        self.revoke_family_in(&mut tx, family, Some(user_id), now).await?;
                    }
                    self.notify_events(&mut tx).await?;
                    $crate::sql::commit(tx).await?;
                    Ok(())
                })
            }

            async fn start_family(
                &self,
                first: &$crate::NewRefreshFor,
                now: i64,
            ) -> Result<$crate::FamilyStarted, $crate::StoreError> {
                $crate::sql::retrying!(self, false, {
                    let mut tx = self.pool.begin().await?;
                    self.queries.add(2);
                    let family: i64 = sqlx::query_scalar(
                        "INSERT INTO refresh_families (user_id, created_at) VALUES ($1, $2) RETURNING id",
                    )
                    .bind(first.user_id)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await?;
                    sqlx::query(
                        "INSERT INTO refresh_tokens (hash, family_id, user_id, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(&first.hash[..])
                    .bind(family)
                    .bind(first.user_id)
                    .bind(first.expires_at)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    // The user's live families past the newest
                    // `max_per_user` (this one among them) end.
                    self.queries.add(1);
                    let over: Vec<i64> = sqlx::query_scalar(
                        "SELECT f.id FROM refresh_families f WHERE f.user_id = $1 AND f.revoked_at IS NULL \
                         AND EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.family_id = f.id AND t.expires_at > $2) \
                         ORDER BY f.id DESC LIMIT 1000 OFFSET $3",
                    )
                    .bind(first.user_id)
                    .bind(now)
                    .bind(i64::from(first.max_per_user))
                    .fetch_all(&mut *tx)
                    .await?;
                    if !over.is_empty() {
                        self.lock_events(&mut tx).await?;
                        for old in &over {
                            self.revoke_family_in(&mut tx, *old, Some(first.user_id), now)
                                .await?;
                        }
                        self.notify_events(&mut tx).await?;
                    }
                    $crate::sql::commit(tx).await?;
                    Ok($crate::FamilyStarted {
                        id: family,
                        ended: over.len() as u64,
                    })
                })
            }

            async fn refresh_token(
                &self,
                hash: &[u8; 32],
            ) -> Result<Option<$crate::RefreshRecord>, $crate::StoreError> {
                $crate::sql::retrying!(self, true, {
                    use sqlx::Row as _;
                    self.queries.add(1);
                    let row = sqlx::query(
                        "SELECT t.family_id, t.user_id, t.expires_at, t.used_at, f.revoked_at \
                         FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id WHERE t.hash = $1",
                    )
                    .bind(&hash[..])
                    .fetch_optional(&self.pool)
                    .await?;
                    let Some(row) = row else { return Ok(None) };
                    Ok(Some($crate::RefreshRecord {
                        hash: *hash,
                        family_id: row.try_get("family_id")?,
                        user_id: row.try_get("user_id")?,
                        expires_at: row.try_get("expires_at")?,
                        used_at: row.try_get("used_at")?,
                        family_revoked: row.try_get::<Option<i64>, _>("revoked_at")?.is_some(),
                    }))
                })
            }

            async fn rotate_refresh(
                &self,
                old: &[u8; 32],
                successor: &$crate::NewRefresh,
                now: i64,
            ) -> Result<$crate::Rotation, $crate::StoreError> {
                $crate::sql::retrying!(self, true, {
                    let mut tx = self.pool.begin().await?;
                    self.queries.add(1);
                    // Conditions re-checked at the moment of rotation, so a
                    // refresh racing a logout cannot rotate a revoked family.
                    let updated = sqlx::query(
                        "UPDATE refresh_tokens SET used_at = $1 WHERE hash = $2 AND used_at IS NULL \
                         AND expires_at > $1 AND NOT EXISTS (SELECT 1 FROM refresh_families f \
                         WHERE f.id = refresh_tokens.family_id AND f.revoked_at IS NOT NULL)",
                    )
                    .bind(now)
                    .bind(&old[..])
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if updated == 0 {
                        use sqlx::Row as _;
                        self.queries.add(1);
                        let row = sqlx::query(
                            "SELECT t.used_at, t.expires_at, f.revoked_at FROM refresh_tokens t \
                             JOIN refresh_families f ON f.id = t.family_id WHERE t.hash = $1",
                        )
                        .bind(&old[..])
                        .fetch_optional(&mut *tx)
                        .await?;
                        let Some(row) = row else {
                            return Ok($crate::Rotation::Refused);
                        };
                        let used_at: Option<i64> = row.try_get("used_at")?;
                        let expires_at: i64 = row.try_get("expires_at")?;
                        let revoked: Option<i64> = row.try_get("revoked_at")?;
                        return Ok(match used_at {
                            Some(used_at) if revoked.is_none() && expires_at > now => {
                                $crate::Rotation::AlreadyUsed { used_at }
                            }
                            _ => $crate::Rotation::Refused,
                        });
                    }
                    self.queries.add(1);
                    sqlx::query(
                        "INSERT INTO refresh_tokens (hash, family_id, user_id, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(&successor.hash[..])
                    .bind(successor.family_id)
                    .bind(successor.user_id)
                    .bind(successor.expires_at)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    $crate::sql::commit(tx).await?;
                    Ok($crate::Rotation::Rotated)
                })
            }

            async fn revoke_family(&self, family_id: i64, now: i64) -> Result<(), $crate::StoreError> {
                $crate::sql::retrying!(self, true, {
                    let mut tx = self.pool.begin().await?;
                    self.lock_events(&mut tx).await?;
                    self.revoke_family_in(&mut tx, family_id, None, now).await?;
                    self.notify_events(&mut tx).await?;
                    $crate::sql::commit(tx).await?;
                    Ok(())
                })
            }

            async fn events_after(
                &self,
                after: i64,
                limit: i64,
            ) -> Result<Vec<$crate::RevocationEvent>, $crate::StoreError> {
                $crate::sql::retrying!(self, true, {
                    self.queries.add(1);
                    let rows = sqlx::query(
                        "SELECT id, kind, user_id, jti, version, family_id, expires_at, created_at FROM revocation_events \
                         WHERE id > $1 ORDER BY id LIMIT $2",
                    )
                    .bind(after)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                    Ok(rows.iter().map(event).collect::<Result<_, _>>()?)
                })
            }

            async fn prune(
                &self,
                now: i64,
                jti_before: i64,
                versions_before: i64,
            ) -> Result<u64, $crate::StoreError> {
                $crate::sql::retrying!(self, true, {
                    self.queries.add(3);
                    let mut gone = sqlx::query(
                        "DELETE FROM revocation_events WHERE (kind = 'jti' AND expires_at < $1) \
                         OR (kind IN ('version', 'family') AND created_at < $2)",
                    )
                    .bind(jti_before)
                    .bind(versions_before)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                    self.queries.add(1);
                    gone += sqlx::query("DELETE FROM sessions WHERE expires_at < $1 OR idle_expires_at < $1")
                        .bind(now)
                        .execute(&self.pool)
                        .await?
                        .rows_affected();
                    gone += sqlx::query("DELETE FROM refresh_tokens WHERE expires_at < $1")
                        .bind(now)
                        .execute(&self.pool)
                        .await?
                        .rows_affected();
                    gone += sqlx::query(
                        "DELETE FROM refresh_families WHERE NOT EXISTS \
                         (SELECT 1 FROM refresh_tokens t WHERE t.family_id = refresh_families.id)",
                    )
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                    Ok(gone)
                })
            }

            async fn secret(&self, name: &str, fresh: &[u8]) -> Result<Vec<u8>, $crate::StoreError> {
                $crate::sql::retrying!(self, true, {
                    self.queries.add(2);
                    sqlx::query(
                        "INSERT INTO server_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                    )
                    .bind(name)
                    .bind(fresh)
                    .execute(&self.pool)
                    .await?;
                    Ok(
                        sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = $1")
                            .bind(name)
                            .fetch_one(&self.pool)
                            .await?,
                    )
                })
            }

            async fn listen(
                &self,
            ) -> Result<Option<Box<dyn $crate::Listener>>, $crate::StoreError> {
                self.listen_impl().await
            }

            fn queries(&self) -> u64 {
                self.queries.get()
            }

            async fn close(&self) {
                self.close_impl().await;
            }
        }
    };
}

pub(crate) use impl_store;

/// Runs `$body` (a block of type `Result<_, StoreError>`, with `?`
/// inside), [bounded] in time, and once more when it failed on a
/// connection that had died:
/// always when the server ended the connection before running anything
/// (a restart, a failover, `pg_terminate_backend`), and when the failure
/// left it unknown whether the statement took effect only if `$idempotent`.
/// The failure is noted first, so the retry's connection is checked
/// before use.
macro_rules! retrying {
    ($self:ident, $idempotent:expr, $body:block) => {{
        $crate::sql::bounded(async {
            let mut retried = false;
            loop {
                let result = async $body.await;
                match result {
                    Err(e) if !retried && $crate::sql::retryable(&e, $idempotent) => {
                        tracing::debug!(error = %e, "a store connection had died; trying once more on another");
                        $self.note_dead_connection();
                        retried = true;
                    }
                    other => break other,
                }
            }
        })
        .await
    }};
}

pub(crate) use retrying;

/// `call`, or [`StoreError::TimedOut`](crate::StoreError::TimedOut) once it
/// has taken [`CALL_TIMEOUT`](crate::CALL_TIMEOUT). A server that is
/// paused or hangs keeps its connections open and acknowledges what is
/// sent, so nothing else would end the wait; the connection left
/// mid-query is tested by the pool before it is used again.
pub(crate) async fn bounded<T>(
    call: impl std::future::Future<Output = Result<T, crate::StoreError>>,
) -> Result<T, crate::StoreError> {
    tokio::time::timeout(crate::CALL_TIMEOUT, call)
        .await
        .unwrap_or(Err(crate::StoreError::TimedOut(crate::CALL_TIMEOUT)))
}

/// Commits `tx`, telling a failure apart: after a failed COMMIT the
/// transaction may or may not have taken effect.
pub(crate) async fn commit<DB: sqlx::Database>(
    tx: sqlx::Transaction<'_, DB>,
) -> Result<(), crate::StoreError> {
    tx.commit().await.map_err(crate::StoreError::Commit)
}

/// Whether a failed call may run again: see [`retrying`].
pub(crate) fn retryable(e: &crate::StoreError, idempotent: bool) -> bool {
    use crate::StoreError as E;
    match e {
        // The server ended the connection: the statement never ran.
        E::Database(sqlx::Error::Database(db)) => db.code().is_some_and(|c| {
            matches!(&*c, "57P01" | "57P02" | "57P03") || (idempotent && c.starts_with("08"))
        }),
        // Lost on the way, before the outcome was known.
        E::Database(sqlx::Error::Io(_)) | E::Commit(_) => idempotent,
        _ => false,
    }
}
