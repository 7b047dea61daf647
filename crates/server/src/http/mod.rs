//! The HTTP layer: thin handlers that call the domain and answer in JSON
//! or `application/problem+json`, the middleware around them, and serving.

mod client;
mod cookie;
mod deadline;
mod edge;
mod error;
mod extract;
pub mod metrics;
mod routes;
pub mod serve;
mod state;
mod web;

use axum::Router;
use tower_http::trace::TraceLayer;

pub use error::ApiError;
pub use serve::{Background, RunningServer, serve_on, shutdown_signal, spawn};
pub use state::AppState;

/// The HTTP application for a state, without a socket (tests drive it with
/// `tower::ServiceExt::oneshot`; [`serve_on`] serves it). Requests are
/// traced (tower-http, at debug level) only when the log filter lets those
/// lines through: otherwise the trace layer would time every request for
/// nothing.
pub fn app(state: AppState) -> Router {
    let router = routes::router(state);
    if tracing::enabled!(target: "tower_http::trace", tracing::Level::DEBUG) {
        router.layer(TraceLayer::new_for_http())
    } else {
        router
    }
}

/// Thin entry points for the fuzz targets in `fuzz/`, to parsers that are
/// not public. Built only with `--cfg fuzzing` (cargo-fuzz sets it), so
/// never part of the API.
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing {
    use std::net::IpAddr;

    use axum::http::HeaderMap;

    use crate::config::{ForwardedHeader, IpNet};

    /// The client address of a request from `peer` with `headers`, as the
    /// rate limits and the logs see it, behind the `trusted` proxies that
    /// set `header`.
    pub fn client_address(
        peer: IpAddr,
        headers: &HeaderMap,
        trusted: &[IpNet],
        header: ForwardedHeader,
    ) -> IpAddr {
        super::client::client_address(peer, headers, trusted, header)
    }
}
