//! The route table, and the answers to unknown paths and methods.

mod account;
mod admin;
mod feed;
mod meta;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};

use super::error::ApiError;
use super::state::AppState;

/// The largest request body accepted.
const MAX_BODY: usize = 16 * 1024;

/// The whole API.
pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/users", post(account::register))
        .route("/v1/login", post(account::login))
        .route("/v1/refresh", post(account::refresh))
        .route("/v1/me", get(account::me))
        .route("/v1/logout", post(account::logout))
        .route("/v1/logout-all", post(account::logout_all))
        .route("/v1/users/{id}/role", put(admin::set_role))
        .route("/v1/users/{id}/ban", post(admin::ban))
        .route("/v1/verify", get(feed::verify))
        .route("/v1/revocations", get(feed::revocations))
        .route("/v1/revocations/stream", get(feed::stream))
        .route("/.well-known/jwks.json", get(meta::jwks))
        .route("/healthz", get(meta::healthz))
        .route("/metrics", get(meta::metrics))
        .route("/openapi.json", get(meta::openapi))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            count_requests,
        ))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::NotFound
}

async fn method_not_allowed() -> Response {
    let mut r = ApiError::BadRequest("method not allowed on this path".to_owned()).into_response();
    *r.status_mut() = axum::http::StatusCode::METHOD_NOT_ALLOWED;
    r
}

/// Counts every request by matched route (never the raw path, which could
/// carry anything) and status.
async fn count_requests(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let response = next.run(req).await;
    state.metrics.request(&route, response.status().as_u16());
    response
}
