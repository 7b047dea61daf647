//! Serving: the listener, the connections, the revocation follower beside
//! them, and a shutdown with a deadline.
//!
//! Connections are served by hyper (HTTP/1.1) with a timer: a client that
//! has not sent a request's whole head within the header timeout is
//! disconnected, and so is an idle keep-alive connection. At most
//! `max_connections` are served at once; past that, new ones wait in the
//! listen backlog (nothing is accepted until one ends), so a flood of
//! connections can neither use up the descriptors nor crash the server.
//! A shutdown stops accepting, ends the revocation event streams, lets
//! requests in flight finish for at most the shutdown timeout, then
//! closes what is left.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tower::ServiceExt as _;

use super::state::AppState;

/// The background work a server runs beside its handlers (following the
/// revocation log, checking a session store of its own); stopped when
/// dropped.
#[derive(Debug)]
pub struct Background(Vec<tokio::task::JoinHandle<()>>);

impl Background {
    /// Starts following the revocation log for `state`.
    pub fn start(state: &AppState) -> Self {
        let revocations = state.auth.revocations().clone();
        let follow = tokio::spawn(revocations.follow(
            state.auth.store().clone(),
            state.config.revocation.clone(),
            state.listening.clone(),
        ));
        let (watched, every) = (state.clone(), state.config.revocation.poll);
        let sessions = tokio::spawn(async move { watched.auth.watch_sessions(every).await });
        Self(vec![follow, sessions])
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
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

/// Serves until `shutdown` completes, following the revocation log; then
/// shuts down within the configured deadline.
pub async fn serve_on(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let _background = Background::start(&state);
    let http = state.config.http.clone();
    let router = super::app(state.clone());
    let slots = Arc::new(Semaphore::new(http.max_connections));
    let (stop, stopping) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        while connections.try_join_next().is_some() {}
        // A free slot first: past the cap, connections wait in the backlog.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.context("connection slots closed")?,
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors, or a connection reset before it
                    // was accepted: keep serving the others.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        connections.spawn(connection(
            stream,
            peer,
            router.clone(),
            http.header_timeout,
            stopping.clone(),
            slot,
        ));
    }
    drop(listener);
    tracing::info!(
        connections = connections.len(),
        timeout_s = http.shutdown_timeout.as_secs_f64(),
        "shutting down: no new connections; finishing requests in flight"
    );
    state.begin_shutdown();
    let _ = stop.send(true);
    let drained = tokio::time::timeout(http.shutdown_timeout, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            connections = connections.len(),
            "shutdown timeout reached: closing the connections still open"
        );
        connections.shutdown().await;
    }
    Ok(())
}

/// Serves one connection until it ends, or gracefully once `stopping`
/// turns true. Holds its slot until then.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    header_timeout: Duration,
    mut stopping: watch::Receiver<bool>,
    _slot: OwnedSemaphorePermit,
) {
    let service =
        hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            router.clone().oneshot(req)
        });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(true);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let served = tokio::select! {
        served = conn.as_mut() => served,
        () = stopped(&mut stopping) => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = served {
        tracing::debug!(%peer, error = %e, "connection ended");
    }
}

/// Resolves once `stopping` turns true (or its sender is gone).
pub(crate) async fn stopped(stopping: &mut watch::Receiver<bool>) {
    let _ = stopping.wait_for(|stop| *stop).await;
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
}
