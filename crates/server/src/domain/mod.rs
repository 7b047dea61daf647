//! The domain: accounts, refresh rotation, sessions and revocation, over
//! the store. Takes its time from a [`Clock`] and answers with its own
//! [`Error`]; knows nothing of HTTP.

mod accounts;
mod device;
mod error;
mod keys;
mod limiter;
mod oauth;
mod passwords;
mod refresh;
pub mod revocation;
mod sessions;
mod tokens;
mod user;

use std::sync::Arc;

use anyhow::Context as _;
use aws_lc_rs::hmac;
use passcard_axum::AccessClaims;
use passcard_jwt::{Clock, KeySet, SigningKey, UnixTime};
use passcard_store::{SessionStore, Store};

pub use accounts::{Grant, Login, MAX_PAGE, SessionGrant, TokenPair};
pub(crate) use device::DEVICE_TTL;
use device::Devices;
pub use error::{Error, Invalid, Limit};
/// The most keys each attempt-limit table holds (addresses, devices).
pub(crate) use limiter::CAPACITY as LIMITER_CAPACITY;
/// The counters of the failed-login sketch of usernames.
pub(crate) use limiter::SKETCH_CELLS as LIMITER_SKETCH_CELLS;
use limiter::{FamilyLimiter, FamilyWrite, LogBudget, LoginLimiter, RegistrationLimiter};
pub use oauth::RefreshInfo;
use passwords::Passwords;
pub use passwords::{HashCounts, hash_now as hash_password};
use revocation::Revocations;
pub(crate) use tokens::is_refresh_token_shaped;
pub use user::{MAX_PASSWORD, MIN_PASSWORD, Role, Username, check_new_password};

use crate::config::{AccountPolicy, Config, Mode, TokenPolicy, redact_url};

/// Who is calling: the verified claims of an access token, or in session
/// mode the session's user as claims (with the session's hash).
#[derive(Clone, Debug)]
pub struct Caller {
    /// The claims.
    pub claims: Arc<AccessClaims>,
    /// In session mode, the SHA-256 of the session id.
    pub session: Option<[u8; 32]>,
}

impl Caller {
    /// The user's id.
    pub fn user_id(&self) -> i64 {
        self.claims.sub
    }

    /// The caller's role, if it is one passcard knows.
    pub fn role(&self) -> Option<Role> {
        Role::parse(&self.claims.role).ok()
    }

    /// `Ok` for an admin, [`Error::Forbidden`] for anyone else.
    pub(crate) fn require_admin(&self) -> Result<(), Error> {
        match self.role() {
            Some(Role::Admin) => Ok(()),
            _ => Err(Error::Forbidden),
        }
    }
}

/// Everything the domain holds: built once at start, shared by every
/// request.
pub struct Auth {
    tokens: TokenPolicy,
    accounts: AccountPolicy,
    mode: Mode,
    store: Arc<dyn Store>,
    sessions: Arc<dyn SessionStore>,
    passwords: Passwords,
    limiter: LoginLimiter,
    registrations: RegistrationLimiter,
    /// Rotations and revocations per login.
    family_writes: FamilyLimiter,
    /// Failed logins and throttling are logged, at a bounded rate.
    log_budget: LogBudget,
    signing: SigningKey,
    verifying: KeySet,
    refresh_mac: hmac::Key,
    /// Device credentials: who signed in before.
    devices: Devices,
    revocations: Arc<Revocations>,
    /// Whether a session store of its own (Redis) answered its last check.
    sessions_reachable: std::sync::atomic::AtomicBool,
    clock: Arc<dyn Clock>,
}

