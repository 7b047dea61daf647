//! Admin operations: role changes and bans. Both bump the user's token
//! version, so the old tokens stop working at once.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use super::account::UserOut;
use crate::domain::Caller;
use crate::http::error::ApiError;
use crate::http::extract::{Json, Path};
use crate::http::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RoleIn {
    role: String,
}

pub(super) async fn set_role(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<RoleIn>,
) -> Result<Json<UserOut>, ApiError> {
    let user = state.auth.set_role(&caller, id, &body.role).await?;
    Ok(Json(UserOut::from(&user)))
}

pub(super) async fn ban(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    state.auth.ban(&caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
