//! Admin operations: role changes and bans. Both bump the user's token
//! version, so the old tokens stop working at once.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use super::account::UserOut;
use crate::auth::Authenticated;
use crate::error::ApiError;
use crate::extract::{Json, Path};
use crate::state::{AppState, now_secs};

/// The roles passcard knows.
pub(crate) const ROLES: [&str; 2] = ["user", "admin"];

fn require_admin(auth: &Authenticated) -> Result<(), ApiError> {
    if auth.claims.role == "admin" {
        Ok(())
    } else {
        Err(ApiError::InsufficientScope)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RoleIn {
    role: String,
}

pub(super) async fn set_role(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<i64>,
    Json(body): Json<RoleIn>,
) -> Result<Json<UserOut>, ApiError> {
    require_admin(&auth)?;
    if !ROLES.contains(&body.role.as_str()) {
        return Err(ApiError::BadRequest(format!(
            "role must be one of: {}",
            ROLES.join(", ")
        )));
    }
    let user = state
        .store
        .set_role(id, &body.role, now_secs())
        .await?
        .ok_or(ApiError::NotFound)?;
    state
        .revocations
        .catch_up(&*state.store, now_secs())
        .await?;
    tracing::info!(admin = auth.user_id, user = id, role = %body.role, "role changed");
    Ok(Json(UserOut::from(&user)))
}

pub(super) async fn ban(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    require_admin(&auth)?;
    state
        .store
        .revoke_user(id, true, now_secs())
        .await?
        .ok_or(ApiError::NotFound)?;
    state.sessions.delete_user_sessions(id).await?;
    state
        .revocations
        .catch_up(&*state.store, now_secs())
        .await?;
    tracing::info!(admin = auth.user_id, user = id, "user banned");
    Ok(StatusCode::NO_CONTENT)
}
