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
}

/// The token of an `Authorization: Bearer <token>` header (RFC 6750 2.1),
/// parsed the same way as in resource servers.
pub(crate) use passcard_axum::bearer_token as bearer;

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
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
        Ok(Self { claims, user_id })
    }
}
