//! What every answer gets, in one layer instead of several: the request
//! counted by route and status, `X-Content-Type-Options: nosniff`, and on
//! the answers that carry a token or say who the caller is,
//! `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 5.1). One
//! hand-written service: no boxing, no cloned route per layer.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use tower::{Layer, Service};

use super::state::AppState;

/// Routes whose answers (errors included) no cache may keep.
const IDENTITY: [&str; 4] = ["/v1/login", "/v1/refresh", "/v1/me", "/v1/verify"];

/// The layer; see the module's documentation.
#[derive(Clone)]
pub(crate) struct EdgeLayer {
    state: AppState,
}

impl EdgeLayer {
    pub(crate) fn new(state: AppState) -> Self {
        Self { state }
    }
}

impl<S> Layer<S> for EdgeLayer {
    type Service = Edge<S>;

    fn layer(&self, inner: S) -> Edge<S> {
        Edge {
            inner,
            state: self.state.clone(),
        }
    }
}

/// The service [`EdgeLayer`] wraps around each route.
#[derive(Clone)]
pub(crate) struct Edge<S> {
    inner: S,
    state: AppState,
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
        let identity = route
            .as_ref()
            .is_some_and(|r| IDENTITY.contains(&r.as_str()));
        EdgeFuture {
            inner: self.inner.call(req),
            route,
            identity,
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
        identity: bool,
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
        if *this.identity {
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        }
        this.state.metrics.request(
            this.route.as_ref().map_or("unmatched", MatchedPath::as_str),
            response.status().as_u16(),
        );
        Poll::Ready(Ok(response))
    }
}
