//! The checked configuration of a server, in typed groups.
//!
//! The CLI builds a [`Config`] from flags and environment variables
//! (`passcard serve`); embedders and tests build one with
//! [`Config::with_data_dir`] and change fields. Either way
//! [`Config::check`] runs before a server starts. Every default is defined
//! once, in [`defaults`].

pub mod defaults;
mod keys;
mod net;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use keys::{KeySource, Keys, SECRET_ALG_ENV, SECRET_ENV, SIGNING_KID_ENV, SecretString};
pub use net::{BadNet, IpNet, canonical, parse_list};
pub use passcard_axum::csrf::{BadOrigin, SiteOrigin};

/// The checked configuration of a running server.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Config {
    /// Address to listen on (port 0 picks a free one).
    pub listen: SocketAddr,
    /// Where the data lives.
    pub storage: Storage,
    /// Where the signing and verification keys come from.
    pub keys: KeyConfig,
    /// What access and refresh tokens say and how long they live.
    pub tokens: TokenPolicy,
    /// Registration and login rules.
    pub accounts: AccountPolicy,
    /// How revocations are followed and published.
    pub revocation: RevocationSettings,
    /// Stateless tokens, or server-side sessions with their settings.
    pub mode: Mode,
    /// The HTTP edge: connections, timeouts, proxies.
    pub http: HttpSettings,
    /// Slots of the cache of verified access tokens (0: off).
    pub verify_cache: usize,
}

/// Where the data lives.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Storage {
    /// Folder of the default SQLite database and the generated key.
    pub data_dir: PathBuf,
    /// The store: `sqlite://PATH` or `postgres://…`.
    pub database_url: String,
}

/// Where the keys come from.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct KeyConfig {
    /// A secret or a key file; `None`: the key generated in the data
    /// folder on first start.
    pub source: Option<KeySource>,
    /// In a key file with several private keys, the kid of the one that
    /// signs (default: the first private key).
    pub signing_kid: Option<String>,
}

/// What tokens say and how long they live.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct TokenPolicy {
    /// `iss` of issued tokens, and the only issuer accepted.
    pub issuer: String,
    /// `aud` of issued tokens, and the only audience accepted.
    pub audience: String,
    /// Access-token lifetime.
    pub access_ttl: Duration,
    /// Refresh-token lifetime (each rotation starts a new one).
    pub refresh_ttl: Duration,
    /// How long a rotated refresh token may be presented again and get the
    /// same successor; after it, reuse revokes the family.
    pub refresh_reuse_interval: Duration,
    /// Clock skew allowed on `exp`, `nbf` and `iat`.
    pub leeway: Duration,
}

/// Registration and login rules.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct AccountPolicy {
    /// Whether anyone may create an account.
    pub open_registration: bool,
    /// Failed logins allowed per username and per client address within
    /// the window.
    pub login_max_failures: u32,
    /// The window of `login_max_failures`.
    pub login_failure_window: Duration,
    /// Password hashes computed at once for logins.
    pub hash_concurrency: usize,
    /// Registrations allowed per client address within the window.
    pub registrations_per_address: u32,
    /// The window of `registrations_per_address`.
    pub registration_window: Duration,
    /// Password hashes computed at once for registrations, in a queue of
    /// their own (so registrations never delay a login).
    pub registration_hash_concurrency: usize,
}

/// How revocations are followed and published.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RevocationSettings {
    /// Safety poll of the revocation log.
    pub poll: Duration,
    /// Refuse tokens (503) while the revocation view is older than this.
    pub max_lag: Option<Duration>,
    /// The token services present to read the revocation feed (off if
    /// unset).
    pub feed_token: Option<Secret>,
}

