//! The OAuth documents and endpoints existing software speaks: server
//! metadata (RFC 8414, and the part of OpenID Connect Discovery that
//! applies), the token endpoint (RFC 6749: refresh, and password when
//! enabled), introspection (RFC 7662) and revocation (RFC 7009).
//!
//! Requests are `application/x-www-form-urlencoded`; errors use the OAuth
//! format (`{"error": "...", "error_description": "..."}`) these RFCs
//! define, not problem+json.

mod introspect;
mod metadata;
mod token;

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::domain::Error;
use crate::http::error::ApiError;

pub(in crate::http::routes) use introspect::{introspect, revoke};
pub(in crate::http::routes) use metadata::metadata;
pub(in crate::http::routes) use token::token;

/// Where the endpoints are, under the public origin.
pub(in crate::http::routes) const TOKEN_PATH: &str = "/oauth/token";
pub(in crate::http::routes) const INTROSPECT_PATH: &str = "/oauth/introspect";
pub(in crate::http::routes) const REVOKE_PATH: &str = "/oauth/revoke";

/// An OAuth error answer (RFC 6749 section 5.2).
#[derive(Debug)]
pub(super) struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: Option<String>,
    /// `WWW-Authenticate` for a failed client authentication.
    challenge: Option<&'static str>,
    retry_after: Option<u64>,
}

impl OAuthError {
    fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            error,
            description: Some(description.into()),
            challenge: None,
            retry_after: None,
        }
    }

    fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    fn unavailable() -> Self {
        Self {
            retry_after: Some(1),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the server is busy or its store is unreachable; retry shortly",
            )
        }
    }

    /// A domain failure that is not the grant's fault.
    fn from_domain(e: &Error) -> Self {
        match e {
            Error::Busy | Error::Unavailable(_) => {
                if let Error::Unavailable(e) = e {
                    tracing::warn!(error = %e, "the store is unavailable");
                }
                Self::unavailable()
            }
            other => {
                tracing::error!(error = %other, "OAuth request failed");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    "internal error",
                )
            }
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut body = json!({ "error": self.error });
        if let Some(d) = self.description {
            body["error_description"] = Value::String(d);
        }
        let mut r = (self.status, axum::Json(body)).into_response();
        let h = r.headers_mut();
        no_store(h);
        if let Some(c) = self.challenge {
            h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(c));
        }
        if let Some(s) = self.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        r
    }
}

fn no_store(h: &mut HeaderMap) {
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// A form body: each parameter at most once (RFC 6749 section 3.2), empty
/// values treated as absent.
struct Form(HashMap<String, String>);

/// Names only: values are tokens, secrets and passwords.
impl std::fmt::Debug for Form {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl Form {
    fn read(headers: &HeaderMap, body: Result<Bytes, BytesRejection>) -> Result<Self, OAuthError> {
        let form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                v.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
        if !form {
            return Err(OAuthError::invalid_request(
                "the body must be application/x-www-form-urlencoded",
            ));
        }
        let body = body.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                OAuthError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "invalid_request",
                    "the body is over 16 KiB",
                )
            } else {
                OAuthError::invalid_request("cannot read the body")
            }
        })?;
        let mut params = HashMap::new();
        for (name, value) in form_urlencoded::parse(&body) {
            if value.is_empty() {
                continue;
            }
            if params
                .insert(name.clone().into_owned(), value.into_owned())
                .is_some()
            {
                return Err(OAuthError::invalid_request(format!(
                    "the parameter `{}` is repeated",
                    short(&name)
                )));
            }
        }
        Ok(Self(params))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    fn require(&self, name: &'static str) -> Result<&str, OAuthError> {
        self.get(name)
            .ok_or_else(|| OAuthError::invalid_request(format!("`{name}` is missing")))
    }
}

/// A parameter name as it may appear in a message: short, and plain.
fn short(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(32)
        .collect()
}

/// An answer in passcard's own format (the endpoint is off) or in OAuth's.
#[derive(Debug)]
pub(super) enum ApiOrOAuth {
    Api(ApiError),
    OAuth(OAuthError),
}

impl From<OAuthError> for ApiOrOAuth {
    fn from(e: OAuthError) -> Self {
        Self::OAuth(e)
    }
}

impl IntoResponse for ApiOrOAuth {
    fn into_response(self) -> Response {
        match self {
            Self::Api(e) => e.into_response(),
            Self::OAuth(e) => e.into_response(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_takes_each_parameter_once() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"),
        );
        let f = Form::read(&h, Ok(Bytes::from_static(b"a=1&b=&c=x+y"))).unwrap();
        assert_eq!(f.get("a"), Some("1"));
        assert_eq!(f.get("b"), None, "empty is absent");
        assert_eq!(f.get("c"), Some("x y"));
        let twice = Form::read(&h, Ok(Bytes::from_static(b"a=1&a=2"))).unwrap_err();
        assert_eq!(twice.error, "invalid_request");
        let mut json = HeaderMap::new();
        json.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        assert_eq!(
            Form::read(&json, Ok(Bytes::new())).unwrap_err().error,
            "invalid_request"
        );
    }
}
