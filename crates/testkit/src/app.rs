//! A passcard server on one configuration of the matrix, driven through
//! its router ([`TestApp`]) or on a loopback port ([`TestServer`]).

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::http::{Method, StatusCode};
use passcard::config::{Config, Mode, SessionSettings};
use passcard::http::{AppState, Background, RunningServer};
use passcard_jwt::{Clock, SystemClock};
use serde_json::json;

use crate::call::{Answer, Call, Cred, Login};
use crate::clock::ManualClock;
use crate::env;
use crate::net::{self, TcpProxy};
use crate::store::{TempDir, TempPrefix, TempSchema};

/// The password of every user a test kit creates.
pub const PASSWORD: &str = "correct-horse-battery";

/// One configuration of the matrix the HTTP contract suite runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Stateless tokens, SQLite store.
    SqliteToken,
    /// Sessions in SQLite.
    SqliteSession,
    /// Stateless tokens, PostgreSQL store (needs PASSCARD_TEST_DATABASE_URL).
    PostgresToken,
    /// Sessions in PostgreSQL (needs PASSCARD_TEST_DATABASE_URL).
    PostgresSession,
    /// Sessions in Redis, users in SQLite (needs PASSCARD_TEST_REDIS_URL).
    RedisSession,
}

impl Kind {
    /// Whether this is session mode.
    pub fn is_session(self) -> bool {
        !matches!(self, Self::SqliteToken | Self::PostgresToken)
    }

    /// Whether this run has the services the configuration needs; says
    /// loudly when not (the caller skips).
    pub fn available(self) -> bool {
        match self {
            Self::SqliteToken | Self::SqliteSession => true,
            Self::PostgresToken | Self::PostgresSession => env::postgres(self.what()).is_some(),
            Self::RedisSession => env::redis(self.what()).is_some(),
        }
    }

    /// What a skip message calls it.
    fn what(self) -> &'static str {
        match self {
            Self::SqliteToken | Self::SqliteSession => "SQLite",
            Self::PostgresToken | Self::PostgresSession => "the HTTP contract suite on PostgreSQL",
            Self::RedisSession => "the HTTP contract suite with sessions in Redis",
        }
    }
}

/// How to start a test server: a configuration of the matrix, a clock,
/// and changes to the configuration.
#[must_use]
pub struct Setup {
    kind: Kind,
    clock: ManualClock,
    real_time: bool,
    follow: bool,
    cuttable: bool,
    customize: Vec<Change>,
}

/// A change to a configuration.
struct Change(Box<dyn FnOnce(&mut Config) + Send>);

/// What a test server owns besides its state: gone with it.
struct Places {
    dir: TempDir,
    _schema: Option<TempSchema>,
    _prefix: Option<TempPrefix>,
    /// The proxies in front of PostgreSQL and Redis, when cuttable.
    proxies: Vec<TcpProxy>,
}

impl Setup {
    /// A server of this configuration with the defaults (but two hashing
    /// slots), on a clock of its own.
    pub fn new(kind: Kind) -> Self {
        Self {
            kind,
            clock: ManualClock::new(),
            real_time: false,
            follow: false,
            cuttable: false,
            customize: Vec::new(),
        }
    }

    /// The configuration of the matrix.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Takes its time from `clock` (shared with other instances).
    pub fn clock(mut self, clock: &ManualClock) -> Self {
        self.clock = clock.clone();
        self
    }

    /// Takes its time from the system clock: for a real browser, whose
    /// cookies expire in real time (the test's [`ManualClock`] then moves
    /// nothing).
    pub fn real_time(mut self) -> Self {
        self.real_time = true;
        self
    }

    /// Follows the revocation log in the background, as a served instance
    /// does (changes made elsewhere arrive by push or poll). Without it,
    /// an instance applies only its own changes, at once.
    pub fn follow(mut self) -> Self {
        self.follow = true;
        self
    }

    /// Reaches PostgreSQL and Redis through a [`TcpProxy`] of its own,
    /// which [`TestApp::store_down`] cuts.
    pub fn cuttable(mut self) -> Self {
        self.cuttable = true;
        self
    }

    /// Changes the configuration (after the matrix set the store and
    /// mode).
    pub fn config(mut self, f: impl FnOnce(&mut Config) + Send + 'static) -> Self {
        self.customize.push(Change(Box::new(f)));
        self
    }

