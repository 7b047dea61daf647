//! Extractors whose rejections are problem+json answers: JSON bodies,
//! path parameters, and the caller (a verified access token, or a session).

use axum::extract::rejection::{JsonRejection, PathRejection};
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

/// `axum::Json`, answering malformed bodies with problem+json.
pub(crate) struct Json<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(e) => Err(json_rejection(&e)),
        }
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

fn json_rejection(e: &JsonRejection) -> ApiError {
    match e {
        JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
        _ if e.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        JsonRejection::JsonDataError(e) => {
            ApiError::BadRequest(format!("invalid request body: {}", e.body_text()))
        }
        JsonRejection::JsonSyntaxError(_) => {
            ApiError::BadRequest("request body is not valid JSON".to_owned())
        }
        other => ApiError::BadRequest(other.body_text()),
    }
}

/// `axum::extract::Path`, answering bad parameters with problem+json.
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
    ApiError::BadRequest(format!("invalid path parameter: {}", e.body_text()))
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    /// Token mode: the Bearer token through the verification pipeline
    /// (passcard-axum), in memory. Session mode: the session cookie, one
    /// store lookup.
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Mode::Session(_) = state.config.mode {
            return session(parts, state).await;
        }
        match state.verifier.authenticate(&parts.headers).await {
            Ok(claims) => Ok(Self {
                claims,
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
    let Some(id) = cookie::session_id(parts) else {
        return Err(Rejection::Missing.into());
    };
    let refused = |reason: &'static str| {
        state.metrics.verify_failure(reason);
        ApiError::Domain(Error::Unauthenticated { reason })
    };
    if !crate::domain::is_refresh_token_shaped(id) {
        return Err(refused("malformed"));
    }
    cookie::check_csrf(parts)?;
    match state.auth.authenticate_session(id).await {
        Ok(caller) => Ok(caller),
        Err(Error::Unauthenticated { reason }) => Err(refused(reason)),
        Err(e) => Err(e.into()),
    }
}
