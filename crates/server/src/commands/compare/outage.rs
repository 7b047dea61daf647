//! The store-outage row: stop the store under a running instance and see
//! which requests keep working, what the others answer, and how soon they
//! work again.
//!
//! An instance of its own reaches PostgreSQL or Redis through a [`Proxy`]
//! that `compare` runs on loopback (the measured instances connect
//! directly, so the proxy costs them nothing). Cutting it closes every
//! forwarded connection and the listening socket, so new connections are
//! refused, which is what the instance sees when the store's server stops;
//! restoring it listens on the same port again. SQLite has no server to
//! stop: its outage is the instance's connection pool closed.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::Serialize;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use super::{Cred, login_full, until};
use crate::config::Mode;

/// A TCP forwarder on loopback in front of a store.
pub(super) struct Proxy {
    /// Where the instances connect instead of the store.
    pub(super) addr: SocketAddr,
    target: SocketAddr,
    /// False while cut: forwarding tasks end when it turns false.
    up: watch::Sender<bool>,
    accept: Mutex<Option<JoinHandle<()>>>,
    connections: Arc<Mutex<JoinSet<()>>>,
}

impl Proxy {
    /// Starts forwarding loopback connections to `target`.
    pub(super) async fn start(target: SocketAddr) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let proxy = Self {
            addr: listener.local_addr()?,
            target,
            up: watch::channel(true).0,
            accept: Mutex::new(None),
            connections: Arc::new(Mutex::new(JoinSet::new())),
        };
        proxy.serve(listener);
        Ok(proxy)
    }

    fn serve(&self, listener: TcpListener) {
        let (target, up, connections) = (self.target, self.up.clone(), self.connections.clone());
        let task = tokio::spawn(async move {
            loop {
                let inbound = match listener.accept().await {
                    Ok((inbound, _)) => inbound,
                    Err(e) => {
                        tracing::warn!(error = %e, "compare proxy: accept failed");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let mut down = up.subscribe();
                let forward = async move {
                    let connect =
                        tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(target));
                    let Ok(Ok(mut outbound)) = connect.await else {
                        return;
                    };
                    let mut inbound = inbound;
                    let _ = inbound.set_nodelay(true);
                    let _ = outbound.set_nodelay(true);
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = down.wait_for(|up| !*up) => {}
                    }
                };
                let mut open = connections.lock().unwrap_or_else(PoisonError::into_inner);
                while open.try_join_next().is_some() {}
                open.spawn(forward);
            }
        });
        *self.accept.lock().unwrap_or_else(PoisonError::into_inner) = Some(task);
    }

    /// Stops listening (new connections are refused) and closes every
    /// forwarded connection; returns once they are all closed.
    pub(super) async fn cut(&self) {
        let accept = self
            .accept
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(task) = accept {
            task.abort();
            let _ = task.await;
        }
        self.up.send_replace(false);
        let mut open = std::mem::take(
            &mut *self
                .connections
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        while open.join_next().await.is_some() {}
    }

    /// Listens on the same port again (trying for a second) and forwards
    /// new connections.
    pub(super) async fn restore(&self) -> anyhow::Result<()> {
        let mut tries = 0;
        let listener = loop {
            let socket = TcpSocket::new_v4()?;
            socket.set_reuseaddr(true)?;
            match socket.bind(self.addr).and_then(|()| socket.listen(1024)) {
                Ok(listener) => break listener,
                Err(e) if tries < 10 => {
                    tracing::debug!(error = %e, "compare proxy: cannot listen again yet");
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => {
                    return Err(e).with_context(|| format!("cannot listen on {} again", self.addr));
                }
            }
        };
        self.up.send_replace(true);
        self.serve(listener);
        Ok(())
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(task) = self
            .accept
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            task.abort();
        }
        self.up.send_replace(false);
        self.connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .abort_all();
    }
}

