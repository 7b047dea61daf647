//! Admin operations: the user list, role changes and bans. Role changes
//! and bans bump the user's token version, so the old tokens stop working
//! at once.

use axum::extract::{Query, State};
use axum::http::{StatusCode, Uri};
use serde::{Deserialize, Serialize};

use super::account::UserOut;
use crate::domain::{Caller, MAX_PAGE};
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

/// The query of `GET /v1/users`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    /// A part of the name, case-insensitive.
    #[serde(default)]
    search: Option<String>,
    /// The last id of the previous page.
    #[serde(default)]
    after: i64,
    /// Page size, 1 to 100.
    #[serde(default = "default_limit")]
    limit: u32,
}

fn default_limit() -> u32 {
    50
}

/// A user as the admin list shows it.
#[derive(Serialize)]
pub(super) struct ListedUser {
    #[serde(flatten)]
    user: UserOut,
    disabled: bool,
}

/// A page of users.
#[derive(Serialize)]
pub(super) struct UserPage {
    users: Vec<ListedUser>,
    /// The `after` of the next page; `null` on the last one.
    next_after: Option<i64>,
}

/// `GET /v1/users?search=&after=&limit=` (admins).
pub(super) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
) -> Result<Json<UserPage>, ApiError> {
    // Who asks, before what is asked.
    caller.require_admin()?;
    // The rejection's text quotes the value sent: not echoed.
    let Query(q) = Query::<ListQuery>::try_from_uri(&uri).map_err(|_| {
        ApiError::BadRequest(
            "query parameters: `search` (text), `after` (an integer id), `limit` (1 to 100)"
                .to_owned(),
        )
    })?;
    if !(1..=MAX_PAGE).contains(&q.limit) || q.after < 0 {
        return Err(ApiError::BadRequest(
            "`limit` must be 1 to 100 and `after` at least 0".to_owned(),
        ));
    }
    let users = state
        .auth
        .list_users(&caller, q.search.as_deref(), q.after, q.limit)
        .await?;
    let next_after = (users.len() == q.limit as usize)
        .then(|| users.last().map(|u| u.id))
        .flatten();
    Ok(Json(UserPage {
        users: users
            .iter()
            .map(|u| ListedUser {
                user: UserOut::from(u),
                disabled: u.disabled,
            })
            .collect(),
        next_after,
    }))
}
