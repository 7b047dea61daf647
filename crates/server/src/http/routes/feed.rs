//! For other services: `/v1/verify` (reverse-proxy auth) and the
//! revocation feed (`/v1/revocations`, JSON and Server-Sent Events).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use passcard_axum::Rejection;
use passcard_axum::feed::{FEED_PAGE, FeedPage, RevocationEvent};
use serde::Deserialize;

use crate::domain::Caller;
use crate::http::error::ApiError;
use crate::http::extract::Json;
use crate::http::state::AppState;

/// `GET /v1/verify`: for nginx `auth_request` and Traefik `forwardAuth`.
/// 200 with the user in headers, or the usual 401.
pub(super) async fn verify(caller: Caller) -> Response {
    let mut r = StatusCode::OK.into_response();
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&caller.user_id().to_string()) {
        h.insert("x-passcard-sub", v);
    }
    if let Ok(v) = HeaderValue::from_str(&caller.claims.role) {
        h.insert("x-passcard-role", v);
    }
    if let Ok(v) = HeaderValue::from_str(&caller.claims.jti) {
        h.insert("x-passcard-jti", v);
    }
    r
}

#[derive(Deserialize)]
pub(super) struct After {
    #[serde(default)]
    after: i64,
    limit: Option<i64>,
}

/// The feed is for services, authenticated with PASSCARD_FEED_TOKEN; it is
/// off (404) when no token is configured.
fn check_feed_token(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(expected) = &state.config.revocation.feed_token else {
        return Err(ApiError::NotFound);
    };
    let presented = headers
        .get(AUTHORIZATION)
        .and_then(|v| passcard_axum::bearer_token(v.as_bytes()));
    let Some(presented) = presented else {
        return Err(if headers.contains_key(AUTHORIZATION) {
            Rejection::Malformed
        } else {
            Rejection::Missing
        }
        .into());
    };
    aws_lc_rs::constant_time::verify_slices_are_equal(presented.as_bytes(), expected.0.as_bytes())
        .map_err(|_| Rejection::Malformed.into())
}

/// `GET /v1/revocations?after=ID&limit=N`: events after an id, oldest first.
pub(super) async fn revocations(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<After>,
) -> Result<Json<FeedPage>, ApiError> {
    check_feed_token(&state, &headers)?;
    let page = i64::try_from(FEED_PAGE).unwrap_or(i64::MAX);
    let limit = q.limit.unwrap_or(page).clamp(1, page);
    let events = state
        .auth
        .store()
        .events_after(q.after.max(0), limit)
        .await
        .map_err(crate::domain::Error::from)?;
    let last_id = events.last().map_or(q.after.max(0), |e| e.id);
    let revocations = state.auth.revocations();
    Ok(Json(FeedPage {
        events: events.iter().map(|e| revocations.to_wire(e)).collect(),
        last_id,
    }))
}

fn sse_event(e: &RevocationEvent) -> Event {
    Event::default()
        .id(e.id.to_string())
        .event("revocation")
        .json_data(e)
        .unwrap_or_else(|_| Event::default().comment("unencodable event"))
}

/// The state of one SSE client: the backlog, page by page, then live
/// events, each sent once and in id order.
struct Feed {
    state: AppState,
    live: tokio::sync::broadcast::Receiver<RevocationEvent>,
    pending: std::collections::VecDeque<RevocationEvent>,
    fetched: i64,
    sent: i64,
    backlog_done: bool,
}

impl Feed {
    /// The next event, or `None` to end the stream (a store error, or the
    /// client fell behind the live channel: it resumes by id).
    async fn next(&mut self) -> Option<RevocationEvent> {
        loop {
            if let Some(e) = self.pending.pop_front() {
                if e.id > self.sent {
                    self.sent = e.id;
                    return Some(e);
                }
                continue;
            }
            if !self.backlog_done {
                let auth = &self.state.auth;
                let page = auth.store().events_after(self.fetched, 1000).await.ok()?;
                self.backlog_done = page.len() < FEED_PAGE;
                if let Some(e) = page.last() {
                    self.fetched = e.id;
                }
                self.pending
                    .extend(page.iter().map(|e| auth.revocations().to_wire(e)));
                continue;
            }
            match self.live.recv().await {
                Ok(e) if e.id > self.sent => {
                    self.sent = e.id;
                    return Some(e);
                }
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }
}

/// `GET /v1/revocations/stream?after=ID`: the events after an id, then each
/// new one as it is applied here, as Server-Sent Events (`id` is the event
/// id, so a client reconnects with `Last-Event-ID` or `after`).
pub(super) async fn stream(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<After>,
) -> Result<impl IntoResponse, ApiError> {
    check_feed_token(&state, &headers)?;
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(q.after)
        .max(0);
    // Subscribe before reading the backlog, so nothing falls in between;
    // the backlog is read a page at a time as the client takes it.
    let feed = Feed {
        live: state.auth.revocations().subscribe(),
        state,
        pending: std::collections::VecDeque::new(),
        fetched: resume,
        sent: resume,
        backlog_done: false,
    };
    let stream = futures_util::stream::unfold(feed, |mut feed| async move {
        let e = feed.next().await?;
        Some((Ok::<_, Infallible>(sse_event(&e)), feed))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
