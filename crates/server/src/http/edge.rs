//! What every answer gets, in one layer instead of several: the request
//! counted by route and status, `X-Content-Type-Options: nosniff`,
//! `Strict-Transport-Security` when configured, and on every answer of the
//! API and the OAuth endpoints (under `/v1/` and `/oauth/`, which carry
//! tokens, claims or user names), `Cache-Control: no-store` and `Pragma:
//! no-cache` (RFC 6749 5.1). One hand-written service: no boxing, no cloned
//! route per layer.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use tower::{Layer, Service};

use super::state::AppState;

/// Paths under which no answer (errors included) may be kept by a cache.
const PRIVATE: [&str; 2] = ["/v1/", "/oauth/"];

/// The layer; see the module's documentation.
#[derive(Clone)]
pub(crate) struct EdgeLayer {
    state: AppState,
    hsts: Option<HeaderValue>,
}

impl EdgeLayer {
    pub(crate) fn new(state: AppState) -> Self {
        let hsts = state.config.http.hsts.and_then(|max_age| {
            HeaderValue::from_str(&format!("max-age={}", max_age.as_secs())).ok()
        });
        Self { state, hsts }
    }
}

impl<S> Layer<S> for EdgeLayer {
    type Service = Edge<S>;

    fn layer(&self, inner: S) -> Edge<S> {
        Edge {
            inner,
            state: self.state.clone(),
            hsts: self.hsts.clone(),
        }
    }
}

/// The service [`EdgeLayer`] wraps around each route.
#[derive(Clone)]
pub(crate) struct Edge<S> {
    inner: S,
    state: AppState,
    hsts: Option<HeaderValue>,
}

impl<S> Service<Request> for Edge<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = EdgeFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        // The matched route, never the raw path (which could carry anything).
        let route = req.extensions().get::<MatchedPath>().cloned();
        let path = req.uri().path();
        let private = PRIVATE.iter().any(|p| path.starts_with(p));
        EdgeFuture {
            inner: self.inner.call(req),
            route,
            private,
            hsts: self.hsts.clone(),
            state: self.state.clone(),
        }
    }
}

pin_project_lite::pin_project! {
    /// The answer of [`Edge`], headed and counted.
    pub(crate) struct EdgeFuture<F> {
        #[pin]
        inner: F,
        route: Option<MatchedPath>,
        private: bool,
        hsts: Option<HeaderValue>,
        state: AppState,
    }
}

impl<F: Future<Output = Result<Response, Infallible>>> Future for EdgeFuture<F> {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Ok(mut response) = std::task::ready!(this.inner.poll(cx));
        let h = response.headers_mut();
        h.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        if *this.private {
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        }
        if let Some(hsts) = this.hsts.take() {
            h.insert(header::STRICT_TRANSPORT_SECURITY, hsts);
        }
        this.state.metrics.request(
            this.route.as_ref().map_or("unmatched", MatchedPath::as_str),
            response.status().as_u16(),
        );
        Poll::Ready(Ok(response))
    }
}
