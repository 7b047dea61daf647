//! A PostgreSQL server of the test's own, from the server binaries
//! ([`env::PG_BIN`]), that a test can stop, restart and pause by PID.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::env;
use crate::poll::poll_until;
use crate::store::TempDir;

/// A throwaway PostgreSQL cluster on a free loopback port (its Unix socket
/// in its own folder), trusting every local connection and keeping
/// nothing safe on disk; shut down (immediately) when dropped. Run as the
/// `postgres` user when the test runs as root, which PostgreSQL refuses.
#[derive(Debug)]
pub struct PgServer {
    bin: PathBuf,
    dir: TempDir,
    port: u16,
    as_postgres: bool,
    child: Option<Child>,
}

/// Sends `signal` (`STOP`, `INT`, …) to `pid`.
pub(crate) fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), "--", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal} {pid} failed");
}

/// Sends `signal` to `pid` if it is still there.
fn try_signal(pid: u32, signal: &str) {
    let _ = Command::new("kill")
        .args([&format!("-{signal}"), "--", &pid.to_string()])
        .stderr(Stdio::null())
        .status();
}

/// The processes whose parent is `pid` (from /proc).
fn children(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| {
            let child: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).ok()?;
            // "pid (comm) state ppid …", where comm may hold anything.
            let parent: u32 = stat
                .rsplit(')')
                .next()?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            (parent == pid).then_some(child)
        })
        .collect()
}

/// A port nothing listens on now.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl PgServer {
    /// Creates and starts one, or `None` (said loudly) without
    /// [`env::PG_BIN`].
    pub async fn start(what: &str) -> Option<Self> {
        let bin = env::pg_bin(what)?;
        let dir = TempDir::new("pg");
        // The owner of a folder just made is who this process runs as.
        let as_postgres =
            std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&*dir).unwrap()) == 0;
        let mut server = Self {
            bin,
            dir,
            port: free_port(),
            as_postgres,
            child: None,
        };
        if as_postgres {
            let status = Command::new("chown")
                .args(["postgres:", server.dir.to_str().unwrap()])
                .status()
                .unwrap();
            assert!(
                status.success(),
                "cannot give {:?} to postgres",
                &*server.dir
            );
        }
        let data = server.data();
        let out = server
            .command("initdb")
            .args(["-D", data.to_str().unwrap()])
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "--no-locale",
                "-E",
                "UTF8",
            ])
            .arg("--no-sync")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        server.restart().await;
        Some(server)
    }

    /// `bin/name`, run as `postgres` when this process is root.
    fn command(&self, name: &str) -> Command {
        let program = self.bin.join(name);
        if self.as_postgres {
            // setpriv executes the program in its place, so the PID a
            // test signals is PostgreSQL's.
            let mut c = Command::new("setpriv");
            c.args([
                "--reuid=postgres",
                "--regid=postgres",
                "--init-groups",
                "--",
            ])
            .arg(program);
            c
        } else {
            Command::new(program)
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// The server's log (stdout and stderr), for a failure message.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("postgres.log")).unwrap_or_default()
    }

    /// The URL of its `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// The postmaster's PID (the parent of every other server process).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("the server is stopped").id()
    }

    /// Starts it (again) on the same port and data, and waits until it
    /// takes connections.
    pub async fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        let log = std::fs::File::create(self.dir.join("postgres.log")).unwrap();
        let data = self.data();
        let sockets = self.dir.to_path_buf();
        let child = self
            .command("postgres")
            .args(["-D", data.to_str().unwrap(), "-p", &self.port.to_string()])
            .args(["-h", "127.0.0.1", "-k", sockets.to_str().unwrap()])
            .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
            .args(["-c", "full_page_writes=off", "-c", "max_connections=100"])
            .args(["-c", "shared_buffers=16MB"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let url = self.url();
        let up = poll_until(Duration::from_secs(30), || async {
            use sqlx::Connection as _;
            match sqlx::PgConnection::connect(&url).await {
                Ok(c) => {
                    let _ = c.close().await;
                    true
                }
                Err(_) => false,
            }
        })
        .await;
        assert!(up.is_some(), "postgres did not start:\n{}", self.log());
    }

    /// Stops it the way `pg_ctl stop` does by default (SIGINT to the
    /// postmaster: a fast shutdown, every connection told and closed), and
    /// waits until it is gone.
    pub async fn stop(&mut self) {
        signal(self.pid(), "INT");
        self.wait_gone().await;
    }

    async fn wait_gone(&mut self) {
        let mut child = self.child.take().expect("the server is stopped");
        let gone = poll_until(Duration::from_secs(30), || {
            let exited = child.try_wait().unwrap().is_some();
            async move { exited }
        })
        .await;
        assert!(gone.is_some(), "postgres did not stop:\n{}", self.log());
    }

    /// Freezes every server process (SIGSTOP to the postmaster, then to
    /// each of its children, which PostgreSQL puts in sessions of their
    /// own): connections stay open, nothing answers.
    pub fn pause(&self) {
        let pid = self.pid();
        signal(pid, "STOP");
        for child in children(pid) {
            // One that exits meanwhile needs no signal.
            try_signal(child, "STOP");
        }
    }

    /// Lets a paused server go on (SIGCONT to every server process).
    pub fn resume(&self) {
        let pid = self.pid();
        for child in children(pid) {
            try_signal(child, "CONT");
        }
        signal(pid, "CONT");
    }

    /// Its folder (data and sockets).
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = child.id();
            // Wake it if paused, then an immediate shutdown; whatever is
            // left after a while is killed.
            for c in children(pid) {
                try_signal(c, "CONT");
            }
            try_signal(pid, "CONT");
            try_signal(pid, "QUIT");
            for _ in 0..100 {
                if child.try_wait().ok().flatten().is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            if child.try_wait().ok().flatten().is_none() {
                for c in children(pid) {
                    try_signal(c, "KILL");
                }
                try_signal(pid, "KILL");
            }
            let _ = child.wait();
        }
    }
}
