//! The checked configuration of a server, in typed groups.
//!
//! The CLI builds a [`Config`] from flags and environment variables
//! (`passcard serve`); embedders and tests build one with
//! [`Config::with_data_dir`] and change fields. Either way
//! [`Config::check`] runs before a server starts. Every default is defined
//! once, in [`defaults`].

pub mod defaults;
mod http;
mod keys;
mod net;
mod secret;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use http::{ForwardedHeader, HttpSettings};
pub use keys::{KeySource, Keys, SECRET_ALG_ENV, SECRET_ENV, SIGNING_KID_ENV, SecretString};
pub use net::{BadNet, IpNet, canonical, parse_list};
pub use passcard_axum::csrf::{BadOrigin, SiteOrigin};
pub use secret::{Secret, redact_url};

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
    /// How other services authenticate to passcard.
    pub services: ServiceAccess,
    /// Where `/metrics` is served and who may read it.
    pub metrics: MetricsAccess,
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
    /// Whether the OAuth token endpoint takes `grant_type=password` (off:
    /// OAuth 2.1 drops it).
    pub password_grant: bool,
    /// Logins (refresh families, or sessions) one user may hold at once;
    /// a new login past it ends the oldest.
    pub max_logins_per_user: u32,
    /// Refresh rotations one login (a refresh family) may make per minute,
    /// and as many revocations through `/oauth/revoke`, counted apart.
    pub login_writes_per_minute: u32,
}

/// How revocations are followed and published.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RevocationSettings {
    /// Safety poll of the revocation log.
    pub poll: Duration,
    /// Refuse tokens (503) while the revocation view is older than this.
    pub max_lag: Option<Duration>,
}

/// How other services (resource servers, gateways) authenticate to
/// passcard: for the revocation feed and token introspection.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ServiceAccess {
    /// The service credential (`PASSCARD_SERVICE_TOKEN`, formerly
    /// `PASSCARD_FEED_TOKEN`): a Bearer token, or the client secret of
    /// `client_id` (HTTP Basic or form fields). Both endpoints are off
    /// without it.
    pub token: Option<Secret>,
    /// The OAuth client id the credential goes with.
    pub client_id: String,
}

/// Where `/metrics` is served and who may read it.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct MetricsAccess {
    /// Serve `/metrics` only on this address (a listener of its own),
    /// not on the API's.
    pub listen: Option<SocketAddr>,
    /// Require `Authorization: Bearer <token>` to read `/metrics`.
    pub token: Option<Secret>,
}

impl Default for ServiceAccess {
    fn default() -> Self {
        Self {
            token: None,
            client_id: defaults::SERVICE_CLIENT_ID.to_owned(),
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
            password_grant: false,
            max_logins_per_user: defaults::MAX_LOGINS_PER_USER,
            login_writes_per_minute: defaults::LOGIN_WRITES_PER_MINUTE,
        }
    }
}

