//! The route table, and the answers to unknown paths and methods.

mod account;
mod admin;
mod feed;
mod meta;
mod oauth;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};

use super::deadline::{DeadlineLayer, STREAM_PATH};
use super::edge::EdgeLayer;
use super::error::ApiError;
use super::state::AppState;

/// The largest request body accepted.
const MAX_BODY: usize = 16 * 1024;

/// The whole API (`/metrics` too, unless it has a listener of its own).
pub(crate) fn router(state: AppState) -> Router {
    let mut router = Router::new();
    if state.config.metrics.listen.is_none() {
        router = router.route("/metrics", get(meta::metrics));
    }
    router
        .route("/v1/login", post(account::login))
        .route("/v1/refresh", post(account::refresh))
        .route("/v1/me", get(account::me))
        .route("/v1/verify", get(feed::verify))
        .route("/v1/users", post(account::register).get(admin::list))
        .route("/v1/logout", post(account::logout))
        .route("/v1/logout-all", post(account::logout_all))
        .route("/v1/users/{id}/role", put(admin::set_role))
        .route("/v1/users/{id}/ban", post(admin::ban))
        .route("/v1/revocations", get(feed::revocations))
        .route(STREAM_PATH, get(feed::stream))
        .route("/.well-known/jwks.json", get(meta::jwks))
        .route(
            "/.well-known/oauth-authorization-server",
            get(oauth::metadata),
        )
        .route("/.well-known/openid-configuration", get(oauth::metadata))
        .route(oauth::TOKEN_PATH, post(oauth::token))
        .route(oauth::INTROSPECT_PATH, post(oauth::introspect))
        .route(oauth::REVOKE_PATH, post(oauth::revoke))
        .route("/healthz", get(meta::healthz))
        .route("/openapi.json", get(meta::openapi))
        .merge(super::web::router(&state.config))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        // Bodies read within the body timeout, answers within the request
        // timeout.
        .layer(DeadlineLayer::new(
            state.config.http.body_timeout,
            state.config.http.request_timeout,
            MAX_BODY,
        ))
        // Counting, nosniff on every answer, no-store on identity answers.
        .layer(EdgeLayer::new(state.clone()))
        .with_state(state)
}

/// What the metrics listener (`PASSCARD_METRICS_LISTEN`) serves:
/// `/metrics` alone.
pub(crate) fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(meta::metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(EdgeLayer::new(state.clone()))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::NotFound
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
