//! The token endpoint (RFC 6749): refresh, and password when enabled.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{Form, OAuthError, no_store};
use crate::config::Mode;
use crate::domain::{Error, Grant, Limit};
use crate::http::client::ClientAddr;
use crate::http::routes::account::TokensOut;
use crate::http::state::AppState;

/// `POST /oauth/token`: `grant_type=refresh_token` (rotation, the reuse
/// interval and theft detection as `/v1/refresh`), or `grant_type=password`
/// when enabled (the login limits apply). Public clients: no client
/// authentication; a client that tries one is told it is not supported.
pub(in crate::http::routes) async fn token(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, OAuthError> {
    let form = Form::read(&headers, body)?;
    if let Some(scheme) = authorization_scheme(&headers) {
        return Err(OAuthError {
            challenge: Some(if scheme.eq_ignore_ascii_case("basic") {
                r#"Basic realm="passcard""#
            } else {
                r#"Bearer realm="passcard""#
            }),
            ..OAuthError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "clients are public here: send no client authentication, only client_id if any",
            )
        });
    }
    if form.get("client_secret").is_some() || form.get("client_assertion").is_some() {
        return Err(OAuthError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "clients are public here: send no client secret",
        ));
    }
    let grant = form.require("grant_type")?;
    if form.get("scope").is_some() {
        return Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "passcard tokens carry no scopes",
        ));
    }
    let token_mode = state.config.mode == Mode::Token;
    let result = match grant {
        "refresh_token" if token_mode => {
            let refresh_token = form.require("refresh_token")?;
            let result = state.auth.refresh(refresh_token).await;
            state.metrics.refresh(match &result {
                Ok(_) => "success",
                Err(Error::InvalidRefreshToken) => "refused",
                Err(_) => "error",
            });
            result.map(|pair| (pair, None))
        }
        "password" if token_mode && state.config.accounts.password_grant => {
            let username = form.require("username")?;
            let password = form.require("password")?.to_owned();
            let device = form.get("device_token");
            let result = state.auth.login(username, password, client, device).await;
            state.metrics.login(match &result {
                Ok(_) => "success",
                Err(Error::RateLimited { .. }) => "rate_limited",
                Err(Error::InvalidCredentials) => "failure",
                Err(_) => "error",
            });
            match result {
                Ok(login) => match login.grant {
                    Grant::Tokens(pair) => Ok((pair, Some(login.device))),
                    Grant::Session(_) => Err(Error::WrongMode),
                },
                Err(e) => Err(e),
            }
        }
        "refresh_token" | "password" | "authorization_code" | "client_credentials" => {
            return Err(OAuthError::new(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "this server does not grant that",
            ));
        }
        _ => {
            return Err(OAuthError::new(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "unknown grant_type",
            ));
        }
    };
    match result {
        Ok((pair, device)) => {
            // RFC 6749 section 5.1 (a login also gets its device credential).
            let mut out = TokensOut::from(pair);
            if let Some(device) = device {
                out = out.with_device(device);
            }
            let mut r = axum::Json(out).into_response();
            no_store(r.headers_mut());
            Ok(r)
        }
        Err(Error::InvalidRefreshToken) => Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "the refresh token is invalid, expired, revoked or was already used",
        )),
        Err(Error::InvalidCredentials) => Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "wrong username or password",
        )),
        // Not invalid_grant: the refresh token stays good, and a client
        // told invalid_grant would throw it away.
        Err(Error::RateLimited { retry_after, limit }) => Err(OAuthError {
            retry_after: Some(retry_after.as_secs().max(1)),
            ..OAuthError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "temporarily_unavailable",
                if limit == Limit::Family {
                    "this login refreshed too often; retry later"
                } else {
                    "too many failed attempts; retry later"
                },
            )
        }),
        Err(Error::WrongMode) => Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "this server runs in session mode",
        )),
        Err(e) => Err(OAuthError::from_domain(&e)),
    }
}

/// The scheme of the `Authorization` header, if one was sent.
fn authorization_scheme(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or("").split(' ').next().unwrap_or(""))
}
