//! The outage proxy: a TCP forwarder on loopback in front of PostgreSQL or
//! Redis that `compare` can stop as a stopped server would be.
//!
//! An instance of its own reaches the store through a [`Proxy`] (the
//! measured instances connect directly, so the proxy costs them nothing).
//! Cutting it closes every forwarded connection and the listening socket,
//! so new connections are refused, which is what the instance sees when
//! the store's server stops; restoring it listens on the same port again.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// A TCP forwarder on loopback in front of a store.
pub(crate) struct Proxy {
    /// Where the instances connect instead of the store.
    pub(crate) addr: SocketAddr,
    target: SocketAddr,
    /// False while cut: forwarding tasks end when it turns false.
    up: watch::Sender<bool>,
    accept: Mutex<Option<JoinHandle<()>>>,
    connections: Arc<Mutex<JoinSet<()>>>,
}

impl Proxy {
    /// Starts forwarding loopback connections to `target`.
    pub(crate) async fn start(target: SocketAddr) -> anyhow::Result<Self> {
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
    pub(crate) async fn cut(&self) {
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
    pub(crate) async fn restore(&self) -> anyhow::Result<()> {
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
pub(crate) fn unproxyable(url: &reqwest::Url) -> Option<&'static str> {
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
pub(crate) async fn target(url: &reqwest::Url, default_port: u16) -> anyhow::Result<SocketAddr> {
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
pub(crate) fn through(url: &str, proxy: SocketAddr) -> anyhow::Result<String> {
    let mut parsed = reqwest::Url::parse(url).context("not a URL")?;
    parsed
        .set_host(Some(&proxy.ip().to_string()))
        .context("cannot set the host")?;
    parsed
        .set_port(Some(proxy.port()))
        .map_err(|()| anyhow::anyhow!("cannot set the port"))?;
    Ok(parsed.into())
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