/// Why `url` cannot go through a loopback proxy, if it cannot: a Unix
/// socket, a host named in the query string, or TLS that verifies the
/// host name.
pub(super) fn unproxyable(url: &reqwest::Url) -> Option<&'static str> {
    if url
        .query_pairs()
        .any(|(k, _)| k == "host" || k == "hostaddr")
    {
        return Some("the URL sets its host in the query string");
    }
    if url.scheme() == "rediss"
        || url
            .query_pairs()
            .any(|(k, v)| k == "sslmode" && v.starts_with("verify"))
    {
        return Some("the URL asks for TLS with a verified host name");
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Some("the URL names no host (a Unix socket)");
    }
    None
}

/// The address of the server `url` names, among those its host resolves
/// to: the first that accepts a connection.
pub(super) async fn target(url: &reqwest::Url, default_port: u16) -> anyhow::Result<SocketAddr> {
    let host = url.host_str().context("the URL names no host")?;
    let port = url.port().unwrap_or(default_port);
    let host = host.trim_matches(['[', ']']);
    for addr in tokio::net::lookup_host((host, port)).await? {
        if tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(addr))
            .await
            .is_ok_and(|c| c.is_ok())
        {
            return Ok(addr);
        }
    }
    anyhow::bail!("nothing answers at {host}:{port}")
}

/// `url` with its host and port replaced by the proxy's.
pub(super) fn through(url: &str, proxy: SocketAddr) -> anyhow::Result<String> {
    let mut parsed = reqwest::Url::parse(url).context("not a URL")?;
    parsed
        .set_host(Some(&proxy.ip().to_string()))
        .context("cannot set the host")?;
    parsed
        .set_port(Some(proxy.port()))
        .map_err(|()| anyhow::anyhow!("cannot set the port"))?;
    Ok(parsed.into())
}

/// One request tried while the store was down.
#[derive(Debug, Serialize)]
pub(super) struct Tried {
    /// It succeeded (2xx).
    pub(super) works: bool,
    /// The status it got (None: no answer within the probe's timeout).
    pub(super) status: Option<u16>,
    /// How long the answer took.
    pub(super) ms: f64,
}

/// What kept working while the store was down.
#[derive(Debug, Serialize)]
pub(super) struct Outage {
    /// How the store was stopped.
    pub(super) how: &'static str,
    /// `GET /v1/me` with a credential issued before.
    pub(super) me: Tried,
    /// A new `POST /v1/login`.
    pub(super) login: Tried,
    /// `POST /v1/refresh` (token mode only).
    pub(super) refresh: Option<Tried>,
    /// `POST /v1/logout`.
    pub(super) logout: Tried,
    /// Whether the store came back (SQLite's closed pool does not).
    pub(super) restored: bool,
    /// From the store's return until a request that needs it succeeds
    /// (None: not restored, or not within 10 s).
    pub(super) recovered_ms: Option<f64>,
}

