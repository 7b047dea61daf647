//! API errors as `application/problem+json` (RFC 9457), with stable types,
//! rendered by passcard-axum's [`Problem`] like every resource server's.
//!
//! Details that help an attacker (which check failed, whether a user
//! exists) stay in the logs; clients get one answer per kind of failure.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use passcard_axum::Rejection;
use passcard_axum::problem::{Challenge, Problem};

use crate::domain::{Error, Limit};

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
    /// No such path.
    #[error("not found")]
    NotFound,
    /// The path exists, the method does not.
    #[error("this method is not allowed on this path")]
    MethodNotAllowed,
    /// The verification pipeline refused: the access token is missing,
    /// unreadable, invalid or revoked (RFC 6750), the revocation view is
    /// too old to tell, or a cookie-authenticated unsafe request has no
    /// same-site proof.
    #[error(transparent)]
    Unauthorized(#[from] Rejection),
    /// The service credential (the feed token) is missing or wrong.
    #[error("service credential refused")]
    ServiceCredential {
        /// Whether one was presented.
        presented: bool,
    },
    /// What the domain said.
    #[error(transparent)]
    Domain(#[from] Error),
    /// A problem answered as it is (its detail written for clients).
    #[error("{}", .0.slug())]
    Problem(Problem),
}

fn problem(
    status: StatusCode,
    slug: &'static str,
    title: &'static str,
    detail: String,
) -> Response {
    Problem::new(status, slug, title, detail).into_response()
}

fn with_retry_after(mut r: Response, retry_after: Duration) -> Response {
    let secs = retry_after.as_secs().max(1);
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        use StatusCode as S;
        let detail = self.to_string();
        match self {
            Self::BadRequest(_) => problem(S::BAD_REQUEST, "bad-request", "Bad request", detail),
            Self::UnsupportedMediaType => problem(
                S::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
                detail,
            ),
            Self::PayloadTooLarge => problem(
                S::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "Payload too large",
                detail,
            ),
            Self::NotFound => problem(S::NOT_FOUND, "not-found", "Not found", detail),
            Self::MethodNotAllowed => problem(
                S::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
                detail,
            ),
            Self::Unauthorized(rejection) => rejection.into_response(),
            Self::ServiceCredential { presented } => {
                Challenge::ServiceCredential { presented }.into_response()
            }
            Self::Domain(e) => domain(&e),
            Self::Problem(p) => p.into_response(),
        }
    }
}

fn domain(e: &Error) -> Response {
    use StatusCode as S;
    let detail = e.to_string();
    match e {
        Error::Invalid(_) => problem(S::BAD_REQUEST, "bad-request", "Bad request", detail),
        Error::RegistrationClosed => problem(
            S::FORBIDDEN,
            "registration-closed",
            "Registration is closed",
            detail,
        ),
        Error::UsernameTaken => problem(
            S::CONFLICT,
            "username-taken",
            "Username already taken",
            detail,
        ),
        Error::InvalidCredentials => problem(
            S::UNAUTHORIZED,
            "invalid-credentials",
            "Invalid username or password",
            detail,
        ),
        &Error::RateLimited { limit, retry_after } => with_retry_after(
            problem(
                S::TOO_MANY_REQUESTS,
                "too-many-requests",
                "Too many requests",
                match limit {
                    Limit::Registration => "too many registrations from this address; retry later",
                    Limit::Family => {
                        "this login refreshed too often; retry later (the refresh token stays good)"
                    }
                    _ => "too many failed attempts; retry later",
                }
                .to_owned(),
            ),
            retry_after,
        ),
        Error::InvalidRefreshToken => problem(
            S::UNAUTHORIZED,
            "invalid-refresh-token",
            "The refresh token is invalid",
            detail,
        ),
        Error::Unauthenticated { .. } => Challenge::InvalidToken { expired: false }.into_response(),
        Error::Forbidden => Challenge::InsufficientScope { scope: "admin" }.into_response(),
        Error::NotFound => problem(S::NOT_FOUND, "not-found", "Not found", detail),
        Error::WrongMode => problem(
            S::NOT_FOUND,
            "wrong-mode",
            "Not available in this mode",
            detail,
        ),
        Error::Busy | Error::Unavailable(_) => {
            if let Error::Unavailable(e) = e {
                tracing::warn!(error = %e, "the store is unavailable (unreachable, stopping, or its pool exhausted)");
            }
            with_retry_after(
                problem(
                    S::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "Service unavailable",
                    "server busy or its store unreachable; retry shortly".to_owned(),
                ),
                Duration::from_secs(1),
            )
        }
        Error::Internal(_) => {
            tracing::error!(error = %detail, "request failed");
            problem(
                S::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
                "internal error".to_owned(),
            )
        }
    }
}