/// The HTTP edge: how long a client may take, how many may connect, which
/// proxies say who the client is.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct HttpSettings {
    /// A client that has not sent a request's whole head within this is
    /// disconnected; an idle keep-alive connection is closed after it.
    pub header_timeout: Duration,
    /// Connections served at once; past it, new ones wait in the listen
    /// backlog.
    pub max_connections: usize,
    /// How long a shutdown waits for requests in flight.
    pub shutdown_timeout: Duration,
    /// The peers whose forwarding header is believed (none by default).
    pub trusted_proxies: Vec<IpNet>,
    /// Which forwarding header a trusted proxy sets.
    pub forwarded_header: ForwardedHeader,
    /// The origin browsers reach the server at (`https://auth.example.com`):
    /// an unsafe cookie-authenticated request from it needs no CSRF header.
    /// Without it, the origin is the request's own `Host`.
    pub public_url: Option<SiteOrigin>,
    /// Mark cookies `Secure` (and give them the `__Host-` / `__Secure-`
    /// names): off only for plain-HTTP development on a non-local host.
    pub cookie_secure: bool,
}

/// The header a trusted proxy names the client in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For` (what nginx's `$proxy_add_x_forwarded_for` sets).
    XForwardedFor,
    /// `Forwarded` (RFC 7239).
    Forwarded,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            header_timeout: defaults::HEADER_TIMEOUT,
            max_connections: defaults::max_connections(),
            shutdown_timeout: defaults::SHUTDOWN_TIMEOUT,
            trusted_proxies: Vec::new(),
            forwarded_header: ForwardedHeader::XForwardedFor,
            public_url: None,
            cookie_secure: defaults::COOKIE_SECURE,
        }
    }
}

/// The authentication model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Stateless access tokens and rotating refresh tokens.
    Token,
    /// Server-side sessions in a cookie.
    Session(SessionSettings),
}

/// Session-mode settings.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionSettings {
    /// Where sessions live: `None` for the main database, or a
    /// `redis://…` URL.
    pub store: Option<String>,
    /// Prefix of the session keys in Redis.
    pub prefix: String,
    /// Multiplexed connections to the session Redis.
    pub redis_connections: usize,
    /// A session ends after this long without use.
    pub idle: Duration,
    /// A session ends this long after login, used or not.
    pub ttl: Duration,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            store: None,
            prefix: defaults::SESSION_PREFIX.to_owned(),
            redis_connections: defaults::REDIS_CONNECTIONS,
            idle: defaults::SESSION_IDLE,
            ttl: defaults::SESSION_TTL,
        }
    }
}

impl SessionSettings {
    /// Refuses settings sessions cannot work with.
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.idle.is_zero() || self.ttl < self.idle {
            return Err(ConfigError::SessionTtl);
        }
        if !(1..=64).contains(&self.redis_connections) {
            return Err(ConfigError::RedisConnections);
        }
        Ok(())
    }
}

impl Mode {
    /// Session mode with the default settings.
    pub fn session() -> Self {
        Self::Session(SessionSettings::default())
    }

    /// The session settings, in session mode.
    pub fn sessions(&self) -> Option<&SessionSettings> {
        match self {
            Self::Token => None,
            Self::Session(s) => Some(s),
        }
    }
}

impl Default for TokenPolicy {
    fn default() -> Self {
        Self {
            issuer: defaults::ISSUER.to_owned(),
            audience: defaults::AUDIENCE.to_owned(),
            access_ttl: defaults::ACCESS_TTL,
            refresh_ttl: defaults::REFRESH_TTL,
            refresh_reuse_interval: defaults::REFRESH_REUSE_INTERVAL,
            leeway: defaults::LEEWAY,
        }
    }
}

impl Default for AccountPolicy {
    fn default() -> Self {
        let hash_concurrency = defaults::hash_concurrency();
        Self {
            open_registration: defaults::OPEN_REGISTRATION,
            login_max_failures: defaults::LOGIN_MAX_FAILURES,
            login_failure_window: defaults::LOGIN_FAILURE_WINDOW,
            hash_concurrency,
            registrations_per_address: defaults::REGISTRATIONS_PER_ADDRESS,
            registration_window: defaults::REGISTRATION_WINDOW,
            registration_hash_concurrency: defaults::registration_hash_concurrency(
                hash_concurrency,
            ),
        }
    }
}

