//! Extractors whose rejections are problem+json answers: JSON bodies,
//! path parameters, and the caller (a verified access token, or a session).

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use passcard_axum::Rejection;

use super::cookie;
use super::error::ApiError;
use super::state::AppState;
use crate::config::Mode;
use crate::domain::{Caller, Error};

/// A JSON body, answering a malformed one with problem+json that names the
/// rule broken (a missing field, an unknown one, a field's type) but never
/// echoes what was sent.
pub(crate) struct Json<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(req.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::BadRequest("cannot read the request body".to_owned())
            }
        })?;
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        let value = serde_path_to_error::deserialize(&mut de)
            .map_err(|e| ApiError::BadRequest(body_error(&e)))?;
        de.end()
            .map_err(|_| ApiError::BadRequest("request body is not valid JSON".to_owned()))?;
        Ok(Self(value))
    }
}

/// A JSON body, or none at all: `None` for an empty body (which needs no
/// content type), otherwise what [`Json`] reads.
pub(crate) struct OptionalJson<T>(pub(crate) Option<T>);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let (parts, body) = req.into_parts();
        let bytes = Bytes::from_request(Request::from_parts(parts.clone(), body), state)
            .await
            .map_err(|e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge
                } else {
                    ApiError::BadRequest("cannot read the request body".to_owned())
                }
            })?;
        if bytes.is_empty() {
            return Ok(Self(None));
        }
        let req = Request::from_parts(parts, axum::body::Body::from(bytes));
        Json::from_request(req, state)
            .await
            .map(|Json(v)| Self(Some(v)))
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `application/json` or `application/<something>+json`.
fn is_json(headers: &axum::http::HeaderMap) -> bool {
    let Some(ct) = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = ct.split(';').next().unwrap_or_default().trim();
    let Some((kind, sub)) = essence.split_once('/') else {
        return false;
    };
    kind.eq_ignore_ascii_case("application")
        && (sub.eq_ignore_ascii_case("json")
            || sub.len() > 5 && sub[sub.len() - 5..].eq_ignore_ascii_case("+json"))
}

/// What was wrong with a body, in the words of the rule it broke. serde's
/// messages quote the value sent (`invalid type: string "…"`); only the
/// field's name and what was expected are kept.
fn body_error(e: &serde_path_to_error::Error<serde_json::Error>) -> String {
    use serde_json::error::Category;
    let inner = e.inner();
    if !matches!(inner.classify(), Category::Data) {
        return "request body is not valid JSON".to_owned();
    }
    // Without the position suffix serde_json adds.
    let message = inner.to_string();
    let message = message
        .rsplit_once(" at line ")
        .map_or(message.as_str(), |(m, _)| m);
    let expected = message
        .rsplit_once(", expected ")
        .map(|(_, x)| plain_expected(x));
    let path = e.path().to_string();
    let field = if path == "." {
        "the body".to_owned()
    } else {
        format!("`{path}`")
    };
    if message.starts_with("missing field") {
        format!("invalid request body: {message}")
    } else if message.starts_with("unknown field") {
        match expected {
            Some(x) => format!("invalid request body: unknown field; expected {x}"),
            None => "invalid request body: unknown field".to_owned(),
        }
    } else if let Some(x) = expected {
        format!("invalid request body: {field} must be {x}")
    } else {
        "invalid request body".to_owned()
    }
}

/// serde's "expected" phrase, without Rust type names.
fn plain_expected(x: &str) -> String {
    if x.starts_with("struct ") || x.starts_with("a map") {
        "a JSON object".to_owned()
    } else {
        x.to_owned()
    }
}

/// `axum::extract::Path`, answering bad parameters with problem+json that
/// names the parameter, not what was sent.
pub(crate) struct Path<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Self(v)),
            Err(e) => Err(path_rejection(&e)),
        }
    }
}

fn path_rejection(e: &PathRejection) -> ApiError {
    use axum::extract::path::ErrorKind;
    let message = match e {
        PathRejection::FailedToDeserializePathParams(e) => match e.kind() {
            ErrorKind::ParseErrorAtKey {
                key, expected_type, ..
            } => format!(
                "invalid path parameter: `{key}` must be {}",
                kind_of(expected_type)
            ),
            ErrorKind::ParseError { expected_type, .. } => {
                format!(
                    "invalid path parameter: it must be {}",
                    kind_of(expected_type)
                )
            }
            _ => "invalid path parameter".to_owned(),
        },
        _ => "invalid path parameter".to_owned(),
    };
    ApiError::BadRequest(message)
}

fn kind_of(rust_type: &str) -> &'static str {
    match rust_type {
        "i64" | "i32" | "u64" | "u32" => "an integer",
        _ => "of another type",
    }
}

/// An extractor, and how many store queries extracting it took (this
/// task's own, whatever runs beside it).
pub(crate) struct Measured<T>(pub(crate) T, pub(crate) u64);

impl<T: FromRequestParts<AppState, Rejection = ApiError> + Send> FromRequestParts<AppState>
    for Measured<T>
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let (result, queries) =
            passcard_store::counting_queries(T::from_request_parts(parts, state)).await;
        Ok(Self(result?, queries))
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    /// Token mode: the access token (Bearer, or the access cookie) through
    /// the verification pipeline (passcard-axum), in memory. Session mode:
    /// the session cookie, one store lookup.
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Mode::Session(_) = state.config.mode {
            return session(parts, state).await;
        }
        match state
            .verifier
            .authenticate(&parts.method, &parts.headers)
            .await
        {
            Ok(verified) => Ok(Self {
                claims: verified.claims,
                session: None,
            }),
            Err(rejection) => {
                if let Some(reason) = rejection.reason() {
                    state.metrics.verify_failure(reason);
                    tracing::debug!(reason, error = %rejection, "access token refused");
                }
                Err(rejection.into())
            }
        }
    }
}

/// Session mode: the cookie, checked for shape and for cross-site use
/// before the store is asked.
async fn session(parts: &Parts, state: &AppState) -> Result<Caller, ApiError> {
    let refused = |reason: &'static str| {
        state.metrics.verify_failure(reason);
        ApiError::Domain(Error::Unauthenticated { reason })
    };
    let id = match cookie::read(&parts.headers, cookie::session_name(&state.config.http)) {
        Ok(Some(id)) if !id.is_empty() => id,
        Ok(_) => return Err(Rejection::Missing.into()),
        Err(_) => return Err(refused("malformed")),
    };
    if !crate::domain::is_refresh_token_shaped(id) {
        return Err(refused("malformed"));
    }
    if let Err(e) = cookie::check_same_site(&parts.method, &parts.headers, &state.config.http) {
        state.metrics.verify_failure("cross_site");
        return Err(e);
    }
    match state.auth.authenticate_session(id).await {
        Ok(caller) => Ok(caller),
        Err(Error::Unauthenticated { reason }) => Err(refused(reason)),
        Err(e) => Err(e.into()),
    }
}
