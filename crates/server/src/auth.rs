//! Bearer authentication: signature, time, iss, aud, typ, denylist and
//! token version, all in memory. No store query.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use crate::error::ApiError;
use crate::state::AppState;
use crate::tokens::TokenClaims;

/// The verified claims of the request's access token.
#[derive(Clone, Debug)]
pub struct Authenticated {
    /// The claims.
    pub claims: std::sync::Arc<TokenClaims>,
    /// The user id from `sub`.
    pub user_id: i64,
    /// In session mode, the hash of the session id.
    pub session: Option<[u8; 32]>,
}

/// The token of an `Authorization: Bearer <token>` header (RFC 6750 2.1),
/// parsed the same way as in resource servers.
pub(crate) use passcard_axum::bearer_token as bearer;

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if state.config.mode == crate::config::Mode::Session {
            return from_session(parts, state).await;
        }
        let mut values = parts.headers.get_all(AUTHORIZATION).iter();
        let (Some(value), None) = (values.next(), values.next()) else {
            let presented = parts.headers.contains_key(AUTHORIZATION);
            if presented {
                state.metrics.verify_failure("malformed_header");
            }
            return Err(ApiError::Unauthorized {
                presented,
                expired: false,
            });
        };
        let invalid = |reason: &'static str, expired: bool| {
            state.metrics.verify_failure(reason);
            ApiError::Unauthorized {
                presented: true,
                expired,
            }
        };
        let token = bearer(value.as_bytes()).ok_or_else(|| invalid("malformed_header", false))?;
        let now = state.now();
        let claims = match state
            .verified
            .get(token, now.as_secs(), state.config.leeway.as_secs())
        {
            Some(claims) => claims,
            None => {
                let verified = state
                    .keys
                    .verify::<TokenClaims>(token, &state.validator, now)
                    .map_err(|e| {
                        tracing::debug!(reason = e.reason(), error = %e, "access token refused");
                        invalid(e.reason(), e.is_expired())
                    })?;
                let claims = std::sync::Arc::new(verified.claims);
                state.verified.insert(token, claims.clone());
                claims
            }
        };
        if let Some(max) = state.config.revocation_max_lag {
            if state.revocations.lag() > max {
                state.metrics.verify_failure("revocation_view_stale");
                return Err(ApiError::RevocationViewStale);
            }
        }
        let user_id = claims.user_id;
        state
            .revocations
            .check(&claims.jti, user_id, claims.ver)
            .map_err(|r| {
                tracing::debug!(user = user_id, ?r, "access token revoked");
                invalid("revoked", false)
            })?;
        Ok(Self {
            claims,
            user_id,
            session: None,
        })
    }
}

/// Session mode: the cookie, one store lookup (session and user together).
async fn from_session(parts: &Parts, state: &AppState) -> Result<Authenticated, ApiError> {
    let Some(id) = crate::session::session_id(parts) else {
        return Err(ApiError::Unauthorized {
            presented: false,
            expired: false,
        });
    };
    let refused = |reason: &'static str| {
        state.metrics.verify_failure(reason);
        ApiError::Unauthorized {
            presented: true,
            expired: false,
        }
    };
    if !crate::tokens::is_refresh_token_shaped(id) {
        return Err(refused("malformed"));
    }
    crate::session::check_csrf(parts)?;
    let hash = crate::tokens::refresh_hash(id);
    let now = crate::state::now_secs();
    let idle = crate::state::secs(state.config.session_idle.as_secs());
    let (user, record) = state
        .sessions
        .session(&hash, now, now + idle)
        .await?
        .ok_or_else(|| refused("unknown_session"))?;
    if user.disabled {
        return Err(refused("revoked"));
    }
    let claims = TokenClaims {
        user_id: user.id,
        role: user.role,
        iat: u64::try_from(record.created_at).unwrap_or_default(),
        exp: u64::try_from(record.expires_at).unwrap_or_default(),
        jti: crate::tokens::session_label(&hash),
        ver: user.token_version,
        family_id: 0,
    };
    Ok(Authenticated {
        claims: std::sync::Arc::new(claims),
        user_id: user.id,
        session: Some(hash),
    })
}
