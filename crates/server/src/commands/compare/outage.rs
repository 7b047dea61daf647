//! The store-outage row: stop the store under a running instance and see
//! which requests keep working.
//!
//! An instance of its own reaches PostgreSQL or Redis through a [`Proxy`]
//! that `compare` runs on loopback (the measured instances connect
//! directly, so the proxy costs them nothing): cutting it closes every open
//! connection and every new one at once, which is what the instance sees
//! when the server stops, and restoring it shows how long the instance
//! takes to recover. SQLite has no server to stop: its outage is the
//! instance's connection pool closed.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::Serialize;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::{login_full, until};
use crate::config::Mode;

/// A TCP forwarder on loopback in front of a store.
pub(super) struct Proxy {
    /// Where the instances connect instead of the store.
    pub(super) addr: SocketAddr,
    up: watch::Sender<bool>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Starts forwarding loopback connections to `target`.
    pub(super) async fn start(target: SocketAddr) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (up, watch) = watch::channel(true);
        let accept = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                if !*watch.borrow() {
                    // Stopped: close at once, as a stopped server's host would.
                    drop(inbound);
                    continue;
                }
                let mut watch = watch.clone();
                tokio::spawn(async move {
                    let Ok(outbound) = TcpStream::connect(target).await else {
                        return;
                    };
                    let (mut inbound, mut outbound) = (inbound, outbound);
                    let _ = inbound.set_nodelay(true);
                    let _ = outbound.set_nodelay(true);
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = watch.wait_for(|up| !*up) => {}
                    }
                });
            }
        });
        Ok(Self { addr, up, accept })
    }

    /// Closes every forwarded connection and refuses new ones.
    pub(super) fn cut(&self) {
        self.up.send_replace(false);
    }

    /// Forwards new connections again.
    pub(super) fn restore(&self) {
        self.up.send_replace(true);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.up.send_replace(false);
    }
}

/// `url` (postgres:// or redis://) and the address of the server it names.
pub(super) async fn target(url: &str, default_port: u16) -> anyhow::Result<SocketAddr> {
    let parsed = reqwest::Url::parse(url).context("not a URL")?;
    let host = parsed
        .host_str()
        .context("the URL names no host (a Unix socket cannot be proxied)")?;
    let port = parsed.port().unwrap_or(default_port);
    tokio::net::lookup_host((host.trim_matches(['[', ']']), port))
        .await?
        .next()
        .with_context(|| format!("{host} does not resolve"))
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

/// What kept working while the store was down.
#[derive(Debug, Serialize)]
pub(super) struct Outage {
    /// How the store was stopped.
    pub(super) how: &'static str,
    /// `GET /v1/me` with a credential issued before.
    pub(super) me: bool,
    /// A new `POST /v1/login`.
    pub(super) login: bool,
    /// `POST /v1/refresh` (token mode only).
    pub(super) refresh: Option<bool>,
    /// `POST /v1/logout`.
    pub(super) logout: bool,
    /// Whether the store came back (SQLite's closed pool does not).
    pub(super) restored: bool,
    /// From the store's return until a request that needs it succeeds
    /// (None: not measured, or not within 10 s).
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
        Stop::Proxy(p) => p.cut(),
        Stop::ClosePool(state) => state.store.close().await,
    }
    let ok = |r: reqwest::Result<reqwest::Response>| r.is_ok_and(|r| r.status().is_success());
    let me = async { ok(cred.apply(client.get(format!("{base}/v1/me"))).send().await) };
    let new_login = async {
        ok(client
            .post(format!("{base}/v1/login"))
            .json(&serde_json::json!({"username": user, "password": super::password(user)}))
            .send()
            .await)
    };
    let refresh_probe = async {
        match &refresh {
            Some(token) => Some(ok(client
                .post(format!("{base}/v1/refresh"))
                .json(&serde_json::json!({"refresh_token": token}))
                .send()
                .await)),
            None => None,
        }
    };
    let logout = async {
        ok(other
            .apply(client.post(format!("{base}/v1/logout")))
            .send()
            .await)
    };
    let (me, login, refresh_ok, logout) = tokio::join!(me, new_login, refresh_probe, logout);

    let (how, restored, recovered_ms) = match stop {
        Stop::Proxy(p) => {
            p.restore();
            let t0 = Instant::now();
            // The first request that needs the store: a session lookup, or
            // the refresh (refused ones during the outage did not use it).
            let back = until(
                || async {
                    let r = match (&refresh, mode) {
                        (Some(token), Mode::Token) if refresh_ok != Some(true) => {
                            client
                                .post(format!("{base}/v1/refresh"))
                                .json(&serde_json::json!({"refresh_token": token}))
                                .send()
                                .await
                        }
                        _ => cred.apply(client.get(format!("{base}/v1/me"))).send().await,
                    };
                    ok(r)
                },
                t0,
            )
            .await;
            (
                "connections to the store cut, new ones closed at once",
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
        refresh: refresh_ok,
        logout,
        restored,
        recovered_ms,
    })
}
