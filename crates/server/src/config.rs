//! `passcard serve` settings: every one an environment variable and a flag
//! of the same meaning, parsed once into a checked [`Config`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args, ValueEnum};

use crate::cli::KeyArgs;
use crate::human::parse_duration;

/// Flags of `passcard serve` (each also read from its environment variable).
#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub(crate) key: KeyArgs,
    /// In a key file with several private keys, the kid of the one that
    /// signs [default: the first private key]. Every key in the file
    /// verifies, so keys can be rotated without downtime.
    #[arg(long, env = "PASSCARD_SIGNING_KID")]
    pub(crate) signing_kid: Option<String>,
    /// Address to listen on.
    #[arg(long, env = "PASSCARD_LISTEN", default_value = "127.0.0.1:8080")]
    pub(crate) listen: SocketAddr,
    #[command(flatten)]
    pub(crate) data: DataArgs,
    /// `iss` of issued tokens, and the only issuer accepted.
    #[arg(long, env = "PASSCARD_ISSUER", default_value = "passcard")]
    pub(crate) issuer: String,
    /// `aud` of issued tokens, and the only audience accepted.
    #[arg(long, env = "PASSCARD_AUDIENCE", default_value = "passcard")]
    pub(crate) audience: String,
    /// Lifetime of access tokens.
    #[arg(long, env = "PASSCARD_ACCESS_TTL", default_value = "5m", value_parser = parse_duration)]
    pub(crate) access_ttl: Duration,
    /// Lifetime of a refresh token (each rotation starts a new one).
    #[arg(long, env = "PASSCARD_REFRESH_TTL", default_value = "14d", value_parser = parse_duration)]
    pub(crate) refresh_ttl: Duration,
    /// How long a rotated refresh token may be presented again (a retry, a
    /// second tab) and get the same successor; after it, reuse revokes the
    /// whole family as theft.
    #[arg(long, env = "PASSCARD_REFRESH_REUSE_INTERVAL", default_value = "10s", value_parser = parse_duration)]
    pub(crate) refresh_reuse_interval: Duration,
    /// Whether anyone may create an account with POST /v1/users.
    #[arg(long, env = "PASSCARD_OPEN_REGISTRATION", default_value_t = true, action = ArgAction::Set)]
    pub(crate) open_registration: bool,
    /// Clock skew allowed on exp, nbf and iat.
    #[arg(long, env = "PASSCARD_LEEWAY", default_value = "30s", value_parser = parse_duration)]
    pub(crate) leeway: Duration,
    /// Failed logins allowed per username and per client address within the
    /// window before 429.
    #[arg(long, env = "PASSCARD_LOGIN_MAX_FAILURES", default_value_t = 10)]
    pub(crate) login_max_failures: u32,
    /// The window for --login-max-failures.
    #[arg(long, env = "PASSCARD_LOGIN_FAILURE_WINDOW", default_value = "15m", value_parser = parse_duration)]
    pub(crate) login_failure_window: Duration,
    /// Password hashes computed at once [default: CPU cores - 1, at least 1],
    /// so a flood of logins leaves a core for token verification.
    #[arg(long, env = "PASSCARD_HASH_CONCURRENCY")]
    pub(crate) hash_concurrency: Option<usize>,
    /// Safety poll of the revocation log, for changes made elsewhere (the
    /// `passcard user` commands, other instances). PostgreSQL also pushes
    /// them at once (LISTEN/NOTIFY); the poll catches anything missed.
    #[arg(long, env = "PASSCARD_REVOCATION_POLL", default_value = "1s", value_parser = parse_duration)]
    pub(crate) revocation_poll: Duration,
    /// Refuse tokens (503) while the revocation view is older than this,
    /// e.g. 30s, for deployments that prefer to fail closed when the store
    /// is unreachable [default: keep verifying].
    #[arg(long, env = "PASSCARD_REVOCATION_MAX_LAG", value_parser = parse_duration)]
    pub(crate) revocation_max_lag: Option<Duration>,
    /// Slots of the cache of verified access tokens (0 disables it): a
    /// repeat request with the same token skips the signature check, never
    /// the expiry or revocation checks.
    #[arg(long, env = "PASSCARD_VERIFY_CACHE", default_value_t = 4096)]
    pub(crate) verify_cache: usize,
    /// Bearer token that services present to read the revocation feed
    /// (/v1/revocations); at least 32 characters. Read from the environment
    /// only (PASSCARD_FEED_TOKEN); the feed is off without it.
    #[arg(skip = std::env::var("PASSCARD_FEED_TOKEN").ok().filter(|t| !t.is_empty()).map(Secret))]
    pub(crate) feed_token: Option<Secret>,
    /// Authentication model: `token` (stateless JWTs, the default) or
    /// `session` (a server-side session per login, looked up on every
    /// request, in a `passcard_session` cookie).
    #[arg(long, env = "PASSCARD_MODE", value_enum, default_value = "token")]
    pub(crate) mode: Mode,
    /// Where sessions live in session mode: the main database (default) or
    /// Redis (`redis://host:6379`).
    #[arg(long, env = "PASSCARD_SESSION_STORE", hide_env_values = true)]
    pub(crate) session_store: Option<String>,
    /// Prefix of the session keys in Redis (deployments sharing a Redis
    /// need different ones).
    #[arg(long, env = "PASSCARD_SESSION_PREFIX", default_value = "passcard")]
    pub(crate) session_prefix: String,
    /// Connections to the session Redis. Each pipelines the commands of
    /// concurrent requests; one was fastest against a local Redis
    /// (docs/benchmarks.md), more may help against a distant one.
    #[arg(long, env = "PASSCARD_REDIS_CONNECTIONS", default_value_t = 1,
          value_parser = clap::value_parser!(u16).range(1..=64))]
    pub(crate) redis_connections: u16,
    /// Mark the session cookie `Secure` (set it when serving over HTTPS).
    #[arg(long, env = "PASSCARD_COOKIE_SECURE", default_value_t = false, action = ArgAction::Set)]
    pub(crate) cookie_secure: bool,
    /// A session ends after this long without use.
    #[arg(long, env = "PASSCARD_SESSION_IDLE", default_value = "30m", value_parser = parse_duration)]
    pub(crate) session_idle: Duration,
    /// A session ends this long after login, used or not.
    #[arg(long, env = "PASSCARD_SESSION_TTL", default_value = "12h", value_parser = parse_duration)]
    pub(crate) session_ttl: Duration,
    /// Log filter (tracing env-filter syntax).
    #[arg(long, env = "PASSCARD_LOG", default_value = "info")]
    pub(crate) log: String,
    /// Log format.
    #[arg(long, env = "PASSCARD_LOG_FORMAT", value_enum, default_value = "text")]
    pub(crate) log_format: LogFormat,
}

