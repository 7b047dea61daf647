//! Why a request was turned away, and the uniform answer it gets.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::problem::{Challenge, Problem};
use crate::revocation::Revoked;

/// Why the verification pipeline refused a request. The precise reason is
/// for logs and metrics ([`Rejection::reason`]); the client gets one of a
/// few uniform answers (RFC 6750 401s, a 503 to retry).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// No credential.
    #[error("no access token")]
    Missing,
    /// The credential cannot be read (two `Authorization` headers, another
    /// scheme, an oversized value, the cookie twice).
    #[error("malformed credential")]
    Malformed,
    /// An unsafe request authenticated by a cookie, without a same-site
    /// proof ([`crate::csrf`]): possibly forged by another site.
    #[error("cookie-authenticated unsafe request without a same-site proof")]
    CrossSite,
    /// The token failed verification.
    #[error("invalid token: {0}")]
    Invalid(#[source] passcard_jwt::Error),
    /// The token was revoked.
    #[error("revoked token ({0:?})")]
    Revoked(Revoked),
    /// The revocation view is older than the verifier's maximum lag: it
    /// cannot tell whether the token was revoked, and fails closed.
    #[error("revocation view too old")]
    Stale,
    /// The extractor ran on a route without the layer.
    #[error("PasscardLayer is not installed on this route")]
    NotConfigured,
}

impl Rejection {
    /// A short, stable label for metrics; `None` when no credential was
    /// presented (not a failure of one).
    pub fn reason(&self) -> Option<&'static str> {
        match self {
            Self::Missing | Self::NotConfigured => None,
            Self::Malformed => Some("malformed_header"),
            Self::Invalid(e) => Some(e.reason()),
            Self::Revoked(_) => Some("revoked"),
            Self::Stale => Some("revocation_view_stale"),
            Self::CrossSite => Some("cross_site"),
        }
    }

    /// The RFC 6750 challenge this rejection answers with, if it is one.
    pub fn challenge(&self) -> Option<Challenge> {
        match self {
            Self::Missing => Some(Challenge::Missing),
            Self::Invalid(e) if e.is_expired() => Some(Challenge::InvalidToken { expired: true }),
            Self::Invalid(_) | Self::Malformed | Self::Revoked(_) => {
                Some(Challenge::InvalidToken { expired: false })
            }
            Self::Stale | Self::NotConfigured | Self::CrossSite => None,
        }
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        if let Some(challenge) = self.challenge() {
            return challenge.into_response();
        }
        if let Self::CrossSite = self {
            return Problem::new(
                StatusCode::FORBIDDEN,
                "cross-site",
                "Cross-site request refused",
                "a request authenticated by a cookie that changes something needs the \
                 X-Passcard-CSRF header or this site's Origin",
            )
            .into_response();
        }
        if let Self::NotConfigured = self {
            tracing::error!("the Authenticated extractor is used on a route without PasscardLayer");
            return Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
                "internal error",
            )
            .into_response();
        }
        let mut response = Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "revocation-view-stale",
            "Revocation state unavailable",
            "cannot check revocations right now; retry shortly",
        )
        .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        response
    }
}