impl Default for RevocationSettings {
    fn default() -> Self {
        Self {
            poll: defaults::REVOCATION_POLL,
            max_lag: None,
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
            services: ServiceAccess::default(),
            metrics: MetricsAccess::default(),
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
        if t.refresh_reuse_interval < Duration::from_secs(1) {
            return Err(ConfigError::RefreshReuseInterval);
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
        if self.accounts.max_logins_per_user == 0 {
            return Err(ConfigError::MaxLoginsPerUser);
        }
        if self.accounts.login_writes_per_minute == 0 {
            return Err(ConfigError::LoginWritesPerMinute);
        }
        if self.metrics.token.as_ref().is_some_and(|t| t.0.len() < 32) {
            return Err(ConfigError::MetricsToken);
        }
        if self.services.token.as_ref().is_some_and(|t| t.0.len() < 32) {
            return Err(ConfigError::ServiceToken);
        }
        if self.services.client_id.is_empty() || self.services.client_id.contains(':') {
            return Err(ConfigError::ServiceClientId);
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
        if self.http.body_timeout.is_zero() {
            return Err(ConfigError::BodyTimeout);
        }
        if self.http.request_timeout < self.http.body_timeout {
            return Err(ConfigError::RequestTimeout);
        }
        if self.http.hsts.is_some_and(|d| d.is_zero()) {
            return Err(ConfigError::Hsts);
        }
        Ok(())
    }
}

impl Config {
    /// The origin the URLs of the OAuth and OpenID documents are built on:
    /// `PASSCARD_PUBLIC_URL`, else the issuer when it is an origin
    /// (`https://auth.example.com`); `None` when neither says where passcard
    /// lives (the documents are then not served: a URL built on the
    /// request's `Host` could send resource servers anywhere, plain HTTP
    /// included).
    pub fn public_base(&self) -> Option<String> {
        if let Some(url) = &self.http.public_url {
            return Some(url.as_str().to_owned());
        }
        self.tokens
            .issuer
            .parse::<SiteOrigin>()
            .ok()
            .map(|origin| origin.as_str().to_owned())
    }

    /// What an operator should know at start about settings that switch
    /// something off, and which setting turns it on.
    pub fn notes(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.public_base().is_none() {
            out.push(
                "the OAuth and OpenID metadata (/.well-known/oauth-authorization-server, \
                 /.well-known/openid-configuration) are not served: set PASSCARD_PUBLIC_URL to \
                 the origin clients reach this server at (or PASSCARD_ISSUER to that https origin) \
                 to serve them",
            );
        }
        out
    }

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
        if !self.tokens.issuer.starts_with("https://") {
            out.push(
                "PASSCARD_ISSUER is not an https URL: OAuth and OpenID clients that discover \
                 passcard through /.well-known/oauth-authorization-server require the issuer to be \
                 the https URL they fetched it from (RFC 8414 section 3.3), and refuse it otherwise; \
                 set it to this server's public URL, e.g. https://auth.example.com",
            );
        }
        if self.metrics.listen.is_none()
            && self.metrics.token.is_none()
            && !self.listen.ip().is_loopback()
        {
            out.push(
                "/metrics is served to anyone who reaches PASSCARD_LISTEN, and its counters tell \
                 how an attack on the logins is going: give it an internal address of its own \
                 (PASSCARD_METRICS_LISTEN) or require a token (PASSCARD_METRICS_TOKEN)",
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
    /// A retried rotation (its answer lost after the store committed)
    /// would be taken for theft and end the login.
    #[error(
        "PASSCARD_REFRESH_REUSE_INTERVAL must be at least 1s: a client retrying a refresh whose answer it lost would otherwise be logged out as a thief"
    )]
    RefreshReuseInterval,
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
    /// No login could ever be kept.
    #[error("PASSCARD_MAX_LOGINS_PER_USER must be at least 1")]
    MaxLoginsPerUser,
    /// No refresh could ever happen.
    #[error("PASSCARD_LOGIN_WRITES_PER_MINUTE must be at least 1")]
    LoginWritesPerMinute,
    /// A guessable metrics token.
    #[error(
        "PASSCARD_METRICS_TOKEN must be at least 32 characters; make one with `passcard keygen`"
    )]
    MetricsToken,
    /// A guessable service token.
    #[error(
        "PASSCARD_SERVICE_TOKEN (or PASSCARD_FEED_TOKEN) must be at least 32 characters; make one with `passcard keygen`"
    )]
    ServiceToken,
    /// A client id HTTP Basic cannot carry.
    #[error("PASSCARD_SERVICE_CLIENT_ID must be non-empty and without ':'")]
    ServiceClientId,
    /// A poll that would hammer the store.
    #[error("PASSCARD_REVOCATION_POLL must be at least 10ms")]
    RevocationPoll,
    /// No connection could ever be served.
    #[error("PASSCARD_MAX_CONNECTIONS must be at least 1")]
    MaxConnections,
    /// Every request would time out.
    #[error("PASSCARD_HEADER_TIMEOUT must be positive")]
    HeaderTimeout,
    /// Every request with a body would time out.
    #[error("PASSCARD_BODY_TIMEOUT must be positive")]
    BodyTimeout,
    /// The whole request would end before its body may.
    #[error("PASSCARD_REQUEST_TIMEOUT must be at least PASSCARD_BODY_TIMEOUT")]
    RequestTimeout,
    /// An HSTS header that tells browsers nothing.
    #[error("PASSCARD_HSTS must be a positive duration (e.g. 365d), or unset for none")]
    Hsts,
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let mut c = good.clone();
        c.services.token = Some(Secret("short".into()));
        assert!(c.check().unwrap_err().to_string().contains("SERVICE_TOKEN"));
        // Issue 19: with no reuse interval, a client retrying a rotation
        // whose answer it lost is logged out as a thief.
        let mut c = good.clone();
        c.tokens.refresh_reuse_interval = Duration::ZERO;
        assert!(matches!(c.check(), Err(ConfigError::RefreshReuseInterval)));
        c.tokens.refresh_reuse_interval = Duration::from_millis(999);
        assert!(matches!(c.check(), Err(ConfigError::RefreshReuseInterval)));
        c.tokens.refresh_reuse_interval = Duration::from_secs(1);
        c.check().unwrap();
        let mut c = good.clone();
        c.http.body_timeout = Duration::from_secs(31);
        assert!(matches!(c.check(), Err(ConfigError::RequestTimeout)));
        let mut c = good;
        c.http.body_timeout = Duration::ZERO;
        assert!(matches!(c.check(), Err(ConfigError::BodyTimeout)));
    }
}
