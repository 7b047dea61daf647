//! What the OAuth endpoints need beyond login and refresh: whether a
//! refresh token is live (introspection, RFC 7662), and revoking a token
//! its holder presents (RFC 7009). Access tokens are verified by the
//! HTTP layer's pipeline, in memory, before they reach here.

use passcard_axum::AccessClaims;
use passcard_store::User;

use super::{Auth, Error, FamilyWrite, tokens};
use crate::config::Mode;

/// A live refresh token, as introspection describes it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RefreshInfo {
    /// Its user (not banned).
    pub user: User,
    /// Unix seconds after which it is refused.
    pub expires_at: i64,
    /// Its family: the login it belongs to.
    pub family_id: i64,
}

impl Auth {
    /// The refresh token's user and lifetime while it can still be
    /// rotated: unused, unexpired, its family live, its user not banned;
    /// `None` for anything else (including a token already rotated: its
    /// successor is the live one).
    pub async fn refresh_info(&self, token: &str) -> Result<Option<RefreshInfo>, Error> {
        if self.mode != Mode::Token || !tokens::is_refresh_token_shaped(token) {
            return Ok(None);
        }
        let Some(record) = self
            .store
            .refresh_token(&tokens::refresh_hash(token))
            .await?
        else {
            return Ok(None);
        };
        if record.family_revoked || record.used_at.is_some() || record.expires_at <= self.now_secs()
        {
            return Ok(None);
        }
        Ok(match self.store.user_by_id(record.user_id).await? {
            Some(user) if !user.disabled => Some(RefreshInfo {
                user,
                expires_at: record.expires_at,
                family_id: record.family_id,
            }),
            _ => None,
        })
    }

    /// Revokes the login a refresh token belongs to (its whole family, the
    /// access tokens minted in it included), if the token is one of ours;
    /// an unknown or already revoked token changes nothing.
    pub async fn revoke_refresh_token(&self, token: &str) -> Result<(), Error> {
        if !tokens::is_refresh_token_shaped(token) {
            return Ok(());
        }
        let Some(record) = self
            .store
            .refresh_token(&tokens::refresh_hash(token))
            .await?
        else {
            return Ok(());
        };
        if record.family_revoked {
            return Ok(());
        }
        self.store
            .revoke_family(record.family_id, self.now_secs())
            .await?;
        self.apply_revocations().await?;
        tracing::info!(
            user = record.user_id,
            family = record.family_id,
            "refresh token revoked by its holder"
        );
        Ok(())
    }

    /// Denylists one verified access token until its expiry (its login
    /// goes on: a refresh gives a new one).
    pub async fn revoke_access_token(&self, claims: &AccessClaims) -> Result<(), Error> {
        self.family_may_write(claims.sid, FamilyWrite::Revocation)?;
        self.store
            .revoke_token(
                claims.sub,
                &claims.jti,
                i64::try_from(claims.exp).unwrap_or(i64::MAX),
                None,
                self.now_secs(),
            )
            .await?;
        // Counted once written: a try the store refused costs nothing.
        self.family_wrote(claims.sid, FamilyWrite::Revocation);
        self.apply_revocations().await?;
        tracing::info!(user = claims.sub, "access token revoked by its holder");
        Ok(())
    }
}