/// Where the data lives; shared by `serve` and `user`.
#[derive(Debug, Args)]
pub struct DataArgs {
    /// Folder for the default SQLite database and the generated key.
    #[arg(long, env = "PASSCARD_DATA_DIR", default_value = "passcard-data")]
    pub(crate) data_dir: PathBuf,
    /// Database URL: sqlite://PATH or postgres://USER@HOST/DB [default: sqlite://DATA_DIR/passcard.db].
    #[arg(long, env = "PASSCARD_DATABASE_URL", hide_env_values = true)]
    pub(crate) database_url: Option<String>,
}

impl DataArgs {
    /// The database URL: the flag, or a SQLite file in the data folder.
    pub(crate) fn url(&self) -> anyhow::Result<String> {
        match &self.database_url {
            Some(url) => Ok(url.clone()),
            None => {
                create_private_dir(&self.data_dir)?;
                Ok(format!("sqlite://{}/passcard.db", self.data_dir.display()))
            }
        }
    }
}

/// Authentication model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Stateless access tokens and rotating refresh tokens.
    Token,
    /// Server-side sessions in a cookie.
    Session,
}

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The checked configuration of a running server.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Config {
    /// Address to listen on (port 0 picks a free one).
    pub listen: SocketAddr,
    /// Folder for the default database and the generated key.
    pub data_dir: PathBuf,
    /// Database URL.
    pub database_url: String,
    /// Key file, if one is configured (else `PASSCARD_SECRET`, else the
    /// generated key in the data folder).
    pub key_file: Option<PathBuf>,
    /// The kid that signs, in a key file with several private keys.
    pub signing_kid: Option<String>,
    /// Issuer.
    pub issuer: String,
    /// Audience.
    pub audience: String,
    /// Access-token lifetime.
    pub access_ttl: Duration,
    /// Refresh-token lifetime.
    pub refresh_ttl: Duration,
    /// Refresh reuse interval.
    pub refresh_reuse_interval: Duration,
    /// Open registration.
    pub open_registration: bool,
    /// Clock-skew leeway.
    pub leeway: Duration,
    /// Login failures allowed per window.
    pub login_max_failures: u32,
    /// Login failure window.
    pub login_failure_window: Duration,
    /// Concurrent password hashes.
    pub hash_concurrency: usize,
    /// Revocation log poll interval.
    pub revocation_poll: Duration,
    /// Verified-token cache slots (0: off).
    pub verify_cache: usize,
    /// Fail closed past this revocation lag.
    pub revocation_max_lag: Option<Duration>,
    /// Token services present to read the revocation feed (off if unset).
    pub feed_token: Option<Secret>,
    /// Tokens or sessions.
    pub mode: Mode,
    /// `Secure` on the session cookie.
    pub cookie_secure: bool,
    /// Session store URL (None: the main database).
    pub session_store: Option<String>,
    /// Redis key prefix for sessions.
    pub session_prefix: String,
    /// Multiplexed connections to the session Redis.
    pub redis_connections: usize,
    /// Session idle expiry.
    pub session_idle: Duration,
    /// Session absolute expiry.
    pub session_ttl: Duration,
}

