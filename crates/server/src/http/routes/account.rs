//! Registration, login, refresh, the current user, logout.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use passcard_store::User;
use serde::{Deserialize, Serialize};

use crate::domain::{Caller, Error, Grant, TokenPair};
use crate::http::client::ClientAddr;
use crate::http::cookie;
use crate::http::error::ApiError;
use crate::http::extract::Json;
use crate::http::state::AppState;

/// A user as the API shows it.
#[derive(Serialize)]
pub(super) struct UserOut {
    id: i64,
    username: String,
    role: String,
}

impl From<&User> for UserOut {
    fn from(u: &User) -> Self {
        Self {
            id: u.id,
            username: u.username.clone(),
            role: u.role.clone(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Credentials {
    username: String,
    password: String,
}

pub(super) async fn register(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    Json(body): Json<Credentials>,
) -> Result<(StatusCode, Json<UserOut>), ApiError> {
    let user = state
        .auth
        .register(&body.username, body.password, client)
        .await?;
    Ok((StatusCode::CREATED, Json(UserOut::from(&user))))
}

/// A token pair, as RFC 6749 section 5.1 spells it.
#[derive(Serialize)]
pub(super) struct TokensOut {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
    refresh_token: String,
    refresh_expires_in: i64,
}

impl From<TokenPair> for TokensOut {
    fn from(p: TokenPair) -> Self {
        Self {
            access_token: p.access_token,
            token_type: "Bearer",
            expires_in: p.expires_in,
            refresh_token: p.refresh_token,
            refresh_expires_in: p.refresh_expires_in,
        }
    }
}

/// What a session login answers (the session id is only in the cookie).
#[derive(Serialize)]
struct SessionOut {
    user: UserOut,
    expires_in: u64,
    idle_expires_in: u64,
}

pub(super) async fn login(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    Json(body): Json<Credentials>,
) -> Result<Response, ApiError> {
    let result = state
        .auth
        .login(&body.username, body.password, client)
        .await;
    let outcome = match &result {
        Ok(_) => Some("success"),
        Err(Error::RateLimited { .. }) => Some("rate_limited"),
        Err(Error::InvalidCredentials) => Some("failure"),
        Err(_) => None,
    };
    if let Some(outcome) = outcome {
        state.metrics.login(outcome);
    }
    let login = result?;
    Ok(match login.grant {
        Grant::Tokens(pair) => Json(TokensOut::from(pair)).into_response(),
        Grant::Session(session) => {
            let settings = state.config.mode.sessions().cloned().unwrap_or_default();
            let mut response = Json(SessionOut {
                user: UserOut::from(&login.user),
                expires_in: settings.ttl.as_secs(),
                idle_expires_in: settings.idle.as_secs(),
            })
            .into_response();
            if let Some(cookie) = cookie::set_cookie(&settings, &session.id) {
                response.headers_mut().insert(header::SET_COOKIE, cookie);
            }
            response
        }
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RefreshIn {
    refresh_token: String,
}

pub(super) async fn refresh(
    State(state): State<AppState>,
    Json(body): Json<RefreshIn>,
) -> Result<Json<TokensOut>, ApiError> {
    let result = state.auth.refresh(&body.refresh_token).await;
    if !matches!(result, Err(Error::WrongMode)) {
        state.metrics.refresh(match &result {
            Ok(_) => "success",
            Err(Error::InvalidRefreshToken) => "refused",
            Err(_) => "error",
        });
    }
    Ok(Json(TokensOut::from(result?)))
}

/// What `/v1/me` shows: the verified claims alone.
#[derive(Serialize)]
pub(super) struct MeOut {
    sub: String,
    role: String,
    iat: u64,
    exp: u64,
    jti: String,
}

pub(super) async fn me(caller: Caller) -> Json<MeOut> {
    let c = &caller.claims;
    Json(MeOut {
        sub: c.sub.to_string(),
        role: c.role.clone(),
        iat: c.iat,
        exp: c.exp,
        jti: c.jti.clone(),
    })
}

pub(super) async fn logout(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    state.auth.logout(&caller).await?;
    let mut r = StatusCode::NO_CONTENT.into_response();
    if let Some(settings) = state.config.mode.sessions() {
        r.headers_mut()
            .insert(header::SET_COOKIE, cookie::clear_cookie(settings));
    }
    Ok(r)
}

pub(super) async fn logout_all(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<StatusCode, ApiError> {
    state.auth.logout_all(&caller).await?;
    Ok(StatusCode::NO_CONTENT)
}
