//! RFC 6750 answers.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Why a request was turned away. The response is generic; the reason is
/// for logs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// No `Authorization` header.
    #[error("no bearer token")]
    Missing,
    /// The token failed verification.
    #[error("invalid token: {0}")]
    Invalid(#[source] passcard_jwt::Error),
    /// The header is not `Bearer <token>`.
    #[error("malformed authorization header")]
    Malformed,
    /// The token was revoked.
    #[error("revoked token")]
    Revoked,
    /// The revocation view is older than the verifier's maximum lag.
    #[error("revocation view too old")]
    Stale,
    /// The extractor ran without the layer.
    #[error("PasscardLayer is not installed on this route")]
    NotConfigured,
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let (status, challenge, detail) = match &self {
            Self::Missing => (
                StatusCode::UNAUTHORIZED,
                r#"Bearer"#,
                "authentication required",
            ),
            Self::Invalid(e) if e.is_expired() => (
                StatusCode::UNAUTHORIZED,
                r#"Bearer error="invalid_token", error_description="The access token expired""#,
                "the access token expired",
            ),
            Self::Invalid(_) | Self::Malformed | Self::Revoked => (
                StatusCode::UNAUTHORIZED,
                r#"Bearer error="invalid_token", error_description="The access token is invalid""#,
                "the access token is invalid",
            ),
            Self::Stale => {
                let mut r = StatusCode::SERVICE_UNAVAILABLE.into_response();
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                return r;
            }
            Self::NotConfigured => {
                tracing::error!("Authenticated extractor used on a route without PasscardLayer");
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
        };
        let body = serde_json::json!({
            "type": "about:blank",
            "title": status.canonical_reason().unwrap_or_default(),
            "status": status.as_u16(),
            "detail": detail,
        });
        let mut r = (status, body.to_string()).into_response();
        let h = r.headers_mut();
        h.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(challenge),
        );
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        r
    }
}