impl Config {
    /// Defaults for a server keeping its data in `data_dir`, listening on a
    /// free loopback port: what tests start from.
    pub fn with_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        let data_dir = data_dir.into();
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url: format!("sqlite://{}/passcard.db", data_dir.display()),
            data_dir,
            key_file: None,
            signing_kid: None,
            issuer: "passcard".to_owned(),
            audience: "passcard".to_owned(),
            access_ttl: Duration::from_secs(300),
            refresh_ttl: Duration::from_secs(14 * 86_400),
            refresh_reuse_interval: Duration::from_secs(10),
            open_registration: true,
            leeway: Duration::from_secs(30),
            login_max_failures: 10,
            login_failure_window: Duration::from_secs(900),
            hash_concurrency: default_hash_concurrency(),
            revocation_poll: Duration::from_secs(1),
            verify_cache: 4096,
            revocation_max_lag: None,
            feed_token: None,
            mode: Mode::Token,
            cookie_secure: false,
            session_store: None,
            session_prefix: "passcard".to_owned(),
            redis_connections: 1,
            session_idle: Duration::from_secs(1800),
            session_ttl: Duration::from_secs(12 * 3600),
        }
    }
}

fn default_hash_concurrency() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get().saturating_sub(1))
        .unwrap_or(1)
        .max(1)
}

impl ServeArgs {
    /// Checks the flags and builds the configuration.
    pub(crate) fn config(&self) -> anyhow::Result<Config> {
        if self.access_ttl < Duration::from_secs(1) {
            anyhow::bail!("PASSCARD_ACCESS_TTL must be at least 1s");
        }
        if self.refresh_ttl <= self.access_ttl {
            anyhow::bail!("PASSCARD_REFRESH_TTL must be longer than PASSCARD_ACCESS_TTL");
        }
        if self.session_idle.is_zero() || self.session_ttl < self.session_idle {
            anyhow::bail!(
                "PASSCARD_SESSION_TTL must be at least PASSCARD_SESSION_IDLE, which must be positive"
            );
        }
        if self.login_max_failures == 0 {
            anyhow::bail!("PASSCARD_LOGIN_MAX_FAILURES must be at least 1");
        }
        if self.feed_token.as_ref().is_some_and(|t| t.0.len() < 32) {
            anyhow::bail!(
                "PASSCARD_FEED_TOKEN must be at least 32 characters; make one with `passcard keygen`"
            );
        }
        if self.revocation_poll < Duration::from_millis(10) {
            anyhow::bail!("PASSCARD_REVOCATION_POLL must be at least 10ms");
        }
        Ok(Config {
            listen: self.listen,
            database_url: self.data.url()?,
            data_dir: self.data.data_dir.clone(),
            key_file: self.key.key_file.clone(),
            signing_kid: self.signing_kid.clone(),
            issuer: self.issuer.clone(),
            audience: self.audience.clone(),
            access_ttl: self.access_ttl,
            refresh_ttl: self.refresh_ttl,
            refresh_reuse_interval: self.refresh_reuse_interval,
            open_registration: self.open_registration,
            leeway: self.leeway,
            login_max_failures: self.login_max_failures,
            login_failure_window: self.login_failure_window,
            hash_concurrency: self
                .hash_concurrency
                .unwrap_or_else(default_hash_concurrency)
                .max(1),
            revocation_poll: self.revocation_poll,
            verify_cache: self.verify_cache.min(1 << 20),
            revocation_max_lag: self.revocation_max_lag,
            feed_token: self.feed_token.clone(),
            mode: self.mode,
            cookie_secure: self.cookie_secure,
            session_store: self.session_store.clone(),
            session_prefix: self.session_prefix.clone(),
            redis_connections: usize::from(self.redis_connections),
            session_idle: self.session_idle,
            session_ttl: self.session_ttl,
        })
    }
}

/// Creates a folder readable only by its owner (it holds the key, password
/// hashes and the refresh-token MAC secret).
pub(crate) fn create_private_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(|e| anyhow::anyhow!("cannot create data folder {}: {e}", dir.display()))
}

/// A configured secret: `Debug` never shows it.
#[derive(Clone)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}
