//! JWKS, health, metrics, OpenAPI.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::state::AppState;

/// The OpenAPI document, also at docs/openapi.json.
pub(crate) const OPENAPI: &str = include_str!("../../../../docs/openapi.json");

pub(super) async fn jwks(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(state.keys.public_jwks()),
    )
}

pub(super) async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    let lag = state.revocations.lag();
    let stale = state.config.revocation_max_lag.is_some_and(|max| lag > max);
    // "lagging" once the view is older than three safety polls: the store
    // is unreachable; tokens are still verified (unless fail-closed).
    let lagging = lag > 3 * state.config.revocation_poll;
    Json(serde_json::json!({
        "status": if stale { "stale" } else if lagging { "lagging" } else { "ok" },
        "revocation_lag_ms": u64::try_from(lag.as_millis()).unwrap_or(u64::MAX),
        "revocation_last_event": state.revocations.last_id(),
    }))
}

pub(super) async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let body = state.metrics.render(
        state.store.queries() + state.sessions.own_queries(),
        state.revocations.denylist_len(),
        state.revocations.versions_len(),
        state.revocations.lag(),
    );
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
}

pub(super) async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}
