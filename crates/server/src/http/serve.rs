//! Serving: the listener, the revocation follower beside it, graceful
//! shutdown.

use std::future::Future;
use std::net::SocketAddr;

use anyhow::Context as _;
use tokio::net::TcpListener;

use super::state::AppState;

/// The background work a server runs beside its handlers (following the
/// revocation log); stopped when dropped.
#[derive(Debug)]
pub struct Background(tokio::task::JoinHandle<()>);

impl Background {
    /// Starts following the revocation log for `state`.
    pub fn start(state: &AppState) -> Self {
        let revocations = state.auth.revocations().clone();
        Self(tokio::spawn(revocations.follow(
            state.auth.store().clone(),
            state.config.revocation.clone(),
            state.listening.clone(),
        )))
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.0.abort();
    }
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

/// Binds the state's address and serves it in the background.
pub async fn spawn(state: AppState) -> anyhow::Result<RunningServer> {
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
    let _background = Background::start(&state);
    axum::serve(
        listener,
        super::app(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
    .context("server failed")
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
