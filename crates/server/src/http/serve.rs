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
use crate::config::HttpSettings;

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
    /// The address of its metrics listener, when `PASSCARD_METRICS_LISTEN`
    /// gives `/metrics` one of its own.
    pub metrics_addr: Option<SocketAddr>,
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

/// Binds the state's address (and its metrics address, if any) and serves
/// it in the background.
pub async fn spawn(state: AppState) -> anyhow::Result<RunningServer> {
    let listener = TcpListener::bind(state.config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", state.config.listen))?;
    let addr = listener.local_addr()?;
    let metrics = bind_metrics(&state).await?;
    let metrics_addr = metrics.as_ref().map(TcpListener::local_addr).transpose()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(serve_with(listener, metrics, state.clone(), async {
        let _ = rx.await;
    }));
    Ok(RunningServer {
        addr,
        metrics_addr,
        state,
        shutdown: Some(tx),
        task,
    })
}

/// The metrics listener, when `PASSCARD_METRICS_LISTEN` names one.
async fn bind_metrics(state: &AppState) -> anyhow::Result<Option<TcpListener>> {
    let Some(addr) = state.config.metrics.listen else {
        return Ok(None);
    };
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen for metrics on {addr}"))?;
    tracing::info!(addr = %listener.local_addr()?, "metrics listening");
    Ok(Some(listener))
}

/// Connections the metrics listener serves at once: a scraper or two.
const METRICS_CONNECTIONS: usize = 16;

/// Serves until `shutdown` completes, following the revocation log (and
/// serving `/metrics` on its own listener when configured); then shuts
/// down within the configured deadline.
pub async fn serve_on(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let metrics = bind_metrics(&state).await?;
    serve_with(listener, metrics, state, shutdown).await
}

async fn serve_with(
    listener: TcpListener,
    metrics: Option<TcpListener>,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let _background = Background::start(&state);
    let http = state.config.http.clone();
    let (stop, stopping) = watch::channel(false);
    let metrics = metrics.map(|listener| {
        let router = super::routes::metrics_router(state.clone());
        let (http, stopping) = (http.clone(), stopping.clone());
        tokio::spawn(async move {
            let mut until = stopping.clone();
            let connections = accept_until(
                listener,
                router,
                &http,
                METRICS_CONNECTIONS,
                stopping,
                async move { stopped(&mut until).await },
            )
            .await;
            drain(connections, http.shutdown_timeout).await;
        })
    });
    let router = super::app(state.clone());
    let connections = accept_until(
        listener,
        router,
        &http,
        http.max_connections,
        stopping,
        shutdown,
    )
    .await;
    tracing::info!(
        connections = connections.len(),
        timeout_s = http.shutdown_timeout.as_secs_f64(),
        "shutting down: no new connections; finishing requests in flight"
    );
    state.begin_shutdown();
    let _ = stop.send(true);
    drain(connections, http.shutdown_timeout).await;
    if let Some(metrics) = metrics {
        let _ = metrics.await;
    }
    Ok(())
}

/// Accepts connections on `listener` and serves each with `router`, at
/// most `cap` at once (past it, new ones wait in the listen backlog),
/// until `until` completes; then hands back the connections still open.
async fn accept_until(
    listener: TcpListener,
    router: Router,
    http: &HttpSettings,
    cap: usize,
    stopping: watch::Receiver<bool>,
    until: impl Future<Output = ()>,
) -> JoinSet<()> {
    let slots = Arc::new(Semaphore::new(cap));
    let mut connections = JoinSet::new();
    tokio::pin!(until);
    loop {
        while connections.try_join_next().is_some() {}
        // A free slot first: past the cap, connections wait in the backlog.
        let slot = tokio::select! {
            Ok(slot) = slots.clone().acquire_owned() => slot,
            () = &mut until => break,
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
            () = &mut until => break,
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
    connections
}

/// Lets the connections finish for at most `timeout` (they were told to
/// close gracefully), then closes what is left.
async fn drain(mut connections: JoinSet<()>, timeout: Duration) {
    let drained = tokio::time::timeout(timeout, async {
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
