//! Running the server: the router, the revocation follower, graceful
//! shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;

use crate::config::Config;
use crate::state::{AppState, now_secs};

/// The HTTP application for a state (tests can drive it without a socket).
pub fn app(state: AppState) -> Router {
    crate::routes::router(state).layer(TraceLayer::new_for_http())
}

/// A server running in the background (for tests and embedding).
pub struct RunningServer {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// Its state.
    pub state: AppState,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl RunningServer {
    /// Stops accepting, finishes in-flight requests, and waits.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task.await?
    }
}

/// Builds the state, binds, and serves in the background.
pub async fn spawn(config: Config) -> anyhow::Result<RunningServer> {
    let state = AppState::build(config).await?;
    let listener = TcpListener::bind(state.config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", state.config.listen))?;
    let addr = listener.local_addr()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(serve_on(listener, state.clone(), async {
        let _ = rx.await;
    }));
    Ok(RunningServer {
        addr,
        state,
        shutdown: Some(tx),
        task,
    })
}

/// Serves until `shutdown` completes, following the revocation log.
pub async fn serve_on(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let follower = tokio::spawn(follow_revocations(state.clone()));
    let result = axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await;
    follower.abort();
    result.context("server failed")
}

/// Polls the revocation log for changes made elsewhere (the `passcard
/// user` commands, other instances) and prunes what can no longer matter.
async fn follow_revocations(state: AppState) {
    let mut tick = tokio::time::interval(state.config.revocation_poll);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let prune_every = Duration::from_secs(60);
    let mut last_prune = tokio::time::Instant::now();
    loop {
        tick.tick().await;
        let now = now_secs();
        match state.revocations.catch_up(&*state.store, now).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(events = n, "applied revocation events"),
            Err(e) => tracing::warn!(error = %e, "cannot read the revocation log; will retry"),
        }
        if last_prune.elapsed() >= prune_every {
            last_prune = tokio::time::Instant::now();
            let jti_before = now - state.revocations.leeway();
            let versions_before = now - state.revocations.version_lifetime();
            if let Err(e) = state.store.prune(now, jti_before, versions_before).await {
                tracing::warn!(error = %e, "cannot prune the store");
            }
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
