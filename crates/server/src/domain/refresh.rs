//! Refresh-token rotation: every use rotates; a retry within the reuse
//! interval gets the same successor; a reuse after it is theft and
//! revokes the family.

use passcard_store::{NewRefresh, Rotation};

use super::{Auth, Error, FamilyWrite, TokenPair, secs, tokens};
use crate::config::Mode;

impl Auth {
    /// Rotates a refresh token: a new access token (with the user's
    /// current role and version) and the token's successor.
    pub async fn refresh(&self, token: &str) -> Result<TokenPair, Error> {
        if let Mode::Session(_) = self.mode {
            return Err(Error::WrongMode);
        }
        if !tokens::is_refresh_token_shaped(token) {
            return Err(Error::InvalidRefreshToken);
        }
        let now = self.now_secs();
        let hash = tokens::refresh_hash(token);
        let record = self
            .store
            .refresh_token(&hash)
            .await?
            .ok_or(Error::InvalidRefreshToken)?;
        if record.family_revoked || record.expires_at <= now {
            return Err(Error::InvalidRefreshToken);
        }
        // Refresh re-reads the user: the new access token carries the current
        // role and version, and a banned user gets nothing.
        let user = match self.store.user_by_id(record.user_id).await? {
            Some(u) if !u.disabled => u,
            _ => {
                self.store.revoke_family(record.family_id, now).await?;
                self.apply_revocations().await?;
                return Err(Error::InvalidRefreshToken);
            }
        };
        let next = tokens::successor(&self.refresh_mac, token);
        let reuse = secs(self.tokens.refresh_reuse_interval.as_secs());
        let ttl = secs(self.tokens.refresh_ttl.as_secs());
        let used_at = match record.used_at {
            Some(used_at) => used_at,
            None => {
                self.family_may_write(record.family_id, FamilyWrite::Rotation)?;
                // The reuse interval starts when the rotation is written,
                // not when this request began: a request the store held up
                // (and the request deadline then cut short, after the
                // commit) leaves its client the whole interval to retry.
                let rotated_at = self.now_secs();
                let successor = NewRefresh {
                    hash: tokens::refresh_hash(&next),
                    family_id: record.family_id,
                    user_id: user.id,
                    expires_at: rotated_at + ttl,
                };
                match self
                    .store
                    .rotate_refresh(&hash, &successor, rotated_at)
                    .await?
                {
                    Rotation::Rotated => {
                        self.family_wrote(record.family_id, FamilyWrite::Rotation);
                        return self.pair(&user, record.family_id, next, rotated_at + ttl);
                    }
                    // Another request rotated it a moment ago.
                    Rotation::AlreadyUsed { used_at } => used_at,
                    // Revoked (a logout raced this refresh) or expired meanwhile.
                    Rotation::Refused => return Err(Error::InvalidRefreshToken),
                }
            }
        };
        if now - used_at < reuse {
            // A retry or a second tab: the same successor, a fresh access
            // token, unless a logout revoked the family since the first read.
            let again = self.store.refresh_token(&hash).await?;
            if !again.is_some_and(|r| !r.family_revoked && r.expires_at > now) {
                return Err(Error::InvalidRefreshToken);
            }
            return self.pair(&user, record.family_id, next, used_at + ttl);
        }
        // Theft: the whole login ends, its access tokens included, on every
        // instance.
        self.store.revoke_family(record.family_id, now).await?;
        self.apply_revocations().await?;
        tracing::warn!(
            user = user.id,
            family = record.family_id,
            "rotated refresh token presented again after the reuse interval: the login is revoked"
        );
        Err(Error::InvalidRefreshToken)
    }
}
