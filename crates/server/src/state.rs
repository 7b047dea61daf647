//! Application state: built once at start, shared by every request.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use aws_lc_rs::hmac;
use passcard_jwt::{KeySet, SigningKey, UnixTime, Validator};
use passcard_store::Store;

use crate::config::Config;
use crate::keyconf::{KeySource, Keys};
use crate::limiter::LoginLimiter;
use crate::metrics::Metrics;
use crate::password::Passwords;
use crate::revocation::Revocations;

/// Everything a request may need. Cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

/// The parts of [`AppState`].
pub struct Inner {
    /// The checked configuration.
    pub config: Config,
    /// The key that signs access tokens.
    pub signing: SigningKey,
    /// The keys that verify them.
    pub keys: KeySet,
    /// The access-token policy.
    pub validator: Validator,
    /// Durable state.
    pub store: Arc<dyn Store>,
    /// Where sessions live (session mode).
    pub sessions: Arc<dyn passcard_store::SessionStore>,
    /// In-memory revocation view.
    pub revocations: Revocations,
    /// Metrics.
    pub metrics: Metrics,
    /// Password hashing.
    pub passwords: Passwords,
    /// Failed-login limits.
    pub limiter: LoginLimiter,
    /// MAC key deriving a refresh token's successor.
    pub refresh_mac: hmac::Key,
    /// Recently verified access tokens.
    pub verified: crate::verify_cache::VerifyCache,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Opens the store, loads (or on first start generates) the key, loads
    /// the revocation view: everything `serve` needs before it listens.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let keys = load_or_generate_key(&config)?;
        let signing = keys.signing.context(
            "the configured key file holds no private key, so the server cannot sign tokens",
        )?;
        ensure_sqlite_folder(&config.database_url)?;
        let store = passcard_store::open(&config.database_url)
            .await
            .with_context(|| {
                format!(
                    "cannot open the database {}",
                    redact_url(&config.database_url)
                )
            })?;
        let sessions = passcard_store::open_sessions(
            config.session_store.as_deref(),
            &config.session_prefix,
            config.redis_connections,
            store.clone(),
        )
        .await
        .with_context(|| {
            format!(
                "cannot open the session store {}",
                config
                    .session_store
                    .as_deref()
                    .map(redact_url)
                    .unwrap_or_default()
            )
        })?;
        let mut fresh = [0u8; 32];
        aws_lc_rs::rand::fill(&mut fresh)
            .map_err(|_| anyhow::anyhow!("the system random number generator failed"))?;
        let mac_secret = store.secret("refresh-mac", &fresh).await?;
        let refresh_mac = hmac::Key::new(hmac::HMAC_SHA256, &mac_secret);
        let validator = Validator::builder()
            .issuer(config.issuer.clone())
            .audience(config.audience.clone())
            .typ("at+jwt")
            .require_sub()
            .require_jti()
            .leeway(config.leeway)
            .build();
        let revocations = Revocations::new(
            secs(config.access_ttl.as_secs()),
            secs(config.leeway.as_secs()),
        );
        revocations
            .catch_up(&*store, now_secs())
            .await
            .context("cannot load the revocation log")?;
        let passwords = Passwords::new(config.hash_concurrency).await?;
        Ok(Self(Arc::new(Inner {
            limiter: LoginLimiter::new(config.login_max_failures, config.login_failure_window),
            signing,
            keys: keys.verifying,
            validator,
            store,
            sessions,
            revocations,
            metrics: Metrics::new(),
            passwords,
            refresh_mac,
            verified: crate::verify_cache::VerifyCache::new(config.verify_cache),
            config,
        })))
    }

    /// The current time for token checks.
    pub fn now(&self) -> UnixTime {
        passcard_jwt::Clock::now(&passcard_jwt::SystemClock::new())
    }

    /// The current monotonic instant (rate limits).
    pub fn instant(&self) -> Instant {
        Instant::now()
    }
}

/// Seconds as i64 (durations here are far below i64::MAX).
pub(crate) fn secs(s: u64) -> i64 {
    i64::try_from(s).unwrap_or(i64::MAX)
}

/// Unix seconds now, as i64.
pub(crate) fn now_secs() -> i64 {
    secs(passcard_jwt::Clock::now(&passcard_jwt::SystemClock::new()).as_secs())
}

/// Creates the (private) folder of a SQLite database file if it is missing.
fn ensure_sqlite_folder(url: &str) -> anyhow::Result<()> {
    let Some(path) = url.strip_prefix("sqlite://") else {
        return Ok(());
    };
    let path = path.split('?').next().unwrap_or_default();
    match std::path::Path::new(path).parent() {
        Some(dir) if !dir.as_os_str().is_empty() && !dir.exists() => {
            crate::config::create_private_dir(dir)
        }
        _ => Ok(()),
    }
}

/// A database URL without its password, for messages.
pub(crate) fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// The configured key, or the one generated in the data folder on first
/// start (with a warning saying how to set one's own).
fn load_or_generate_key(config: &Config) -> anyhow::Result<Keys> {
    if let Some(source) = KeySource::from_env_if_set(config.key_file.as_deref())? {
        return source.load_with(config.signing_kid.as_deref());
    }
    let path = config.data_dir.join("key.json");
    if !path.exists() {
        crate::config::create_private_dir(&config.data_dir)?;
        let key = SigningKey::generate(passcard_jwt::Algorithm::HS256)?;
        let json = serde_json::to_string_pretty(&key.to_private_jwk())?;
        write_private(&path, json.as_bytes())
            .with_context(|| format!("cannot write the generated key to {}", path.display()))?;
        tracing::warn!(
            path = %path.display(),
            "no key configured: generated an HS256 signing key and saved it (mode 0600); \
             set PASSCARD_SECRET (from `passcard keygen`) or PASSCARD_KEY_FILE to use your own"
        );
    }
    KeySource::File(path).load()
}

#[cfg(unix)]
pub(crate) fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(not(unix))]
pub(crate) fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls_lose_their_password() {
        assert_eq!(
            super::redact_url("postgres://app:s3cret@db:5432/x"),
            "postgres://app:***@db:5432/x"
        );
        assert_eq!(
            super::redact_url("sqlite://data/p.db"),
            "sqlite://data/p.db"
        );
    }
}
