//! Registration, login, refresh, the current user, logout.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use passcard_store::User;
use serde::{Deserialize, Serialize};

use crate::config::{HttpSettings, Mode};
use crate::domain::{Caller, Error, Grant, TokenPair};
use crate::http::client::ClientAddr;
use crate::http::cookie;
use crate::http::error::ApiError;
use crate::http::extract::{Json, Measured, OptionalJson};
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

/// A login: credentials, where the tokens go, and the device credential
/// of an earlier login (browsers send it as a cookie instead).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LoginIn {
    username: String,
    password: String,
    #[serde(default)]
    transport: Option<Transport>,
    #[serde(default)]
    device_token: Option<String>,
}

/// Where a login's tokens go.
#[derive(Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(super) enum Transport {
    /// In the response body (token mode's default).
    Body,
    /// In HttpOnly cookies, with no token text in the body (session mode
    /// always answers this way).
    Cookie,
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

/// A token pair, as RFC 6749 section 5.1 spells it, and after a login
/// by password the client's new device credential.
#[derive(Serialize)]
pub(super) struct TokensOut {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
    refresh_token: String,
    refresh_expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    device_token: Option<String>,
}

impl From<TokenPair> for TokensOut {
    fn from(p: TokenPair) -> Self {
        Self {
            access_token: p.access_token,
            token_type: "Bearer",
            expires_in: p.expires_in,
            refresh_token: p.refresh_token,
            refresh_expires_in: p.refresh_expires_in,
            device_token: None,
        }
    }
}

impl TokensOut {
    /// With the device credential of the login that made the pair.
    pub(super) fn with_device(mut self, device: String) -> Self {
        self.device_token = Some(device);
        self
    }
}

/// What a login answers when its credential is in a cookie (the tokens or
/// the session id are only there).
#[derive(Serialize)]
struct CookieLoginOut {
    user: UserOut,
    /// Seconds until the access cookie (token mode) or the session
    /// (session mode) expires.
    expires_in: u64,
    /// Token mode: seconds until the refresh cookie expires.
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_expires_in: Option<i64>,
    /// Session mode: seconds of inactivity that end the session.
    #[serde(skip_serializing_if = "Option::is_none")]
    idle_expires_in: Option<u64>,
}

pub(super) async fn login(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    Json(body): Json<LoginIn>,
) -> Result<Response, ApiError> {
    let cookies = match (&state.config.mode, body.transport) {
        (Mode::Token, None | Some(Transport::Body)) => false,
        (Mode::Token, Some(Transport::Cookie))
        | (Mode::Session(_), None | Some(Transport::Cookie)) => true,
        (Mode::Session(_), Some(Transport::Body)) => {
            return Err(ApiError::BadRequest(
                "this server runs in session mode: a login is a session cookie (transport \"cookie\")"
                    .to_owned(),
            ));
        }
    };
    let http = &state.config.http;
    // The body's (an API client's), else the browser's cookie; one that
    // cannot be read is no known device.
    let device = match &body.device_token {
        Some(token) => Some(token.as_str()),
        None => cookie::read(&headers, cookie::device_name(http))
            .ok()
            .flatten(),
    };
    let result = state
        .auth
        .login(&body.username, body.password, client, device)
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
    let mut response = match login.grant {
        Grant::Tokens(pair) if !cookies => {
            Json(TokensOut::from(pair).with_device(login.device.clone())).into_response()
        }
        Grant::Tokens(pair) => {
            let mut response = Json(CookieLoginOut {
                user: UserOut::from(&login.user),
                expires_in: pair.expires_in,
                refresh_expires_in: Some(pair.refresh_expires_in),
                idle_expires_in: None,
            })
            .into_response();
            set_pair_cookies(response.headers_mut(), http, &pair);
            response
        }
        Grant::Session(session) => {
            let settings = state.config.mode.sessions().cloned().unwrap_or_default();
            let mut response = Json(CookieLoginOut {
                user: UserOut::from(&login.user),
                expires_in: settings.ttl.as_secs(),
                refresh_expires_in: None,
                idle_expires_in: Some(settings.idle.as_secs()),
            })
            .into_response();
            cookie::set_session(
                response.headers_mut(),
                http,
                &session.id,
                settings.ttl.as_secs(),
            );
            response
        }
    };
    cookie::set_device(response.headers_mut(), http, &login.device);
    Ok(response)
}

