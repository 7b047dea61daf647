//! Server-side sessions (session mode): the stateful opponent.
//!
//! A login creates a session whose id (256 random bits) goes to the client
//! in a cookie; only its SHA-256 is stored. Every authenticated request
//! looks the session and its user up in the store, so a logout, a role
//! change or a ban applies at the next request; that lookup is the cost
//! the stateless mode avoids.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use passcard_axum::AccessClaims;
use passcard_store::{NewSession, User};

use super::{Auth, Caller, Error, SessionGrant, secs, tokens};
use crate::config::Mode;

impl Auth {
    /// Creates a session for `user`.
    pub(super) async fn start_session(&self, user: &User) -> Result<SessionGrant, Error> {
        let Mode::Session(settings) = &self.mode else {
            return Err(Error::WrongMode);
        };
        let id = tokens::new_refresh_token()?;
        let now = self.now_secs();
        let ended = self
            .sessions
            .create_session(
                &NewSession {
                    hash: tokens::refresh_hash(&id),
                    user_id: user.id,
                    idle_expires_at: now + secs(settings.idle.as_secs()),
                    expires_at: now + secs(settings.ttl.as_secs()),
                    max_per_user: self.accounts.max_logins_per_user,
                },
                now,
            )
            .await?;
        tracing::info!(user = user.id, ended, "login (session)");
        Ok(SessionGrant { id })
    }

    /// The caller a session id stands for: one store lookup (session and
    /// user together), sliding the idle expiry.
    pub async fn authenticate_session(&self, id: &str) -> Result<Caller, Error> {
        let Mode::Session(settings) = &self.mode else {
            return Err(Error::WrongMode);
        };
        if !tokens::is_refresh_token_shaped(id) {
            return Err(Error::Unauthenticated {
                reason: "malformed",
            });
        }
        let hash = tokens::refresh_hash(id);
        let now = self.now_secs();
        let idle = secs(settings.idle.as_secs());
        let (user, record) =
            self.sessions
                .session(&hash, now, now + idle)
                .await?
                .ok_or(Error::Unauthenticated {
                    reason: "unknown_session",
                })?;
        if user.disabled {
            return Err(Error::Unauthenticated { reason: "revoked" });
        }
        let claims = AccessClaims {
            iss: self.tokens.issuer.clone(),
            aud: self.tokens.audience.clone().into(),
            sub: user.id,
            role: user.role,
            iat: u64::try_from(record.created_at).unwrap_or_default(),
            exp: u64::try_from(record.expires_at).unwrap_or_default(),
            jti: tokens::session_label(&hash),
            ver: user.token_version,
            sid: 0,
        };
        Ok(Caller {
            claims: Arc::new(claims),
            session: Some(hash),
        })
    }

    /// Whether sessions can be reached, in session mode: a session store of
    /// its own (Redis) answered its last check, or, with sessions in the
    /// main database, the last read of the revocation log reached it.
    pub fn sessions_reachable(&self) -> Option<bool> {
        match &self.mode {
            Mode::Token => None,
            Mode::Session(s) if s.store.is_some() => {
                Some(self.sessions_reachable.load(Ordering::Relaxed))
            }
            Mode::Session(_) => Some(self.revocations.store_reachable()),
        }
    }

    /// Checks a session store of its own (Redis) every `every` until
    /// dropped, for [`sessions_reachable`](Self::sessions_reachable);
    /// returns at once when sessions live in the main database.
    pub async fn watch_sessions(&self, every: Duration) {
        if !matches!(&self.mode, Mode::Session(s) if s.store.is_some()) {
            return;
        }
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let answered = match self.sessions.check().await {
                Ok(()) => true,
                Err(e) => {
                    tracing::warn!(error = %e, "the session store does not answer");
                    false
                }
            };
            self.sessions_reachable.store(answered, Ordering::Relaxed);
        }
    }
}
