use std::time::Duration;

use axum::http::StatusCode;
use passcard::config::KeySource;
use passcard_jwt::{Algorithm, SigningKey};
use passcard_testkit::{Kind, ManualClock, PASSWORD, Setup, TempDir, poll_until};

#[tokio::test]
async fn a_signing_kid_that_is_not_in_the_file_stops_the_start() {
    let dir = TempDir::new("kid");
    let key = SigningKey::generate(Algorithm::EdDSA)
        .unwrap()
        .with_kid("only")
        .unwrap();
    let file = crate::contract::key_file(&dir, &key);
    let mut config = passcard::config::Config::with_data_dir(dir.join("data"));
    config.keys.source = Some(KeySource::File(file));
    config.keys.signing_kid = Some("missing".into());
    let err = passcard::http::AppState::build(config, ManualClock::new().shared())
        .await
        .err()
        .unwrap();
    assert!(
        format!("{err:#}").contains("no private key with that kid"),
        "{err:#}"
    );
}

#[tokio::test]
async fn the_generated_key_is_kept_across_restarts() {
    let mut s = Setup::new(Kind::SqliteToken).server().await.unwrap();
    s.seed("alice", "user").await;
    let access = s.login("alice").await.cred.token().to_owned();
    let key_file = s.data_dir().join("key.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let data = s.data_dir();
    s.stop().await;
    let again = Setup::new(Kind::SqliteToken)
        .clock(&s.clock)
        .config(move |c| c.storage = passcard::config::Storage::in_dir(data))
        .server()
        .await
        .unwrap();
    let me = again
        .send(again.client.get(again.url("/v1/me")).bearer_auth(&access))
        .await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
}

fn passcard_cli(args: &[&str], data: &std::path::Path) -> String {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_passcard"))
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .env_remove("PASSCARD_DATABASE_URL")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

#[tokio::test]
async fn cli_changes_reach_a_running_server() {
    let s = Setup::new(Kind::SqliteToken)
        .config(|c| c.revocation.poll = Duration::from_millis(100))
        .server()
        .await
        .unwrap();
    s.seed("alice", "user").await;
    let login = s.login("alice").await;
    let data = s.data_dir();
    let refused = |token: String| {
        let s = &s;
        async move {
            poll_until(Duration::from_secs(10), || async {
                s.send(s.client.get(s.url("/v1/me")).bearer_auth(&token))
                    .await
                    .status
                    == StatusCode::UNAUTHORIZED
            })
            .await
        }
    };
    let out = passcard_cli(&["user", "set-role", "alice", "admin"], &data);
    assert!(out.contains("alice is now admin"), "{out}");
    // Within a few polls, the running server refuses the stale token.
    assert!(
        refused(login.cred.token().to_owned()).await.is_some(),
        "the CLI role change never reached the server"
    );
    let r = s.refresh(login.refresh_token()).await;
    let me = s.get("/v1/me").bearer(&r.str("access_token")).send().await;
    assert_eq!(me.body["role"], "admin");

    passcard_cli(&["user", "ban", "alice"], &data);
    assert!(
        refused(r.str("access_token")).await.is_some(),
        "the CLI ban never reached the server"
    );
}

#[tokio::test]
async fn user_add_from_stdin_creates_an_admin_who_can_log_in() {
    let dir = TempDir::new("useradd");
    let data = dir.join("data");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_passcard"))
        .args(["user", "add", "root", "--role", "admin", "--data-dir"])
        .arg(&data)
        .env_remove("PASSCARD_DATABASE_URL")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write as _;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{PASSWORD}\n").as_bytes())
            .unwrap();
    }
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("created user root"));
    let app = Setup::new(Kind::SqliteToken)
        .config(move |c| c.storage = passcard::config::Storage::in_dir(data))
        .start()
        .await;
    let login = app.login("root").await;
    assert_eq!(app.me(&login.cred).await.body["role"], "admin");
}

/// Issue 19: with PASSCARD_METRICS_LISTEN, /metrics is served on that
/// address alone: the API's listener answers 404 for it, and the metrics
/// listener serves nothing else.
#[tokio::test]
async fn metrics_on_a_listener_of_their_own() {
    let s = Setup::new(Kind::SqliteToken)
        .config(|c| c.metrics.listen = Some(([127, 0, 0, 1], 0).into()))
        .server()
        .await
        .unwrap();
    let metrics = format!("http://{}", s.metrics_addr().expect("a metrics listener"));
    assert_ne!(metrics, s.base);
    let on_api = s.send(s.client.get(s.url("/metrics"))).await;
    assert_eq!(on_api.status, StatusCode::NOT_FOUND);
    assert!(!on_api.text.contains("passcard_http_requests_total"));
    let on_own = s.send(s.client.get(format!("{metrics}/metrics"))).await;
    assert_eq!(on_own.status, StatusCode::OK);
    assert!(
        on_own.text.contains("passcard_http_requests_total"),
        "{}",
        on_own.text
    );
    for path in ["/v1/me", "/healthz", "/"] {
        let a = s.send(s.client.get(format!("{metrics}{path}"))).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{path}");
    }
    // The API is served as before.
    assert_eq!(
        s.send(s.client.get(s.url("/healthz"))).await.status,
        StatusCode::OK
    );
}