fn set_pair_cookies(headers: &mut axum::http::HeaderMap, http: &HttpSettings, pair: &TokenPair) {
    cookie::set_tokens(
        headers,
        http,
        &pair.access_token,
        pair.expires_in,
        &pair.refresh_token,
        u64::try_from(pair.refresh_expires_in).unwrap_or(0),
    );
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RefreshIn {
    refresh_token: String,
}

/// What a refresh by cookie answers (the tokens are only in the cookies).
#[derive(Serialize)]
struct CookieRefreshOut {
    expires_in: u64,
    refresh_expires_in: i64,
}

/// `POST /v1/refresh`: `{refresh_token}` in the body answers with a new
/// pair in the body; no body at all uses the refresh cookie and answers
/// with new cookies.
pub(super) async fn refresh(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    OptionalJson(body): OptionalJson<RefreshIn>,
) -> Result<Response, ApiError> {
    let http = &state.config.http;
    let Some(body) = body else {
        if state.config.mode != Mode::Token {
            return Err(Error::WrongMode.into());
        }
        // The browser sends the cookie whoever made it send the request.
        cookie::check_same_site(&method, &headers, http)?;
        let token = cookie::read(&headers, cookie::refresh_name(http))?.unwrap_or_default();
        return Ok(match refreshed(&state, token).await {
            Ok(pair) => {
                let mut response = Json(CookieRefreshOut {
                    expires_in: pair.expires_in,
                    refresh_expires_in: pair.refresh_expires_in,
                })
                .into_response();
                set_pair_cookies(response.headers_mut(), http, &pair);
                response
            }
            Err(e) => {
                let refused = matches!(e, ApiError::Domain(Error::InvalidRefreshToken));
                let mut response = e.into_response();
                // A dead refresh cookie is of no more use to the browser.
                if refused {
                    cookie::clear_tokens(response.headers_mut(), http);
                }
                response
            }
        });
    };
    Ok(Json(TokensOut::from(
        refreshed(&state, &body.refresh_token).await?,
    ))
    .into_response())
}

/// Rotates a refresh token, counting the outcome.
async fn refreshed(state: &AppState, token: &str) -> Result<TokenPair, ApiError> {
    let result = if token.is_empty() {
        Err(Error::InvalidRefreshToken)
    } else {
        state.auth.refresh(token).await
    };
    if !matches!(result, Err(Error::WrongMode)) {
        state.metrics.refresh(match &result {
            Ok(_) => "success",
            Err(Error::InvalidRefreshToken) => "refused",
            Err(_) => "error",
        });
    }
    Ok(result?)
}

/// What `/v1/me` shows: the verified claims alone.
#[derive(Serialize)]
pub(super) struct MeOut<'a> {
    #[serde(serialize_with = "as_string")]
    sub: i64,
    role: &'a str,
    iat: u64,
    exp: u64,
    jti: &'a str,
}

fn as_string<S: serde::Serializer>(n: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(n)
}

/// `GET /v1/me`, saying in `X-Passcard-Store-Queries` how many store
/// queries authorising it took: measured, not asserted (0 with a token).
pub(super) async fn me(Measured(caller, queries): Measured<Caller>) -> Response {
    let c = &caller.claims;
    let mut r = Json(MeOut {
        sub: c.sub,
        role: &c.role,
        iat: c.iat,
        exp: c.exp,
        jti: &c.jti,
    })
    .into_response();
    r.headers_mut()
        .insert(STORE_QUERIES, HeaderValue::from(queries));
    r
}

/// The header [`me`] sets.
const STORE_QUERIES: HeaderName = HeaderName::from_static("x-passcard-store-queries");

/// Ends this login: the token (or session) and its refresh family, and
/// the cookies that carried them.
pub(super) async fn logout(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    state.auth.logout(&caller).await?;
    Ok(cleared(&state))
}

/// Ends every login of the caller, this one included.
pub(super) async fn logout_all(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    state.auth.logout_all(&caller).await?;
    Ok(cleared(&state))
}

/// 204, removing the cookies of the mode.
fn cleared(state: &AppState) -> Response {
    let mut r = StatusCode::NO_CONTENT.into_response();
    let http = &state.config.http;
    match state.config.mode {
        Mode::Token => cookie::clear_tokens(r.headers_mut(), http),
        Mode::Session(_) => cookie::clear_session(r.headers_mut(), http),
    }
    r
}
