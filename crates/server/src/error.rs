//! API errors as `application/problem+json` (RFC 9457), with stable types.
//!
//! Details that help an attacker (which check failed, whether a user
//! exists) stay in the logs; clients get one answer per kind of failure.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Everything a handler can answer besides success.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed (JSON, fields, parameters).
    #[error("{0}")]
    BadRequest(String),
    /// The body is not JSON.
    #[error("expected a JSON body (Content-Type: application/json)")]
    UnsupportedMediaType,
    /// The body is over the limit.
    #[error("request body too large")]
    PayloadTooLarge,
    /// Bearer authentication failed or is missing (RFC 6750).
    #[error("authentication required")]
    Unauthorized {
        /// Whether a token was presented (then `error="invalid_token"`).
        presented: bool,
        /// Whether the token was otherwise fine but expired: refresh.
        expired: bool,
    },
    /// Wrong username or password, or a disabled account: one answer.
    #[error("invalid username or password")]
    InvalidCredentials,
    /// A refresh token that is unknown, expired, revoked or reused.
    #[error("invalid refresh token")]
    InvalidRefreshToken,
    /// Authenticated, but the token's role may not do this.
    #[error("this needs the admin role")]
    InsufficientScope,
    /// A cookie-authenticated unsafe request that may come from another
    /// site (no CSRF header, no same-origin `Origin`).
    #[error("cross-site request refused: send X-Passcard-CSRF or a same-origin Origin header")]
    CrossSite,
    /// The endpoint does not exist in this mode (refresh in session mode).
    #[error("not available in this mode")]
    WrongMode,
    /// Registration is closed.
    #[error("registration is closed")]
    RegistrationClosed,
    /// No such resource.
    #[error("not found")]
    NotFound,
    /// The username is taken.
    #[error("username already taken")]
    Conflict,
    /// Too many failed attempts.
    #[error("too many failed attempts; retry later")]
    TooManyRequests {
        /// When to retry.
        retry_after: Duration,
    },
    /// The revocation view is older than PASSCARD_REVOCATION_MAX_LAG: the
    /// server cannot tell whether a token was revoked, and fails closed.
    #[error("cannot check revocations right now; retry shortly")]
    RevocationViewStale,
    /// The server is saturated (password hashing queue full).
    #[error("server busy; retry later")]
    Unavailable,
    /// A bug or a store failure; details are logged, not sent.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl From<passcard_store::StoreError> for ApiError {
    fn from(e: passcard_store::StoreError) -> Self {
        match e {
            passcard_store::StoreError::Conflict => Self::Conflict,
            e if e.is_unavailable() => {
                tracing::warn!(error = %e, "the store is unavailable (unreachable, stopping, or its pool exhausted)");
                Self::Unavailable
            }
            other => Self::Internal(other.into()),
        }
    }
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        use StatusCode as S;
        match self {
            Self::BadRequest(_) => (S::BAD_REQUEST, "bad-request", "Bad request"),
            Self::UnsupportedMediaType => (
                S::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
            ),
            Self::PayloadTooLarge => (
                S::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "Payload too large",
            ),
            Self::Unauthorized { expired: true, .. } => {
                (S::UNAUTHORIZED, "token-expired", "The access token expired")
            }
            Self::Unauthorized {
                presented: true, ..
            } => (
                S::UNAUTHORIZED,
                "invalid-token",
                "The access token is invalid",
            ),
            Self::Unauthorized { .. } => (
                S::UNAUTHORIZED,
                "authentication-required",
                "Authentication required",
            ),
            Self::InvalidCredentials => (
                S::UNAUTHORIZED,
                "invalid-credentials",
                "Invalid username or password",
            ),
            Self::InvalidRefreshToken => (
                S::UNAUTHORIZED,
                "invalid-refresh-token",
                "The refresh token is invalid",
            ),
            Self::InsufficientScope => (S::FORBIDDEN, "insufficient-scope", "Insufficient scope"),
            Self::RegistrationClosed => (
                S::FORBIDDEN,
                "registration-closed",
                "Registration is closed",
            ),
            Self::CrossSite => (S::FORBIDDEN, "cross-site", "Cross-site request refused"),
            Self::WrongMode => (S::NOT_FOUND, "wrong-mode", "Not available in this mode"),
            Self::NotFound => (S::NOT_FOUND, "not-found", "Not found"),
            Self::Conflict => (S::CONFLICT, "username-taken", "Username already taken"),
            Self::TooManyRequests { .. } => (
                S::TOO_MANY_REQUESTS,
                "too-many-requests",
                "Too many requests",
            ),
            Self::Unavailable => (S::SERVICE_UNAVAILABLE, "unavailable", "Service unavailable"),
            Self::RevocationViewStale => (
                S::SERVICE_UNAVAILABLE,
                "revocation-view-stale",
                "Revocation state unavailable",
            ),
            Self::Internal(_) => (S::INTERNAL_SERVER_ERROR, "internal", "Internal error"),
        }
    }
}

/// The prefix of every problem `type`.
pub const PROBLEM_TYPE_PREFIX: &str = "urn:passcard:problem:";

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(e) = &self {
            tracing::error!(error = %format!("{e:#}"), "request failed");
        }
        let (status, slug, title) = self.parts();
        let body = serde_json::json!({
            "type": format!("{PROBLEM_TYPE_PREFIX}{slug}"),
            "title": title,
            "status": status.as_u16(),
            "detail": self.to_string(),
        });
        let mut response = (status, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        match &self {
            Self::Unauthorized { presented, expired } => {
                let value = match (presented, expired) {
                    (false, _) => r#"Bearer realm="passcard""#,
                    (true, true) => {
                        r#"Bearer realm="passcard", error="invalid_token", error_description="The access token expired""#
                    }
                    (true, false) => {
                        r#"Bearer realm="passcard", error="invalid_token", error_description="The access token is invalid""#
                    }
                };
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(value));
            }
            Self::InsufficientScope => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(
                        r#"Bearer realm="passcard", error="insufficient_scope", scope="admin""#,
                    ),
                );
            }
            Self::RevocationViewStale | Self::Unavailable => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            Self::TooManyRequests { retry_after } => {
                let secs = retry_after.as_secs().max(1);
                if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                    headers.insert(header::RETRY_AFTER, v);
                }
            }
            _ => {}
        }
        response
    }
}
