//! The HTTP layer: thin handlers that call the domain and answer in JSON
//! or `application/problem+json`, the middleware around them, and serving.

mod client;
mod cookie;
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
/// `tower::ServiceExt::oneshot`; [`serve_on`] serves it).
pub fn app(state: AppState) -> Router {
    routes::router(state).layer(TraceLayer::new_for_http())
}