    /// The configuration and the places it lives in, or `None` when the
    /// configuration needs a service this run does not have.
    async fn prepare(self) -> Option<(Config, Places, ManualClock, Arc<dyn Clock>, bool, Kind)> {
        env::logs();
        let dir = TempDir::new("server");
        let mut config = Config::with_data_dir(dir.join("data"));
        config.accounts.hash_concurrency = 2;
        let (mut schema, mut prefix, mut proxies) = (None, None, Vec::new());
        let cuttable = self.cuttable;
        // The URL a server reaches a service at: through a proxy of its
        // own when cuttable.
        let mut reach = async |url: &str, port: u16| {
            if !cuttable {
                return url.to_owned();
            }
            let proxy = TcpProxy::start(net::target(url, port).await).await;
            let url = net::via(url, proxy.addr());
            proxies.push(proxy);
            url
        };
        match self.kind {
            Kind::SqliteToken => {}
            Kind::SqliteSession => config.mode = Mode::session(),
            Kind::PostgresToken | Kind::PostgresSession => {
                let base = env::postgres(self.kind.what())?;
                let s = TempSchema::create(&base).await;
                config.storage.database_url = reach(s.url(), 5432).await;
                schema = Some(s);
                if self.kind == Kind::PostgresSession {
                    config.mode = Mode::session();
                }
            }
            Kind::RedisSession => {
                let url = env::redis(self.kind.what())?;
                let p = TempPrefix::new(&url);
                let mut sessions = SessionSettings::default();
                sessions.store = Some(reach(&url, 6379).await);
                p.prefix().clone_into(&mut sessions.prefix);
                config.mode = Mode::Session(sessions);
                prefix = Some(p);
            }
        }
        for Change(f) in self.customize {
            f(&mut config);
        }
        let places = Places {
            dir,
            _schema: schema,
            _prefix: prefix,
            proxies,
        };
        let shared: Arc<dyn Clock> = if self.real_time {
            Arc::new(SystemClock::new())
        } else {
            self.clock.shared()
        };
        Some((config, places, self.clock, shared, self.follow, self.kind))
    }

    /// Starts the server, driven without a socket; panics when the
    /// configuration is not [available](Kind::available).
    pub async fn start(self) -> TestApp {
        self.app()
            .await
            .expect("the configuration needs a service this run does not have")
    }

    /// Starts the server, driven without a socket, or `None` (said loudly)
    /// when the configuration needs a service this run does not have.
    pub async fn app(self) -> Option<TestApp> {
        let (config, places, clock, shared, follow, kind) = self.prepare().await?;
        let state = AppState::build(config, shared).await.unwrap();
        Some(TestApp::new(state, clock, places, follow, kind))
    }

    /// Starts the server on a loopback port.
    pub async fn server(self) -> Option<TestServer> {
        let (config, places, clock, shared, _, kind) = self.prepare().await?;
        let state = AppState::build(config, shared).await.unwrap();
        let running = passcard::http::spawn(state.clone()).await.unwrap();
        let base = format!("http://{}", running.addr);
        Some(TestServer {
            app: TestApp::new(state, clock, places, false, kind),
            running: Some(running),
            base,
            client: reqwest::Client::new(),
        })
    }
}

/// A passcard server driven through its router, without a socket.
pub struct TestApp {
    /// Its state.
    pub state: AppState,
    /// Its clock.
    pub clock: ManualClock,
    router: Router,
    kind: Kind,
    _background: Option<Background>,
    places: Places,
}

/// The argon2id hash of [`PASSWORD`], computed once.
fn password_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| passcard::domain::hash_password(PASSWORD).unwrap())
}

impl TestApp {
    fn new(state: AppState, clock: ManualClock, places: Places, follow: bool, kind: Kind) -> Self {
        Self {
            router: passcard::http::app(state.clone()),
            kind,
            _background: follow.then(|| Background::start(&state)),
            state,
            clock,
            places,
        }
    }