impl Default for RevocationSettings {
    fn default() -> Self {
        Self {
            poll: defaults::REVOCATION_POLL,
            max_lag: None,
            feed_token: None,
        }
    }
}

impl Storage {
    /// A SQLite database in `data_dir`.
    pub fn in_dir(data_dir: impl Into<PathBuf>) -> Self {
        let data_dir = data_dir.into();
        Self {
            database_url: sqlite_url(&data_dir),
            data_dir,
        }
    }
}

/// The default database of a data folder.
pub fn sqlite_url(data_dir: &Path) -> String {
    format!("sqlite://{}/passcard.db", data_dir.display())
}

impl Config {
    /// The defaults, keeping data in `data_dir` and listening on a free
    /// loopback port: what embedders and tests start from.
    pub fn with_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            storage: Storage::in_dir(data_dir),
            keys: KeyConfig::default(),
            tokens: TokenPolicy::default(),
            accounts: AccountPolicy::default(),
            revocation: RevocationSettings::default(),
            mode: Mode::Token,
            http: HttpSettings::default(),
            verify_cache: defaults::VERIFY_CACHE,
        }
    }

    /// Refuses settings a server cannot run with, naming the variable.
    pub fn check(&self) -> Result<(), ConfigError> {
        let t = &self.tokens;
        if t.access_ttl < Duration::from_secs(1) {
            return Err(ConfigError::AccessTtl);
        }
        if t.refresh_ttl <= t.access_ttl {
            return Err(ConfigError::RefreshTtl);
        }
        if let Mode::Session(s) = &self.mode {
            s.check()?;
        }
        if self.accounts.login_max_failures == 0 {
            return Err(ConfigError::LoginMaxFailures);
        }
        if self.accounts.registrations_per_address == 0 {
            return Err(ConfigError::RegistrationsPerAddress);
        }
        if self
            .revocation
            .feed_token
            .as_ref()
            .is_some_and(|t| t.0.len() < 32)
        {
            return Err(ConfigError::FeedToken);
        }
        if self.revocation.poll < Duration::from_millis(10) {
            return Err(ConfigError::RevocationPoll);
        }
        if self.verify_cache > defaults::MAX_VERIFY_CACHE {
            return Err(ConfigError::VerifyCache);
        }
        if self.http.max_connections == 0 {
            return Err(ConfigError::MaxConnections);
        }
        if self.http.header_timeout.is_zero() {
            return Err(ConfigError::HeaderTimeout);
        }
        Ok(())
    }
}

impl Config {
    /// Settings that work but that an operator should hear about at start.
    pub fn warnings(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        let http = &self.http;
        if !http.cookie_secure {
            out.push(
                "PASSCARD_COOKIE_SECURE=false: cookies are sent without Secure, so over plain HTTP \
                 anyone on the path can read them; for development only (browsers treat \
                 http://localhost and 127.0.0.1 as secure, so the default works there)",
            );
        }
        if let Some(url) = &http.public_url {
            if http.cookie_secure && !url.is_https() && !url.is_loopback() {
                out.push(
                    "PASSCARD_PUBLIC_URL is plain http on a host that is not local: browsers \
                     drop Secure cookies there, so nobody can sign in by cookie; serve it over https",
                );
            }
        }
        out
    }
}

