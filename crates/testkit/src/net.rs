//! Network stand-ins a test owns: a TCP forwarder whose target can move,
//! and a `redis-server` of its own.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::env;
use crate::pg::{free_port, signal};
use crate::poll::poll_until;
use crate::store::TempDir;

/// A TCP forwarder on loopback: each new connection goes to the current
/// target; connections already open stay where they went (as behind a
/// virtual IP or a DNS name moved by a failover). [`cut`](Self::cut) takes
/// the target away as a stopped server would: open connections closed,
/// new ones closed as soon as they arrive, until [`restore`](Self::restore).
#[derive(Debug)]
pub struct TcpProxy {
    addr: SocketAddr,
    target: Arc<Mutex<SocketAddr>>,
    cut: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
    accept: JoinHandle<()>,
}

impl TcpProxy {
    /// Starts forwarding to `target`.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let target = Arc::new(Mutex::new(target));
        let cut = Arc::new(AtomicBool::new(false));
        let open: Arc<Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        let (to, is_cut, conns) = (target.clone(), cut.clone(), open.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                // Under the lock `cut` takes: a connection is either closed
                // here or listed before a cut can drain the list.
                let mut conns = conns.lock().unwrap();
                if is_cut.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let dest = *to.lock().unwrap();
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(dest).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                conns.retain(|t| !t.is_finished());
                conns.push(task.abort_handle());
            }
        });
        Self {
            addr,
            target,
            cut,
            open,
            accept,
        }
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sends new connections to `target` from now on.
    pub fn retarget(&self, target: SocketAddr) {
        *self.target.lock().unwrap() = target;
    }

    /// Closes every connection through the proxy, and every new one as it
    /// arrives, until [`restore`](Self::restore).
    pub fn cut(&self) {
        let mut open = self.open.lock().unwrap();
        self.cut.store(true, Ordering::SeqCst);
        for task in open.drain(..) {
            task.abort();
        }
    }

    /// Forwards new connections again.
    pub fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.accept.abort();
        for task in self.open.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}

/// `url` with its host and port replaced by `addr` (`scheme://[user@]host:port/…`).
pub(crate) fn via(url: &str, addr: SocketAddr) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let user = authority.rsplit_once('@').map(|(u, _)| format!("{u}@"));
    format!("{scheme}://{}{addr}{tail}", user.unwrap_or_default())
}

/// The address `url`'s host and port name (`scheme://[user@]host:port/…`).
pub(crate) async fn target(url: &str, default_port: u16) -> SocketAddr {
    let rest = url.split_once("://").unwrap().1;
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let host = rest[..end]
        .rsplit_once('@')
        .map_or(&rest[..end], |(_, h)| h);
    let host = if host
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        host.to_owned()
    } else {
        format!("{host}:{default_port}")
    };
    tokio::net::lookup_host(host).await.unwrap().next().unwrap()
}

/// A `redis-server` of the test's own, on a free loopback port, keeping
/// its data in a folder of its own only across [`stop`](Self::stop) and
/// [`restart`](Self::restart); killed when dropped.
#[derive(Debug)]
pub struct RedisServer {
    binary: PathBuf,
    dir: TempDir,
    child: Option<Child>,
    addr: SocketAddr,
}

impl RedisServer {
    /// Starts one, or `None` (said loudly) without a `redis-server` binary.
    pub async fn start(what: &str) -> Option<Self> {
        let binary = env::redis_server(what)?;
        let port = free_port();
        let mut server = Self {
            binary,
            dir: TempDir::new("redis"),
            child: None,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        };
        server.restart().await;
        Some(server)
    }

    /// Starts it (again) on the same port and folder, and waits until it
    /// answers.
    pub async fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        let port = self.addr.port().to_string();
        let child = Command::new(&self.binary)
            .args(["--port", &port, "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            // What it holds is written at a stop (SIGTERM) and read back at
            // the restart.
            .args(["--shutdown-on-sigterm", "save", "--dir"])
            .arg(&*self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let up = poll_until(Duration::from_secs(10), || async {
            self.command(&["PING"]).await.is_ok()
        })
        .await;
        assert!(up.is_some(), "redis-server did not start on port {port}");
    }

    /// Its PID.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("the server is stopped").id()
    }

    /// Stops it (SIGTERM: it saves what it holds and exits), and waits
    /// until it is gone.
    pub async fn stop(&mut self) {
        signal(self.pid(), "TERM");
        let mut child = self.child.take().unwrap();
        let gone = poll_until(Duration::from_secs(10), || {
            let exited = child.try_wait().unwrap().is_some();
            async move { exited }
        })
        .await;
        assert!(gone.is_some(), "redis-server did not stop");
    }

    /// Freezes it (SIGSTOP): connections stay open, nothing answers.
    pub fn pause(&self) {
        signal(self.pid(), "STOP");
    }

    /// Lets a paused server go on (SIGCONT).
    pub fn resume(&self) {
        signal(self.pid(), "CONT");
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("redis://{}", self.addr)
    }

    /// Runs one command on it.
    pub async fn command(&self, args: &[&str]) -> redis::RedisResult<redis::Value> {
        let client = redis::Client::open(self.url())?;
        let mut conn = client.get_multiplexed_async_connection().await?;
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        cmd.query_async(&mut conn).await
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
