//! JWKS, health, metrics, OpenAPI.

use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use passcard_axum::problem::Problem;

use crate::http::state::AppState;

/// The OpenAPI document, also at docs/openapi.json.
const OPENAPI: &str = include_str!("../../../../../docs/openapi.json");

pub(super) async fn jwks(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(state.auth.verifying_keys().public_jwks()),
    )
}

/// What `/healthz` says.
#[derive(serde::Serialize)]
struct Health {
    status: &'static str,
    store: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sessions: Option<&'static str>,
    revocation_lag_ms: u64,
    revocation_last_event: i64,
    revocation_push: &'static str,
}

fn reachable(up: bool) -> &'static str {
    if up { "ok" } else { "unreachable" }
}

pub(super) async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    let revocations = state.auth.revocations();
    let lag = revocations.lag();
    let stale = state.config.revocation.max_lag.is_some_and(|max| lag > max);
    let sessions = state.auth.sessions_reachable();
    // "lagging" once the view is older than three safety polls: the store
    // is unreachable; tokens are still verified (unless fail-closed).
    // "unavailable" when sessions cannot be read: every session request
    // fails.
    let lagging = lag > 3 * state.config.revocation.poll;
    Json(Health {
        status: if stale {
            "stale"
        } else if sessions == Some(false) {
            "unavailable"
        } else if lagging {
            "lagging"
        } else {
            "ok"
        },
        store: reachable(revocations.store_reachable()),
        sessions: sessions.map(reachable),
        revocation_lag_ms: u64::try_from(lag.as_millis()).unwrap_or(u64::MAX),
        revocation_last_event: revocations.list().last_id(),
        revocation_push: if state.listening.load(Ordering::Relaxed) {
            "listening"
        } else {
            "polling"
        },
    })
}

/// `GET /metrics`, for Prometheus. With `PASSCARD_METRICS_TOKEN` it needs
/// `Authorization: Bearer <token>` (401 otherwise): the counters tell how
/// an attack campaign is going.
pub(super) async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(expected) = &state.config.metrics.token {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| passcard_axum::bearer_token(v.as_bytes()));
        let good = presented.is_some_and(|p| {
            aws_lc_rs::constant_time::verify_slices_are_equal(p.as_bytes(), expected.0.as_bytes())
                .is_ok()
        });
        if !good {
            return metrics_refused(headers.contains_key(header::AUTHORIZATION));
        }
    }
    let list = state.auth.revocations().list();
    let body = state.metrics.render(&crate::http::metrics::Snapshot {
        store_queries: state.auth.store_queries(),
        denylist: list.denylist_len(),
        versions: list.versions_len(),
        families: list.families_len(),
        lag: state.auth.revocations().lag(),
        cache: state.verifier.cache_stats(),
        hashes: state.auth.hash_counts(),
    });
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// 401 for a missing or wrong metrics token, in a realm of its own.
fn metrics_refused(presented: bool) -> Response {
    let (challenge, slug, title) = if presented {
        (
            r#"Bearer realm="passcard-metrics", error="invalid_token""#,
            "invalid-metrics-token",
            "The metrics token is invalid",
        )
    } else {
        (
            r#"Bearer realm="passcard-metrics""#,
            "metrics-token-required",
            "Metrics token required",
        )
    };
    let mut r = Problem::new(
        StatusCode::UNAUTHORIZED,
        slug,
        title,
        "/metrics needs the metrics token: Authorization: Bearer <token>",
    )
    .into_response();
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    );
    r
}

pub(super) async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}
