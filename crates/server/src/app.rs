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

/// Follows the revocation log: on every push signal from the store
/// (PostgreSQL LISTEN/NOTIFY), after every (re)connection of the push
/// channel, and on a periodic safety poll, reads the events after the last
/// one applied, so a missed signal loses nothing. Prunes what can no longer
/// matter once a minute.
async fn follow_revocations(state: AppState) {
    let mut tick = tokio::time::interval(state.config.revocation_poll);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let prune_every = Duration::from_secs(60);
    let mut last_prune = tokio::time::Instant::now();
    let mut listener: Option<Box<dyn passcard_store::Listener>> = None;
    let mut next_listen = tokio::time::Instant::now();
    loop {
        if listener.is_none() && tokio::time::Instant::now() >= next_listen {
            match state.store.listen().await {
                Ok(Some(l)) => {
                    tracing::debug!("listening for revocations");
                    listener = Some(l);
                    catch_up(&state).await;
                }
                Ok(None) => {
                    next_listen = tokio::time::Instant::now() + Duration::from_secs(3600 * 24 * 365)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for revocations; polling meanwhile");
                    next_listen = tokio::time::Instant::now()
                        + state.config.revocation_poll.max(Duration::from_secs(1));
                }
            }
        }
        let pushed = async {
            match listener.as_mut() {
                Some(l) => Some(l.next().await),
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            signal = pushed => match signal {
                Some(Ok(_)) => catch_up(&state).await,
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "revocation push channel lost; polling until it is back");
                    listener = None;
                    next_listen = tokio::time::Instant::now() + Duration::from_secs(1);
                }
                None => {}
            },
            _ = tick.tick() => catch_up(&state).await,
        }
        if last_prune.elapsed() >= prune_every {
            last_prune = tokio::time::Instant::now();
            let now = now_secs();
            let jti_before = now - state.revocations.leeway();
            let versions_before = now - state.revocations.version_lifetime();
            if let Err(e) = state.store.prune(now, jti_before, versions_before).await {
                tracing::warn!(error = %e, "cannot prune the store");
            }
        }
    }
}

async fn catch_up(state: &AppState) {
    match state.revocations.catch_up(&*state.store, now_secs()).await {
        Ok(0) => {}
        Ok(n) => tracing::debug!(events = n, "applied revocation events"),
        Err(e) => tracing::warn!(
            error = %e,
            lag_ms = state.revocations.lag().as_millis(),
            "cannot read the revocation log; tokens are still verified, revocations made elsewhere wait"
        ),
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
