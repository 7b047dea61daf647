//! Registration, login, refresh, the current user, logout.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use passcard_store::{NewRefresh, NewRefreshFor, Rotation, User};
use serde::{Deserialize, Serialize};

use crate::auth::Authenticated;
use crate::error::ApiError;
use crate::extract::Json;
use crate::state::{AppState, now_secs, secs};
use crate::tokens;

/// Shortest password accepted.
pub(crate) const MIN_PASSWORD: usize = 8;
/// Longest password accepted (bounds hashing work).
pub(crate) const MAX_PASSWORD: usize = 1024;

/// A user as the API shows it.
#[derive(Serialize)]
pub(crate) struct UserOut {
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

/// A username, lowercased: 3 to 32 of `a-z 0-9 . _ -`, starting with a
/// letter or digit.
pub(crate) fn normalize_username(name: &str) -> Result<String, ApiError> {
    let lower = name.to_ascii_lowercase();
    let ok = (3..=32).contains(&lower.len())
        && lower
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && lower.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        });
    if ok {
        Ok(lower)
    } else {
        Err(ApiError::BadRequest(
            "username must be 3 to 32 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit"
                .to_owned(),
        ))
    }
}

/// Checks a new password's length.
pub(crate) fn check_password(password: &str) -> Result<(), ApiError> {
    let n = password.chars().count();
    if n < MIN_PASSWORD {
        return Err(ApiError::BadRequest(format!(
            "password must be at least {MIN_PASSWORD} characters"
        )));
    }
    if password.len() > MAX_PASSWORD {
        return Err(ApiError::BadRequest(format!(
            "password must be at most {MAX_PASSWORD} bytes"
        )));
    }
    Ok(())
}

pub(super) async fn register(
    State(state): State<AppState>,
    Json(body): Json<Credentials>,
) -> Result<(StatusCode, Json<UserOut>), ApiError> {
    if !state.config.open_registration {
        return Err(ApiError::RegistrationClosed);
    }
    let username = normalize_username(&body.username)?;
    check_password(&body.password)?;
    let hash = state.passwords.hash(body.password).await?;
    let user = state
        .store
        .create_user(&username, &hash, "user", now_secs())
        .await?;
    tracing::info!(user = user.id, "user registered");
    Ok((StatusCode::CREATED, Json(UserOut::from(&user))))
}

/// A token pair.
#[derive(Serialize)]
pub(super) struct TokensOut {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
    refresh_token: String,
    refresh_expires_in: i64,
}

fn pair(
    state: &AppState,
    user: &User,
    family: i64,
    refresh_token: String,
    refresh_expires_at: i64,
) -> Result<TokensOut, ApiError> {
    let now = state.now();
    let ttl = state.config.access_ttl.as_secs();
    let access_token = tokens::issue_access(
        &state.signing,
        &state.config.issuer,
        &state.config.audience,
        user,
        family,
        ttl,
        now,
    )
    .map_err(ApiError::Internal)?;
    Ok(TokensOut {
        access_token,
        token_type: "Bearer",
        expires_in: ttl,
        refresh_token,
        refresh_expires_in: (refresh_expires_at - secs(now.as_secs())).max(0),
    })
}

pub(super) async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Json(body): Json<Credentials>,
) -> Result<Response, ApiError> {
    // Malformed names cannot exist; they still cost a hash, like any miss.
    let username = normalize_username(&body.username).unwrap_or_default();
    let user_key = format!("user:{username}");
    let peer_key = format!("addr:{}", crate::limiter::client_key(peer.ip()));
    let keys = [user_key.as_str(), peer_key.as_str()];
    // The attempt is counted now, before hashing, so concurrent guesses
    // cannot all pass the check while the first ones are still hashing; a
    // success gives it back.
    if let Err(retry_after) = state.limiter.attempt(&keys, state.instant()) {
        state.metrics.login("rate_limited");
        return Err(ApiError::TooManyRequests { retry_after });
    }
    if body.password.len() > MAX_PASSWORD {
        state.metrics.login("failure");
        return Err(ApiError::InvalidCredentials);
    }
    let user = if username.is_empty() {
        None
    } else {
        state.store.user_by_name(&username).await?
    };
    let ok = state
        .passwords
        .verify(
            body.password,
            user.as_ref().map(|u| u.password_hash.clone()),
        )
        .await?;
    let user = match user {
        Some(u) if ok && !u.disabled => u,
        _ => {
            state.metrics.login("failure");
            return Err(ApiError::InvalidCredentials);
        }
    };
    state.limiter.succeeded(&user_key, &peer_key);
    if state.config.mode == crate::config::Mode::Session {
        return start_session(&state, &user).await;
    }
    let refresh = tokens::new_refresh_token().map_err(ApiError::Internal)?;
    let expires_at = now_secs() + secs(state.config.refresh_ttl.as_secs());
    let family = state
        .store
        .start_family(
            &NewRefreshFor {
                hash: tokens::refresh_hash(&refresh),
                user_id: user.id,
                expires_at,
            },
            now_secs(),
        )
        .await?;
    state.metrics.login("success");
    tracing::info!(user = user.id, family, "login");
    Ok(Json(pair(&state, &user, family, refresh, expires_at)?).into_response())
}

/// What a session login answers (the session id is only in the cookie).
#[derive(Serialize)]
struct SessionOut {
    user: UserOut,
    expires_in: u64,
    idle_expires_in: u64,
}

