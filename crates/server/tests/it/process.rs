//! `passcard serve` as a process: what it logs, where, how it stops.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use passcard_testkit::{TempDir, TempSchema, env};

/// A `passcard serve` process on a free loopback port, killed when
/// dropped; its output (stdout and stderr) collected as it comes.
pub(crate) struct Serving {
    pub(crate) child: Child,
    pub(crate) addr: String,
    pub(crate) output: Arc<Mutex<String>>,
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn collect(from: impl std::io::Read + Send + 'static, into: Arc<Mutex<String>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(from).lines() {
            let Ok(line) = line else { break };
            let mut out = into.lock().unwrap();
            out.push_str(&line);
            out.push('\n');
        }
    });
}

/// A `passcard` command with a clean PASSCARD_* environment plus `env`.
pub(crate) fn command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_passcard"));
    cmd.args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("PASSCARD_") || k == "NO_COLOR" {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().copied());
    cmd
}

impl Serving {
    /// Starts `passcard serve` with `data` as its data folder and waits
    /// until it listens; panics with its output if it does not.
    pub(crate) fn start(data: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut all = vec!["serve", "--listen", "127.0.0.1:0", "--data-dir"];
        let data = data.to_str().unwrap().to_owned();
        all.push(&data);
        all.extend_from_slice(args);
        let mut child = command(&all, env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let output = Arc::new(Mutex::new(String::new()));
        collect(child.stdout.take().unwrap(), output.clone());
        collect(child.stderr.take().unwrap(), output.clone());
        let started = Instant::now();
        loop {
            let out = output.lock().unwrap().clone();
            if let Some(line) = out.lines().find(|l| l.contains("passcard listening")) {
                let addr = line
                    .split("addr=")
                    .nth(1)
                    .and_then(|rest| rest.split_whitespace().next())
                    .unwrap()
                    .to_owned();
                return Self {
                    child,
                    addr,
                    output,
                };
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("passcard serve exited ({status}) before listening:\n{out}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "passcard serve did not listen within 60 s:\n{out}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub(crate) fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// `GET path` over a plain connection: the status line.
    pub(crate) fn get(&self, path: &str) -> String {
        self.request("GET", path, "")
    }

    /// `POST path` with a JSON body over a plain connection: the status
    /// line.
    pub(crate) fn post(&self, path: &str, json: &str) -> String {
        self.request("POST", path, json)
    }

    fn request(&self, method: &str, path: &str, body: &str) -> String {
        use std::io::{Read as _, Write as _};
        let mut s = std::net::TcpStream::connect(&self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        answer.lines().next().unwrap_or_default().to_owned()
    }
}

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
#[test]
fn the_data_files_are_private_even_in_an_open_folder_which_is_warned_about() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = TempDir::new("open-data");
    let data = dir.join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let s = Serving::start(&data, &[], &[]);
    assert_eq!(s.get("/healthz"), "HTTP/1.1 200 OK");
    let out = s.output();
    assert!(
        out.contains("the data folder is open to other users; run chmod 700 on it"),
        "{out}"
    );
    for file in [
        "key.json",
        "passcard.db",
        "passcard.db-wal",
        "passcard.db-shm",
    ] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
    // A log going to a pipe carries no colour codes.
    assert!(!out.contains('\u{1b}'), "{out:?}");
}

/// At debug level the server states, once at start, the most each
/// in-memory table holds, as set.
#[test]
fn the_bounds_of_the_in_memory_tables_are_logged_at_debug_level() {
    let dir = TempDir::new("bounds");
    let s = Serving::start(
        &dir.join("data"),
        &["--verify-cache", "1000"],
        &[("PASSCARD_LOG", "passcard=debug")],
    );
    assert_eq!(s.get("/healthz"), "HTTP/1.1 200 OK");
    let out = s.output();
    let line = out
        .lines()
        .find(|l| l.contains("in-memory bounds"))
        .unwrap_or_else(|| panic!("no bounds line in {out}"));
    // 1000 slots round up to a power of two.
    for part in [
        "verify_cache_slots=1024",
        "login_limiter_username_sketch_cells=1048576",
        "login_limiter_addresses=100000",
        "login_limiter_devices=100000",
        "registration_limiter_addresses=100000",
        "revocation_entries_kept_for=",
    ] {
        assert!(line.contains(part), "{part} missing from {line}");
    }
    // Not at the default level.
    drop(s);
    let quiet = Serving::start(&dir.join("data2"), &[], &[]);
    assert_eq!(quiet.get("/healthz"), "HTTP/1.1 200 OK");
    assert!(!quiet.output().contains("in-memory bounds"));
}

/// What `passcard serve` logs on a terminal (a pty from util-linux's
/// `script`), with `env` set.
#[cfg(unix)]
fn on_a_terminal(data: &std::path::Path, env: &str) -> Option<String> {
    if Command::new("script").arg("--version").output().is_err() {
        passcard_testkit::env::skipped("the terminal colour test", "needs util-linux's script");
        return None;
    }
    let bin = env!("CARGO_BIN_EXE_passcard");
    // A fresh data folder: the server logs a warning as it generates its
    // key, then stops at the database, which is unreachable.
    let line = format!(
        "{env} {bin} serve --listen 127.0.0.1:0 --data-dir {} --database-url postgres://127.0.0.1:99999/x",
        data.display()
    );
    let o = Command::new("script")
        .args(["-q", "-e", "-c", &line, "/dev/null"])
        .env_remove("NO_COLOR")
        .envs(std::env::vars().filter(|(k, _)| !k.starts_with("PASSCARD_")))
        .output()
        .unwrap();
    Some(String::from_utf8_lossy(&o.stdout).into_owned())
}

#[cfg(unix)]
#[test]
fn colour_on_a_terminal_unless_no_color_says_otherwise() {
    let dir = TempDir::new("colour");
    let Some(coloured) = on_a_terminal(&dir.join("a"), "") else {
        return;
    };
    assert!(coloured.contains("no key configured"), "{coloured}");
    assert!(
        coloured.contains('\u{1b}'),
        "a terminal gets colour: {coloured:?}"
    );
    let plain = on_a_terminal(&dir.join("b"), "NO_COLOR=1").unwrap();
    assert!(plain.contains("no key configured"), "{plain}");
    assert!(!plain.contains('\u{1b}'), "NO_COLOR: {plain:?}");
}

#[test]
fn database_and_redis_urls_never_show_their_passwords() {
    let dir = TempDir::new("redact");
    let data = dir.join("data");
    let data = data.to_str().unwrap();
    for (args, env) in [
        (
            vec!["--database-url", "postgres://app:s3cret@127.0.0.1:99999/db"],
            vec![],
        ),
        (
            vec![
                "--database-url",
                "postgres://app@127.0.0.1:99999/db?password=s3cret",
            ],
            vec![],
        ),
        (
            vec!["--mode", "session"],
            vec![("PASSCARD_SESSION_STORE", "redis://:s3cret@127.0.0.1:1/0")],
        ),
    ] {
        let mut all = vec!["serve", "--data-dir", data];
        all.extend(args.iter().copied());
        let o = command(&all, &env).output().unwrap();
        let (out, err) = (
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr),
        );
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("***"), "{args:?}: {err}");
        assert!(
            !out.contains("s3cret") && !err.contains("s3cret"),
            "{args:?}: {out}{err}"
        );
    }
}

#[tokio::test]
async fn the_listening_line_shows_the_database_without_its_password() {
    let Some(base) = env::postgres("the redacted listening line") else {
        return;
    };
    let schema = TempSchema::create(&base).await;
    let url = format!("{}&password=s3cret", schema.url());
    let dir = TempDir::new("redact-listen");
    let s = Serving::start(&dir.join("data"), &["--database-url", &url], &[]);
    let out = s.output();
    let line = out
        .lines()
        .find(|l| l.contains("passcard listening"))
        .unwrap();
    assert!(line.contains("password=***"), "{line}");
    assert!(!out.contains("s3cret"), "{out}");
}

#[test]
fn failed_logins_and_throttling_are_logged_at_a_bounded_rate_without_passwords() {
    let dir = TempDir::new("login-log");
    let s = Serving::start(&dir.join("data"), &["--login-max-failures", "3"], &[]);
    let password = "hunter2-never-logged";
    let created = s.post(
        "/v1/users",
        &format!(r#"{{"username":"alice","password":"{password}"}}"#),
    );
    assert!(created.contains("201"), "{created}");
    let wrong = r#"{"username":"alice","password":"not-her-password-either"}"#;
    let mut statuses = Vec::new();
    for _ in 0..60 {
        statuses.push(s.post("/v1/login", wrong));
    }
    assert!(
        statuses[..3].iter().all(|l| l.contains("401")),
        "{statuses:?}"
    );
    assert!(
        statuses[3..].iter().all(|l| l.contains("429")),
        "{statuses:?}"
    );
    // A line per refusal, up to 10 a second; the rest are counted.
    let logged = poll(|| {
        let out = s.output();
        out.matches("login failed").count() == 3 && out.contains("login throttled")
    });
    assert!(logged, "{}", s.output());
    let out = s.output();
    let failed = out.lines().find(|l| l.contains("login failed")).unwrap();
    assert!(
        failed.contains("user=alice") && failed.contains("addr=127.0.0.1"),
        "{failed}"
    );
    assert!(
        !out.contains("hunter2") && !out.contains("not-her-password"),
        "{out}"
    );
    let throttled = out.matches("login throttled").count();
    assert!(
        (1..=40).contains(&throttled),
        "{throttled} throttled lines for 57 refusals"
    );
    // A line after a full second says how many were left out.
    std::thread::sleep(Duration::from_millis(1100));
    s.post("/v1/login", wrong);
    let counted = poll(|| {
        s.output()
            .lines()
            .filter(|l| l.contains("login throttled"))
            .any(|l| !l.contains("left_out=0"))
    });
    assert!(counted || throttled == 57, "{}", s.output());
}

/// Issue 19: a failed login logged any name of a valid shape, so a
/// password typed into the username field landed in the log. Only a user
/// that exists is named.
#[test]
fn a_failed_login_names_only_a_user_that_exists() {
    let dir = TempDir::new("login-names");
    let s = Serving::start(&dir.join("data"), &[], &[]);
    let created = s.post(
        "/v1/users",
        r#"{"username":"alice","password":"alice-own-password"}"#,
    );
    assert!(created.contains("201"), "{created}");
    // A password, typed where the username goes: it has a name's shape.
    let typed = "tr0ub4dor-and-3-typed-here";
    let refused = s.post(
        "/v1/login",
        &format!(r#"{{"username":"{typed}","password":"whatever-was-typed-next"}}"#),
    );
    assert!(refused.contains("401"), "{refused}");
    let refused = s.post(
        "/v1/login",
        r#"{"username":"alice","password":"not-alice-password"}"#,
    );
    assert!(refused.contains("401"), "{refused}");
    assert!(
        poll(|| s.output().matches("login failed").count() == 2),
        "{}",
        s.output()
    );
    let out = s.output();
    assert!(!out.contains(typed), "{out}");
    let lines: Vec<&str> = out.lines().filter(|l| l.contains("login failed")).collect();
    assert!(lines[0].contains("user=(not named)"), "{}", lines[0]);
    assert!(lines[1].contains("user=alice"), "{}", lines[1]);
}

/// Polls `condition` for at most 10 s.
fn poll(condition: impl Fn() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Sends SIGTERM to `child` and waits: its exit code and how long it took,
/// or `None` after 30 s.
fn terminate(child: &mut Child) -> Option<(Option<i32>, Duration)> {
    let started = Instant::now();
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    while started.elapsed() < Duration::from_secs(30) {
        if let Some(status) = child.try_wait().unwrap() {
            return Some((status.code(), started.elapsed()));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

#[cfg(unix)]
#[test]
fn sigterm_with_a_half_sent_request_open_exits_within_the_shutdown_timeout() {
    use std::io::Write as _;
    let dir = TempDir::new("shutdown");
    let mut s = Serving::start(&dir.join("data"), &["--shutdown-timeout", "1s"], &[]);
    let mut half = std::net::TcpStream::connect(&s.addr).unwrap();
    half.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let (code, took) = terminate(&mut s.child).expect("still running 30 s after SIGTERM");
    assert_eq!(code, Some(0), "{}", s.output());
    assert!(took < Duration::from_secs(5), "took {took:?} to stop");
}

#[cfg(unix)]
#[test]
fn sigterm_ends_the_revocation_event_stream_at_once() {
    use std::io::{Read as _, Write as _};
    let feed = "feed-token-0123456789abcdef0123456789";
    let dir = TempDir::new("shutdown-sse");
    // The default shutdown timeout (10 s): the stream must not wait for it.
    let mut s = Serving::start(&dir.join("data"), &[], &[("PASSCARD_FEED_TOKEN", feed)]);
    let mut stream = std::net::TcpStream::connect(&s.addr).unwrap();
    write!(
        stream,
        "GET /v1/revocations/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {feed}\r\n\r\n"
    )
    .unwrap();
    let mut head = [0u8; 256];
    let n = stream.read(&mut head).unwrap();
    assert!(String::from_utf8_lossy(&head[..n]).starts_with("HTTP/1.1 200"));
    let (code, took) = terminate(&mut s.child).expect("still running 30 s after SIGTERM");
    assert_eq!(code, Some(0), "{}", s.output());
    assert!(
        took < Duration::from_secs(5),
        "took {took:?}: the stream held the shutdown"
    );
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut rest = Vec::new();
    let ended = stream.read_to_end(&mut rest);
    assert!(ended.is_ok(), "the stream did not end: {ended:?}");
}