    /// A request to `path`.
    pub fn call(&self, method: Method, path: &str) -> Call {
        Call::new(self.router.clone(), method, path)
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> Call {
        self.call(Method::GET, path)
    }

    /// `POST path`.
    pub fn post(&self, path: &str) -> Call {
        self.call(Method::POST, path)
    }

    /// `PUT path`.
    pub fn put(&self, path: &str) -> Call {
        self.call(Method::PUT, path)
    }

    /// The configuration of the matrix it runs on.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Whether the server runs in session mode.
    pub fn is_session(&self) -> bool {
        self.state.config.mode.sessions().is_some()
    }

    /// Takes the store away, for real where it is a server: PostgreSQL and
    /// Redis (for a [cuttable](Setup::cuttable) setup) are cut at the
    /// proxy, their open connections closed and new ones refused; SQLite,
    /// which has no server to stop, has its pool closed (with sessions in
    /// Redis both go: the users are in SQLite).
    pub async fn store_down(&self) {
        assert!(
            self.kind == Kind::SqliteToken
                || self.kind == Kind::SqliteSession
                || !self.places.proxies.is_empty(),
            "store_down needs Setup::cuttable"
        );
        for proxy in &self.places.proxies {
            proxy.cut();
        }
        if matches!(
            self.kind,
            Kind::SqliteToken | Kind::SqliteSession | Kind::RedisSession
        ) {
            self.state.auth.store().close().await;
        }
    }

    /// The server's data folder.
    pub fn data_dir(&self) -> std::path::PathBuf {
        self.places.dir.join("data")
    }

    /// Creates a user with [`PASSWORD`] directly in the store (as
    /// `passcard user add` does, without hashing again); returns its id.
    pub async fn seed(&self, name: &str, role: &str) -> i64 {
        self.state
            .auth
            .store()
            .create_user(name, password_hash(), role, 0)
            .await
            .unwrap()
            .id
    }

    /// Registers `name` with [`PASSWORD`] through the API; returns its id.
    pub async fn register(&self, name: &str) -> i64 {
        let a = self
            .post("/v1/users")
            .json(&json!({"username": name, "password": PASSWORD}))
            .send()
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
        a.body["id"].as_i64().unwrap()
    }

    /// Logs `name` in with [`PASSWORD`].
    pub async fn login(&self, name: &str) -> Login {
        let a = self
            .post("/v1/login")
            .json(&json!({"username": name, "password": PASSWORD}))
            .send()
            .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        let (cred, refresh) = if self.is_session() {
            let cookie = a
                .headers
                .get_all("set-cookie")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find(|c| c.contains("passcard_session="))
                .and_then(|c| c.split(';').next())
                .expect("a session cookie")
                .to_owned();
            (Cred::Cookie(cookie), None)
        } else {
            (
                Cred::Bearer(a.str("access_token")),
                Some(a.str("refresh_token")),
            )
        };
        Login {
            cred,
            refresh,
            answer: a,
        }
    }

    /// `GET /v1/me` with `cred`.
    pub async fn me(&self, cred: &Cred) -> Answer {
        self.get("/v1/me").auth(cred).send().await
    }

    /// `POST /v1/refresh` with `token`.
    pub async fn refresh(&self, token: &str) -> Answer {
        self.post("/v1/refresh")
            .json(&json!({"refresh_token": token}))
            .send()
            .await
    }

    /// `POST /v1/logout` with `cred`.
    pub async fn logout(&self, cred: &Cred) -> Answer {
        self.post("/v1/logout").auth(cred).send().await
    }

    /// `POST /v1/logout-all` with `cred`.
    pub async fn logout_all(&self, cred: &Cred) -> Answer {
        self.post("/v1/logout-all").auth(cred).send().await
    }

    /// The value of the first metric sample whose line starts with
    /// `prefix` (0 when there is none).
    pub async fn metric(&self, prefix: &str) -> f64 {
        let a = self.get("/metrics").send().await;
        a.text
            .lines()
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    }
}

/// A passcard server on a loopback port. Everything a [`TestApp`] offers
/// (through the same state, without the socket) is here too; `base` and
/// `client` reach it over a real connection.
pub struct TestServer {
    app: TestApp,
    running: Option<RunningServer>,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// An HTTP client.
    pub client: reqwest::Client,
}

impl std::ops::Deref for TestServer {
    type Target = TestApp;
    fn deref(&self) -> &TestApp {
        &self.app
    }
}

impl TestServer {
    /// The address of the metrics listener, when the configuration gives
    /// `/metrics` one of its own.
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        self.running.as_ref().and_then(|r| r.metrics_addr)
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Stops accepting, finishes in-flight requests, waits; the state and
    /// the data stay.
    pub async fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await.unwrap();
        }
    }

    /// Sends a request over the socket and reads the answer.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let r = request.send().await.unwrap();
        let status = r.status();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
        Answer {
            status,
            headers,
            body,
            text,
        }
    }
}
