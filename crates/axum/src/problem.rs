//! Error answers: `application/problem+json` bodies (RFC 9457) and RFC 6750
//! `WWW-Authenticate` challenges, rendered here once for the passcard
//! server and for every resource server.

use std::borrow::Cow;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The prefix of every problem `type`: `urn:passcard:problem:<slug>`.
pub const PROBLEM_TYPE_PREFIX: &str = "urn:passcard:problem:";

/// The realm of access-token challenges.
const REALM: &str = "passcard";
/// The realm of service-credential challenges.
const SERVICE_REALM: &str = "passcard-service";

/// An `application/problem+json` answer with a stable `type`.
#[derive(Clone, Debug)]
pub struct Problem {
    status: StatusCode,
    slug: &'static str,
    title: &'static str,
    detail: Cow<'static, str>,
}

impl Problem {
    /// A problem of type `urn:passcard:problem:<slug>`. `title` is fixed
    /// per type; `detail` explains this occurrence (it must not carry
    /// secrets or echo what the client sent).
    pub fn new(
        status: StatusCode,
        slug: &'static str,
        title: &'static str,
        detail: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            status,
            slug,
            title,
            detail: detail.into(),
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The slug of the problem type.
    pub fn slug(&self) -> &'static str {
        self.slug
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "type": format!("{PROBLEM_TYPE_PREFIX}{}", self.slug),
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        let mut response = (self.status, body.to_string()).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}

/// An RFC 6750 section 3 challenge, for `WWW-Authenticate`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Challenge {
    /// No credential was sent: no error code (section 3.1).
    Missing,
    /// A credential was sent and refused: `invalid_token`, saying whether
    /// it merely expired (the client should refresh).
    InvalidToken {
        /// The token was otherwise fine but expired.
        expired: bool,
    },
    /// The token is good but does not allow this: `insufficient_scope`.
    InsufficientScope {
        /// The scope (role) needed.
        scope: &'static str,
    },
    /// A service credential (the token services present to read the
    /// revocation feed), not a user's access token, is missing or wrong:
    /// its own realm, so no client mistakes one for the other.
    ServiceCredential {
        /// Whether one was presented.
        presented: bool,
    },
}

impl Challenge {
    /// The `WWW-Authenticate` value.
    pub fn header_value(self) -> HeaderValue {
        let value = match self {
            Self::Missing => format!(r#"Bearer realm="{REALM}""#),
            Self::InvalidToken { expired: true } => format!(
                r#"Bearer realm="{REALM}", error="invalid_token", error_description="The access token expired""#
            ),
            Self::InvalidToken { expired: false } => format!(
                r#"Bearer realm="{REALM}", error="invalid_token", error_description="The access token is invalid""#
            ),
            Self::InsufficientScope { scope } => {
                format!(r#"Bearer realm="{REALM}", error="insufficient_scope", scope="{scope}""#)
            }
            Self::ServiceCredential { presented: false } => {
                format!(r#"Bearer realm="{SERVICE_REALM}""#)
            }
            Self::ServiceCredential { presented: true } => format!(
                r#"Bearer realm="{SERVICE_REALM}", error="invalid_token", error_description="The service credential is invalid""#
            ),
        };
        HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("Bearer"))
    }

    /// The problem answering this challenge.
    pub fn problem(self) -> Problem {
        match self {
            Self::Missing => Problem::new(
                StatusCode::UNAUTHORIZED,
                "authentication-required",
                "Authentication required",
                "send an access token: Authorization: Bearer <token>",
            ),
            Self::InvalidToken { expired: true } => Problem::new(
                StatusCode::UNAUTHORIZED,
                "token-expired",
                "The access token expired",
                "the access token expired; refresh it",
            ),
            Self::InvalidToken { expired: false } => Problem::new(
                StatusCode::UNAUTHORIZED,
                "invalid-token",
                "The access token is invalid",
                "the access token is invalid",
            ),
            Self::InsufficientScope { scope } => Problem::new(
                StatusCode::FORBIDDEN,
                "insufficient-scope",
                "Insufficient scope",
                format!("this needs the {scope} role"),
            ),
            Self::ServiceCredential { presented: false } => Problem::new(
                StatusCode::UNAUTHORIZED,
                "service-credential-required",
                "Service credential required",
                "this endpoint is for services: send the service credential as Authorization: Bearer",
            ),
            Self::ServiceCredential { presented: true } => Problem::new(
                StatusCode::UNAUTHORIZED,
                "invalid-service-credential",
                "The service credential is invalid",
                "the service credential is invalid",
            ),
        }
    }
}

impl IntoResponse for Challenge {
    fn into_response(self) -> Response {
        let mut response = self.problem().into_response();
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, self.header_value());
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_follow_rfc_6750() {
        assert_eq!(
            Challenge::Missing.header_value(),
            r#"Bearer realm="passcard""#
        );
        let v = Challenge::InvalidToken { expired: true }.header_value();
        assert!(v.to_str().unwrap().contains(r#"error="invalid_token""#));
        assert!(v.to_str().unwrap().contains("expired"));
        let r = Challenge::InsufficientScope { scope: "admin" }.into_response();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            r.headers()[header::WWW_AUTHENTICATE],
            r#"Bearer realm="passcard", error="insufficient_scope", scope="admin""#
        );
        assert_eq!(
            r.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
    }
}
