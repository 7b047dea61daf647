//! For other services: `/v1/verify` (reverse-proxy auth) and the
//! revocation feed (`/v1/revocations`, JSON and Server-Sent Events).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{FromRequestParts, RawQuery, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use passcard_axum::feed::{FEED_PAGE, FeedPage, RevocationEvent};
use passcard_axum::problem::Problem;

use crate::config::Mode;
use crate::domain::Caller;
use crate::http::cookie;
use crate::http::error::ApiError;
use crate::http::extract::Json;
use crate::http::state::AppState;

/// `GET /v1/verify`: for nginx `auth_request` and Traefik `forwardAuth`.
/// 200 with the user in headers, or the usual 401. A request the proxy
/// asks about by cookie must name its method ([`ProxyMethod`]).
pub(super) async fn verify(_: ProxyMethod, caller: Caller) -> Response {
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

/// The headers in which a proxy names the method of the request it asks
/// about: nginx's `auth_request` configuration passes `X-Original-Method`,
/// Traefik sends `X-Forwarded-Method`.
const METHOD_HEADERS: [&str; 2] = ["x-original-method", "x-forwarded-method"];

/// The check `/v1/verify` makes before the credential: a request it is
/// asked about by cookie (which a browser attaches to cross-site requests
/// too) must say its method, or a cross-site POST would pass as the GET
/// that `auth_request` itself sends. Bearer tokens need no proof, and
/// `PASSCARD_VERIFY_REQUIRE_METHOD=false` turns the check off for a proxy
/// that can send neither header.
pub(super) struct ProxyMethod;

impl FromRequestParts<AppState> for ProxyMethod {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let http = &state.config.http;
        // In token mode a request with `Authorization` is judged by that
        // header alone (a cookie beside it is never read); in session mode
        // only the cookie counts, whatever else the browser attached.
        let header_credential =
            state.config.mode == Mode::Token && parts.headers.contains_key(AUTHORIZATION);
        if !http.verify_requires_method
            || header_credential
            || METHOD_HEADERS
                .iter()
                .any(|h| parts.headers.contains_key(*h))
        {
            return Ok(Self);
        }
        let name = match state.config.mode {
            Mode::Token => cookie::access_name(http),
            Mode::Session(_) => cookie::session_name(http),
        };
        match cookie::read(&parts.headers, name) {
            Ok(Some(v)) if !v.is_empty() => Err(ApiError::Problem(Problem::new(
                StatusCode::BAD_REQUEST,
                "original-method-required",
                "The original method is required",
                "a request authenticated by cookie is verified only when the proxy names its \
                 method in X-Original-Method or X-Forwarded-Method",
            ))),
            _ => Ok(Self),
        }
    }
}

/// The query of the feed: `after` (an event id, 0 by default) and, for
/// pages, `limit` (1 to 1000, 1000 by default).
struct FeedQuery {
    after: i64,
    limit: i64,
}

impl FeedQuery {
    /// Parses the query, naming the parameter that is wrong but never
    /// echoing what was sent.
    fn parse(query: Option<&str>) -> Result<Self, ApiError> {
        let page = i64::try_from(FEED_PAGE).unwrap_or(i64::MAX);
        let mut q = Self {
            after: 0,
            limit: page,
        };
        for pair in query
            .unwrap_or_default()
            .split('&')
            .filter(|p| !p.is_empty())
        {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let number = || value.parse::<i64>().ok();
            match name {
                "after" => {
                    q.after = number().filter(|n| *n >= 0).ok_or_else(|| {
                        ApiError::BadRequest(
                            "`after` must be an event id: an integer, 0 or more".to_owned(),
                        )
                    })?;
                }
                "limit" => {
                    q.limit = number().filter(|n| (1..=page).contains(n)).ok_or_else(|| {
                        ApiError::BadRequest(format!("`limit` must be an integer from 1 to {page}"))
                    })?;
                }
                _ => {}
            }
        }
        Ok(q)
    }
}

/// The feed is for services, authenticated with the service credential
/// (PASSCARD_SERVICE_TOKEN); it is off (404) when none is configured.
fn check_feed_token(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(expected) = &state.config.services.token else {
        return Err(ApiError::NotFound);
    };
    let presented = headers
        .get(AUTHORIZATION)
        .and_then(|v| passcard_axum::bearer_token(v.as_bytes()));
    let Some(presented) = presented else {
        return Err(ApiError::ServiceCredential {
            presented: headers.contains_key(AUTHORIZATION),
        });
    };
    aws_lc_rs::constant_time::verify_slices_are_equal(presented.as_bytes(), expected.0.as_bytes())
        .map_err(|_| ApiError::ServiceCredential { presented: true })
}

/// `GET /v1/revocations?after=ID&limit=N`: events after an id, oldest first.
pub(super) async fn revocations(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Json<FeedPage>, ApiError> {
    check_feed_token(&state, &headers)?;
    let q = FeedQuery::parse(query.as_deref())?;
    let events = state
        .auth
        .store()
        .events_after(q.after, q.limit)
        .await
        .map_err(crate::domain::Error::from)?;
    let last_id = events.last().map_or(q.after, |e| e.id);
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
    RawQuery(query): RawQuery,
) -> Result<impl IntoResponse, ApiError> {
    check_feed_token(&state, &headers)?;
    let q = FeedQuery::parse(query.as_deref())?;
    let resume = match headers.get("last-event-id") {
        None => q.after,
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|v| v.parse::<i64>().ok())
            .filter(|n| *n >= 0)
            .ok_or_else(|| {
                ApiError::BadRequest(
                    "Last-Event-ID must be an event id: an integer, 0 or more".to_owned(),
                )
            })?,
    };
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
    // The stream ends when the server shuts down, so a shutdown does not
    // wait for it.
    let stopping = feed.state.shutting_down();
    let stream =
        futures_util::stream::unfold((feed, stopping), |(mut feed, mut stopping)| async move {
            let e = tokio::select! {
                e = feed.next() => e?,
                () = crate::http::serve::stopped(&mut stopping) => return None,
            };
            Some((Ok::<_, Infallible>(sse_event(&e)), (feed, stopping)))
        });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