impl Auth {
    /// Loads (or on first start generates) the key, opens the store, loads
    /// the revocation log: everything a server needs before it listens.
    pub async fn open(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        config.check()?;
        let keys = keys::load_or_generate(config)?;
        let signing = keys.signing.context(
            "the configured key file holds no private key, so the server cannot sign tokens",
        )?;
        let url = &config.storage.database_url;
        ensure_sqlite_folder(url)?;
        warn_if_open(&config.storage.data_dir);
        if let Some(dir) = sqlite_folder(url).filter(|d| *d != config.storage.data_dir) {
            warn_if_open(dir);
        }
        let store = passcard_store::open(url)
            .await
            .with_context(|| format!("cannot open the database {}", redact_url(url)))?;
        let sessions = match &config.mode {
            Mode::Token => store.clone() as Arc<dyn SessionStore>,
            Mode::Session(s) => passcard_store::open_sessions(
                s.store.as_deref(),
                &s.prefix,
                s.redis_connections,
                store.clone(),
            )
            .await
            .with_context(|| {
                format!(
                    "cannot open the session store {}",
                    s.store.as_deref().map(redact_url).unwrap_or_default()
                )
            })?,
        };
        let mut fresh = [0u8; 32];
        aws_lc_rs::rand::fill(&mut fresh)
            .map_err(|_| anyhow::anyhow!("the system random number generator failed"))?;
        let mac_secret = store.secret("refresh-mac", &fresh).await?;
        aws_lc_rs::rand::fill(&mut fresh)
            .map_err(|_| anyhow::anyhow!("the system random number generator failed"))?;
        let device_secret = store.secret("device-mac", &fresh).await?;
        let revocations = Arc::new(Revocations::new(&config.tokens, clock.clone()));
        revocations
            .catch_up(&*store)
            .await
            .context("cannot load the revocation log")?;
        let accounts = config.accounts.clone();
        Ok(Self {
            passwords: Passwords::new(
                accounts.hash_concurrency,
                accounts.registration_hash_concurrency,
            )
            .await?,
            limiter: LoginLimiter::new(accounts.login_max_failures, accounts.login_failure_window),
            registrations: RegistrationLimiter::new(
                accounts.registrations_per_address,
                accounts.registration_window,
            ),
            family_writes: FamilyLimiter::new(accounts.login_writes_per_minute),
            log_budget: LogBudget::new(LOG_LINES_PER_SECOND),
            tokens: config.tokens.clone(),
            accounts,
            mode: config.mode.clone(),
            store,
            sessions,
            signing,
            verifying: keys.verifying,
            refresh_mac: hmac::Key::new(hmac::HMAC_SHA256, &mac_secret),
            devices: Devices::new(&device_secret),
            revocations,
            sessions_reachable: std::sync::atomic::AtomicBool::new(true),
            clock,
        })
    }

    /// The key that signs access tokens.
    pub fn signing_key(&self) -> &SigningKey {
        &self.signing
    }

    /// The keys that verify them.
    pub fn verifying_keys(&self) -> &KeySet {
        &self.verifying
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Where sessions live (the store itself unless sessions are in Redis).
    pub fn sessions(&self) -> &Arc<dyn SessionStore> {
        &self.sessions
    }

    /// The revocation state.
    pub fn revocations(&self) -> &Arc<Revocations> {
        &self.revocations
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Password hashes computed so far, by purpose.
    pub fn hash_counts(&self) -> passwords::HashCounts {
        self.passwords.counts()
    }

    /// Queries run against the store and the session store together.
    pub fn store_queries(&self) -> u64 {
        self.store.queries() + self.sessions.own_queries()
    }

    fn now(&self) -> UnixTime {
        self.clock.now()
    }

    fn now_secs(&self) -> i64 {
        secs(self.now().as_secs())
    }

    /// [`Error::RateLimited`] when a login made too many writes of this
    /// kind this minute.
    fn family_may_write(&self, family: i64, write: FamilyWrite) -> Result<(), Error> {
        self.family_writes
            .check(family, write, self.clock.monotonic())
            .map_err(|retry_after| {
                tracing::debug!(family, ?write, "a login's writes are throttled");
                Error::RateLimited {
                    limit: Limit::Family,
                    retry_after,
                }
            })
    }

    /// Counts a write a login made.
    fn family_wrote(&self, family: i64, write: FamilyWrite) {
        self.family_writes
            .count(family, write, self.clock.monotonic());
    }

    /// Applies revocations just written, so this instance enforces them at
    /// once.
    async fn apply_revocations(&self) -> Result<(), Error> {
        self.revocations.catch_up(&*self.store).await?;
        Ok(())
    }
}

/// How many lines about failed logins and throttling are logged per second
/// at most (the rest are counted into the next line).
const LOG_LINES_PER_SECOND: u32 = 10;

/// Seconds as i64 (durations here are far below i64::MAX).
fn secs(s: u64) -> i64 {
    i64::try_from(s).unwrap_or(i64::MAX)
}

/// The folder of a SQLite database file, if the URL names one.
fn sqlite_folder(url: &str) -> Option<&std::path::Path> {
    let path = url.strip_prefix("sqlite://")?.split('?').next()?;
    std::path::Path::new(path)
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
}

/// Creates the (private) folder of a SQLite database file if it is missing.
fn ensure_sqlite_folder(url: &str) -> anyhow::Result<()> {
    match sqlite_folder(url) {
        Some(dir) if !dir.exists() => crate::config::create_private_dir(dir)
            .with_context(|| format!("cannot create data folder {}", dir.display())),
        _ => Ok(()),
    }
}

/// Warns when a folder holding the key or the database is open to other
/// users (the files in it are private, but their names and sizes show,
/// and a file copied in keeps its mode).
#[cfg(unix)]
fn warn_if_open(dir: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt as _;
    if let Ok(meta) = std::fs::metadata(dir) {
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(
                folder = %dir.display(),
                mode = format!("{mode:o}"),
                "the data folder is open to other users; run chmod 700 on it"
            );
        }
    }
}

#[cfg(not(unix))]
fn warn_if_open(_: &std::path::Path) {}