/// A setting a server cannot run with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The access-token lifetime is under a second.
    #[error("PASSCARD_ACCESS_TTL must be at least 1s")]
    AccessTtl,
    /// Refresh tokens would die before access tokens.
    #[error("PASSCARD_REFRESH_TTL must be longer than PASSCARD_ACCESS_TTL")]
    RefreshTtl,
    /// Session lifetimes out of order.
    #[error("PASSCARD_SESSION_TTL must be at least PASSCARD_SESSION_IDLE, which must be positive")]
    SessionTtl,
    /// Redis connections outside 1..=64.
    #[error("PASSCARD_REDIS_CONNECTIONS (--redis-connections) must be 1 to 64")]
    RedisConnections,
    /// No login may ever fail.
    #[error("PASSCARD_LOGIN_MAX_FAILURES must be at least 1")]
    LoginMaxFailures,
    /// No registration may ever happen.
    #[error(
        "PASSCARD_REGISTRATIONS_PER_ADDRESS must be at least 1 (close registration with PASSCARD_OPEN_REGISTRATION=false)"
    )]
    RegistrationsPerAddress,
    /// A guessable feed token.
    #[error("PASSCARD_FEED_TOKEN must be at least 32 characters; make one with `passcard keygen`")]
    FeedToken,
    /// A poll that would hammer the store.
    #[error("PASSCARD_REVOCATION_POLL must be at least 10ms")]
    RevocationPoll,
    /// No connection could ever be served.
    #[error("PASSCARD_MAX_CONNECTIONS must be at least 1")]
    MaxConnections,
    /// Every request would time out.
    #[error("PASSCARD_HEADER_TIMEOUT must be positive")]
    HeaderTimeout,
    /// An oversized cache.
    #[error("PASSCARD_VERIFY_CACHE must be at most 1048576")]
    VerifyCache,
}

/// Creates a folder readable only by its owner (it holds the key, password
/// hashes and the refresh-token MAC secret).
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// A configured secret: `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A database or Redis URL without its secrets, for messages and logs: the
/// password of the user-info (`postgres://app:***@db/x`,
/// `redis://:***@cache`) and the value of every query parameter that can
/// carry one (`?password=***`, `sslpassword`, tokens, keys).
pub fn redact_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let mut out = match (base.find("://"), base.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &base[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &base[..scheme + 3], &base[at..]),
                None => base.to_owned(),
            }
        }
        _ => base.to_owned(),
    };
    if let Some(query) = query {
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if is_secret_key(key) => format!("{key}=***"),
                _ => pair.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&pairs.join("&"));
    }
    out
}

/// Whether a URL query parameter can hold a secret.
fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [
        "pass",
        "pwd",
        "secret",
        "token",
        "key",
        "auth",
        "credential",
    ]
    .iter()
    .any(|word| key.contains(word))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_secrets_wherever_they_are() {
        for (url, shown) in [
            (
                "postgres://app:s3cret@db:5432/x",
                "postgres://app:***@db:5432/x",
            ),
            (
                "postgres://app@db/x?password=s3cret",
                "postgres://app@db/x?password=***",
            ),
            (
                "postgres://db/x?sslmode=require&PassWord=s3cret&sslpassword=s3cret&user=app",
                "postgres://db/x?sslmode=require&PassWord=***&sslpassword=***&user=app",
            ),
            ("redis://:s3cret@cache:6379/0", "redis://:***@cache:6379/0"),
            (
                "rediss://default:s3cret@cache",
                "rediss://default:***@cache",
            ),
            (
                "postgres://app@db/x?options[auth_token]=s3cret",
                "postgres://app@db/x?options[auth_token]=***",
            ),
            ("sqlite://data/p.db", "sqlite://data/p.db"),
            ("postgres://a:b:c@d/e", "postgres://a:***@d/e"),
        ] {
            assert_eq!(redact_url(url), shown);
            assert!(!redact_url(url).contains("s3cret"));
        }
    }

    #[test]
    fn the_defaults_pass_and_each_bad_setting_is_named() {
        let good = Config::with_data_dir("d");
        good.check().unwrap();
        let mut c = good.clone();
        c.tokens.refresh_ttl = c.tokens.access_ttl;
        assert!(matches!(c.check(), Err(ConfigError::RefreshTtl)));
        let mut c = good.clone();
        c.mode = Mode::Session(SessionSettings {
            redis_connections: 65,
            ..SessionSettings::default()
        });
        assert!(matches!(c.check(), Err(ConfigError::RedisConnections)));
        let mut c = good;
        c.revocation.feed_token = Some(Secret("short".into()));
        assert!(c.check().unwrap_err().to_string().contains("FEED_TOKEN"));
    }
}
