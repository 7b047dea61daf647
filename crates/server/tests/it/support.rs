use std::path::{Path, PathBuf};

use passcard::app::RunningServer;
use passcard::config::Config;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;

/// A temporary folder, removed when dropped.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "passcard-{tag}-{}-{}",
            std::process::id(),
            passcard_jwt::new_jti().unwrap()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A real server on 127.0.0.1:<random> with its own SQLite store.
pub(crate) struct TestServer {
    pub(crate) server: Option<RunningServer>,
    pub(crate) base: String,
    pub(crate) client: reqwest::Client,
    pub(crate) dir: TempDir,
}

/// One HTTP answer.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Value,
    pub(crate) text: String,
}

impl Answer {
    pub(crate) fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or_default()
    }

    pub(crate) fn str(&self, field: &str) -> String {
        self.body[field].as_str().unwrap_or_default().to_owned()
    }
}

impl TestServer {
    pub(crate) async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub(crate) async fn start_with(customize: impl FnOnce(&mut Config)) -> Self {
        let dir = TempDir::new("server");
        let mut config = Config::with_data_dir(dir.join("data"));
        config.hash_concurrency = 2;
        customize(&mut config);
        let server = passcard::app::spawn(config).await.unwrap();
        let base = format!("http://{}", server.addr);
        Self {
            server: Some(server),
            base,
            client: reqwest::Client::new(),
            dir,
        }
    }

    pub(crate) fn state(&self) -> &passcard::state::AppState {
        &self.server.as_ref().unwrap().state
    }

    pub(crate) fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    pub(crate) async fn send(&self, req: reqwest::RequestBuilder) -> Answer {
        let r = req.send().await.unwrap();
        let status = r.status();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
            text,
        }
    }

    pub(crate) async fn get(&self, path: &str, token: Option<&str>) -> Answer {
        let mut req = self.client.get(format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        self.send(req).await
    }

    pub(crate) async fn post(&self, path: &str, body: Value, token: Option<&str>) -> Answer {
        let mut req = self.client.post(format!("{}{path}", self.base)).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        self.send(req).await
    }

    pub(crate) async fn put(&self, path: &str, body: Value, token: Option<&str>) -> Answer {
        let mut req = self.client.put(format!("{}{path}", self.base)).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        self.send(req).await
    }

    /// Registers `name` with a password and returns the user id.
    pub(crate) async fn register(&self, name: &str) -> i64 {
        let a = self
            .post(
                "/v1/users",
                serde_json::json!({"username": name, "password": password(name)}),
                None,
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
        a.body["id"].as_i64().unwrap()
    }

    /// Logs `name` in: (access token, refresh token).
    pub(crate) async fn login(&self, name: &str) -> (String, String) {
        let a = self
            .post(
                "/v1/login",
                serde_json::json!({"username": name, "password": password(name)}),
                None,
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        (a.str("access_token"), a.str("refresh_token"))
    }

    /// Creates an admin directly in the store, as `passcard user add` does.
    pub(crate) async fn admin(&self, name: &str) -> i64 {
        let hash = passcard::password::hash_now(&password(name)).unwrap();
        self.state()
            .store
            .create_user(name, &hash, "admin", 0)
            .await
            .unwrap()
            .id
    }

    pub(crate) async fn refresh(&self, refresh_token: &str) -> Answer {
        self.post(
            "/v1/refresh",
            serde_json::json!({"refresh_token": refresh_token}),
            None,
        )
        .await
    }

    /// The value of a metric line (first sample whose line starts with
    /// `prefix`).
    pub(crate) async fn metric(&self, prefix: &str) -> f64 {
        let a = self.get("/metrics", None).await;
        a.text
            .lines()
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    }
}

pub(crate) fn password(name: &str) -> String {
    format!("{name}-correct-horse")
}

/// Writes `key`'s private JWK to `dir/key.json` (mode 0600) and returns the path.
pub(crate) fn key_file(dir: &TempDir, key: &passcard_jwt::SigningKey) -> PathBuf {
    let path = dir.join("key.json");
    std::fs::write(&path, serde_json::to_string(&key.to_private_jwk()).unwrap()).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    path
}

/// Polls `GET path` with `token` until the answer is `status`; the time it
/// took from `since`, or None after 5 s.
pub(crate) async fn until_status(
    s: &TestServer,
    path: &str,
    token: &str,
    status: StatusCode,
    since: std::time::Instant,
) -> Option<std::time::Duration> {
    while since.elapsed() < std::time::Duration::from_secs(5) {
        if s.get(path, Some(token)).await.status == status {
            return Some(since.elapsed());
        }
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    None
}