/// How a store goes down for [`probe`].
pub(super) enum Stop<'a> {
    /// Cut the proxy in front of the store, then restore it.
    Proxy(&'a Proxy),
    /// Close the instance's own pool (SQLite): it stays down.
    ClosePool(&'a crate::state::AppState),
}

/// The longest a probe waits for an answer: the instance's pool gives up
/// after 5 s.
const PROBE_TIMEOUT: Duration = Duration::from_secs(7);

async fn tried(request: reqwest::RequestBuilder) -> Tried {
    let t0 = Instant::now();
    let status = request.send().await.ok().map(|r| r.status());
    Tried {
        works: status.is_some_and(|s| s.is_success()),
        status: status.map(|s| s.as_u16()),
        ms: t0.elapsed().as_secs_f64() * 1000.0,
    }
}

/// Logs `user` in twice on `base`, stops the store, tries each request
/// (at once, so the whole probe takes one timeout at most), and restores.
pub(super) async fn probe(
    base: &str,
    user: &str,
    mode: Mode,
    stop: Stop<'_>,
) -> anyhow::Result<Outage> {
    let client = reqwest::Client::builder().timeout(PROBE_TIMEOUT).build()?;
    let (cred, refresh) = login_full(&client, base, user, mode).await?;
    let (other, _) = login_full(&client, base, user, mode).await?;
    match stop {
        Stop::Proxy(p) => p.cut().await,
        Stop::ClosePool(state) => state.store.close().await,
    }
    let refresh_request = |token: &str| {
        client
            .post(format!("{base}/v1/refresh"))
            .json(&serde_json::json!({"refresh_token": token}))
    };
    let me_request = |cred: &Cred| cred.apply(client.get(format!("{base}/v1/me")));
    let (me, login, refresh_tried, logout) = tokio::join!(
        tried(me_request(&cred)),
        tried(
            client
                .post(format!("{base}/v1/login"))
                .json(&serde_json::json!({"username": user, "password": super::password(user)}))
        ),
        async {
            match &refresh {
                Some(token) => Some(tried(refresh_request(token)).await),
                None => None,
            }
        },
        tried(other.apply(client.post(format!("{base}/v1/logout")))),
    );

    let (how, restored, recovered_ms) = match stop {
        Stop::Proxy(p) => {
            p.restore().await?;
            let t0 = Instant::now();
            // The first request that needs the store: the refresh in token
            // mode (refused ones did not use the token up), the session
            // lookup in session mode.
            let back = match (&refresh, &refresh_tried) {
                // It worked with the store down: there is nothing to time.
                (_, Some(r)) if r.works => None,
                (Some(token), _) => {
                    until(|| async { tried(refresh_request(token)).await.works }, t0).await
                }
                (None, _) => until(|| async { tried(me_request(&cred)).await.works }, t0).await,
            };
            (
                "the proxy in front of the store stopped listening and closed its connections",
                true,
                back,
            )
        }
        Stop::ClosePool(_) => (
            "the instance's SQLite connection pool closed (an embedded store has no server to stop)",
            false,
            None,
        ),
    };
    Ok(Outage {
        how,
        me,
        login,
        refresh: refresh_tried,
        logout,
        restored,
        recovered_ms,
    })
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

    /// An echo server standing in for a store.
    async fn echo() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = s.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        addr
    }

    async fn round_trip(s: &mut TcpStream) -> std::io::Result<Vec<u8>> {
        s.write_all(b"ping").await?;
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf).await?;
        Ok(buf.to_vec())
    }

    #[tokio::test]
    async fn a_cut_closes_connections_and_refuses_new_ones_until_restored() {
        let proxy = Proxy::start(echo().await).await.unwrap();
        let mut open = TcpStream::connect(proxy.addr).await.unwrap();
        assert_eq!(round_trip(&mut open).await.unwrap(), b"ping");

        proxy.cut().await;
        assert!(
            round_trip(&mut open).await.is_err(),
            "an open connection is closed"
        );
        let refused = TcpStream::connect(proxy.addr).await;
        assert_eq!(
            refused.map(|_| ()).unwrap_err().kind(),
            std::io::ErrorKind::ConnectionRefused
        );

        proxy.restore().await.unwrap();
        let mut again = TcpStream::connect(proxy.addr).await.unwrap();
        assert_eq!(round_trip(&mut again).await.unwrap(), b"ping");
    }

    #[test]
    fn urls_go_through_the_proxy_unless_they_cannot() {
        let proxy: SocketAddr = "127.0.0.1:4444".parse().unwrap();
        assert_eq!(
            through("postgres://u:p@db.example:5432/app?sslmode=disable", proxy).unwrap(),
            "postgres://u:p@127.0.0.1:4444/app?sslmode=disable"
        );
        assert_eq!(
            through("redis://127.0.0.1/2", proxy).unwrap(),
            "redis://127.0.0.1:4444/2"
        );
        let why = |u: &str| unproxyable(&reqwest::Url::parse(u).unwrap());
        assert_eq!(why("postgres://127.0.0.1:5432/test"), None);
        assert!(why("postgres:///test?host=/run/postgresql").is_some());
        assert!(why("postgres://db/test?sslmode=verify-full").is_some());
        assert!(why("rediss://cache:6380").is_some());
    }
}
