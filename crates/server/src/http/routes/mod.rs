//! The route table, and the answers to unknown paths and methods.

mod account;
mod admin;
mod feed;
mod meta;
mod oauth;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post, put};
use tower_http::set_header::SetResponseHeaderLayer;

use super::error::ApiError;
use super::state::AppState;

/// The largest request body accepted.
const MAX_BODY: usize = 16 * 1024;

/// The whole API.
pub(crate) fn router(state: AppState) -> Router {
    // Answers that carry a token or say who the caller is must not be
    // kept by any cache (RFC 6749 5.1), errors included.
    let identity = Router::new()
        .route("/v1/login", post(account::login))
        .route("/v1/refresh", post(account::refresh))
        .route(
            "/v1/me",
            get(account::me).route_layer(middleware::from_fn(store_queries)),
        )
        .route("/v1/verify", get(feed::verify))
        .route_layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .route_layer(SetResponseHeaderLayer::overriding(
            header::PRAGMA,
            HeaderValue::from_static("no-cache"),
        ));
    Router::new()
        .merge(identity)
        .route("/v1/users", post(account::register).get(admin::list))
        .route("/v1/logout", post(account::logout))
        .route("/v1/logout-all", post(account::logout_all))
        .route("/v1/users/{id}/role", put(admin::set_role))
        .route("/v1/users/{id}/ban", post(admin::ban))
        .route("/v1/revocations", get(feed::revocations))
        .route("/v1/revocations/stream", get(feed::stream))
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
        .route("/metrics", get(meta::metrics))
        .route("/openapi.json", get(meta::openapi))
        .merge(super::web::router(&state.config))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            count_requests,
        ))
        // No response is to be sniffed into another content type.
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::NotFound
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// Says in `X-Passcard-Store-Queries` how many store queries the request
/// ran (0 for a token, 1 for a session): measured, not asserted.
async fn store_queries(req: Request, next: Next) -> Response {
    let (mut response, n) = passcard_store::counting_queries(next.run(req)).await;
    response
        .headers_mut()
        .insert(STORE_QUERIES, HeaderValue::from(n));
    response
}

/// The header [`store_queries`] sets.
const STORE_QUERIES: header::HeaderName =
    header::HeaderName::from_static("x-passcard-store-queries");

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