async fn start_session(state: &AppState, user: &User) -> Result<Response, ApiError> {
    let id = tokens::new_refresh_token().map_err(ApiError::Internal)?;
    let now = now_secs();
    state
        .sessions
        .create_session(
            &passcard_store::NewSession {
                hash: tokens::refresh_hash(&id),
                user_id: user.id,
                idle_expires_at: now + secs(state.config.session_idle.as_secs()),
                expires_at: now + secs(state.config.session_ttl.as_secs()),
            },
            now,
        )
        .await?;
    state.metrics.login("success");
    tracing::info!(user = user.id, "login (session)");
    let mut response = Json(SessionOut {
        user: UserOut::from(user),
        expires_in: state.config.session_ttl.as_secs(),
        idle_expires_in: state.config.session_idle.as_secs(),
    })
    .into_response();
    if let Some(cookie) = crate::session::set_cookie(state, &id) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    Ok(response)
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
    if state.config.mode == crate::config::Mode::Session {
        return Err(ApiError::WrongMode);
    }
    let result = rotate(&state, &body.refresh_token).await;
    state.metrics.refresh(match &result {
        Ok(_) => "success",
        Err(ApiError::InvalidRefreshToken) => "refused",
        Err(_) => "error",
    });
    result.map(Json)
}

async fn rotate(state: &AppState, token: &str) -> Result<TokensOut, ApiError> {
    if !tokens::is_refresh_token_shaped(token) {
        return Err(ApiError::InvalidRefreshToken);
    }
    let now = now_secs();
    let hash = tokens::refresh_hash(token);
    let record = state
        .store
        .refresh_token(&hash)
        .await?
        .ok_or(ApiError::InvalidRefreshToken)?;
    if record.family_revoked || record.expires_at <= now {
        return Err(ApiError::InvalidRefreshToken);
    }
    // Refresh re-reads the user: the new access token carries the current
    // role and version, and a banned user gets nothing.
    let user = match state.store.user_by_id(record.user_id).await? {
        Some(u) if !u.disabled => u,
        _ => {
            state.store.revoke_family(record.family_id, now).await?;
            return Err(ApiError::InvalidRefreshToken);
        }
    };
    let next = tokens::successor(&state.refresh_mac, token);
    let reuse = secs(state.config.refresh_reuse_interval.as_secs());
    let ttl = secs(state.config.refresh_ttl.as_secs());
    let used_at = match record.used_at {
        Some(used_at) => used_at,
        None => {
            let successor = NewRefresh {
                hash: tokens::refresh_hash(&next),
                family_id: record.family_id,
                user_id: user.id,
                expires_at: now + ttl,
            };
            match state.store.rotate_refresh(&hash, &successor, now).await? {
                Rotation::Rotated => {
                    return pair(state, &user, record.family_id, next, now + ttl);
                }
                // Another request rotated it a moment ago.
                Rotation::AlreadyUsed { used_at } => used_at,
                // Revoked (a logout raced this refresh) or expired meanwhile.
                Rotation::Refused => return Err(ApiError::InvalidRefreshToken),
            }
        }
    };
    if now - used_at < reuse {
        // A retry or a second tab: the same successor, a fresh access token,
        // unless a logout revoked the family since the first read.
        let again = state.store.refresh_token(&hash).await?;
        if !again.is_some_and(|r| !r.family_revoked && r.expires_at > now) {
            return Err(ApiError::InvalidRefreshToken);
        }
        return pair(state, &user, record.family_id, next, used_at + ttl);
    }
    state.store.revoke_family(record.family_id, now).await?;
    tracing::warn!(
        user = user.id,
        family = record.family_id,
        "rotated refresh token presented again after the reuse interval: family revoked"
    );
    Err(ApiError::InvalidRefreshToken)
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

pub(super) async fn me(auth: Authenticated) -> Json<MeOut> {
    let c = &auth.claims;
    Json(MeOut {
        sub: c.user_id.to_string(),
        role: c.role.clone(),
        iat: c.iat,
        exp: c.exp,
        jti: c.jti.clone(),
    })
}

pub(super) async fn logout(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Response, ApiError> {
    if let Some(session) = &auth.session {
        state.sessions.delete_session(session).await?;
        tracing::info!(user = auth.user_id, "logout (session)");
        let mut r = StatusCode::NO_CONTENT.into_response();
        r.headers_mut()
            .insert(header::SET_COOKIE, crate::session::clear_cookie(&state));
        return Ok(r);
    }
    let c = &auth.claims;
    state
        .store
        .revoke_token(
            auth.user_id,
            &c.jti,
            i64::try_from(c.exp).unwrap_or(i64::MAX),
            Some(c.family_id),
            now_secs(),
        )
        .await?;
    state
        .revocations
        .catch_up(&*state.store, now_secs())
        .await?;
    tracing::info!(user = auth.user_id, "logout");
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(super) async fn logout_all(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<StatusCode, ApiError> {
    state.sessions.delete_user_sessions(auth.user_id).await?;
    state
        .store
        .revoke_user(auth.user_id, false, now_secs())
        .await?
        .ok_or(ApiError::Unauthorized {
            presented: true,
            expired: false,
        })?;
    state
        .revocations
        .catch_up(&*state.store, now_secs())
        .await?;
    tracing::info!(user = auth.user_id, "logout everywhere");
    Ok(StatusCode::NO_CONTENT)
}
