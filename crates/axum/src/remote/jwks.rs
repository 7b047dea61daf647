//! An auth server's JWKS, fetched and cached (feature `remote`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use passcard_jwt::{Clock, Error, JwkSet, KeySet, SystemClock, UnixTime, Validator, Verified};

use crate::claims::AccessClaims;

/// The largest JWKS document fetched.
const MAX_JWKS: usize = passcard_jwt::jwk::MAX_JWKS_BYTES;

/// An auth server's JWKS, cached. A token naming a `kid` the cache lacks
/// triggers one refetch, at most once per `min_refetch` (default 30 s), so
/// a flood of tokens with made-up kids cannot turn into a flood of fetches.
/// The cache is also refreshed when older than `max_age` (default 10 min).
#[derive(Debug)]
pub struct RemoteJwks {
    url: String,
    client: reqwest::Client,
    keys: RwLock<Arc<KeySet>>,
    /// The clock's monotonic reading at the last download attempt.
    last_fetch: Mutex<Duration>,
    fetch: tokio::sync::Mutex<()>,
    min_refetch: Duration,
    max_age: Duration,
    clock: Arc<dyn Clock>,
    fetches: AtomicU64,
    generation: AtomicU64,
}

/// Sets up a [`RemoteJwks`]; see [`RemoteJwks::builder`].
#[derive(Debug)]
#[must_use]
pub struct JwksBuilder {
    url: String,
    min_refetch: Duration,
    max_age: Duration,
    clock: Arc<dyn Clock>,
}

impl JwksBuilder {
    /// The least time between two downloads triggered by unknown kids
    /// (default 30 s).
    pub fn min_refetch(mut self, d: Duration) -> Self {
        self.min_refetch = d;
        self
    }

    /// The age after which the keys are downloaded again (default 10 min).
    pub fn max_age(mut self, d: Duration) -> Self {
        self.max_age = d;
        self
    }

    /// Measures those intervals on `clock` (default: the system's).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Downloads the JWKS once, and keeps it.
    pub async fn fetch(self) -> Result<Arc<RemoteJwks>, Error> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::InvalidJwk(format!("HTTP client: {e}")))?;
        let keys = download(&client, &self.url).await?;
        Ok(Arc::new(RemoteJwks {
            last_fetch: Mutex::new(self.clock.monotonic()),
            url: self.url,
            client,
            keys: RwLock::new(Arc::new(keys)),
            fetch: tokio::sync::Mutex::new(()),
            min_refetch: self.min_refetch,
            max_age: self.max_age,
            clock: self.clock,
            fetches: AtomicU64::new(1),
            generation: AtomicU64::new(0),
        }))
    }
}

impl RemoteJwks {
    /// Fetches `url` (for example `https://auth.example.com/.well-known/jwks.json`)
    /// with the default intervals.
    pub async fn fetch(url: impl Into<String>) -> Result<Arc<Self>, Error> {
        Self::builder(url).fetch().await
    }

    /// Sets up the JWKS at `url` with other intervals or another clock.
    pub fn builder(url: impl Into<String>) -> JwksBuilder {
        JwksBuilder {
            url: url.into(),
            min_refetch: Duration::from_secs(30),
            max_age: Duration::from_secs(600),
            clock: Arc::new(SystemClock::new()),
        }
    }

    /// How many times the JWKS was downloaded (or tried).
    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// Changes every time the keys are replaced.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }

    fn current(&self) -> Arc<KeySet> {
        self.keys.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn since_fetch(&self) -> Duration {
        let last = *self.last_fetch.lock().unwrap_or_else(|p| p.into_inner());
        self.clock.monotonic().saturating_sub(last)
    }

    /// Downloads again unless the last download is more recent than the
    /// floor. Returns whether the keys were replaced.
    async fn refresh(&self) -> bool {
        let _one_at_a_time = self.fetch.lock().await;
        if self.since_fetch() < self.min_refetch {
            return false;
        }
        *self.last_fetch.lock().unwrap_or_else(|p| p.into_inner()) = self.clock.monotonic();
        self.fetches.fetch_add(1, Ordering::Relaxed);
        match download(&self.client, &self.url).await {
            Ok(keys) => {
                *self.keys.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(keys);
                self.generation.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(e) => {
                tracing::warn!(url = %self.url, error = %e, "cannot refresh the JWKS; keeping the cached keys");
                false
            }
        }
    }

    /// Downloads the keys again if they are older than the maximum age.
    pub(crate) async fn refresh_if_old(&self) {
        if self.since_fetch() >= self.max_age {
            self.refresh().await;
        }
    }

    /// Verifies with the cached keys, refetching once on an unknown kid.
    pub(crate) async fn verify(
        &self,
        token: &str,
        validator: &Validator,
        now: UnixTime,
    ) -> Result<Verified<AccessClaims>, Error> {
        self.refresh_if_old().await;
        match self.current().verify::<AccessClaims>(token, validator, now) {
            Err(Error::UnknownKid(_) | Error::MissingKid { .. } | Error::NoKeys)
                if self.refresh().await =>
            {
                self.current().verify::<AccessClaims>(token, validator, now)
            }
            other => other,
        }
    }
}

async fn download(client: &reqwest::Client, url: &str) -> Result<KeySet, Error> {
    let fail = |what: String| Error::InvalidJwk(format!("JWKS at {url}: {what}"));
    let mut resp = client
        .get(url)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .map_err(|e| fail(e.to_string()))?;
    if !resp.status().is_success() {
        return Err(fail(format!("HTTP {}", resp.status())));
    }
    if resp.content_length().is_some_and(|n| n > MAX_JWKS as u64) {
        return Err(fail("too large".to_owned()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| fail(e.to_string()))? {
        if body.len() + chunk.len() > MAX_JWKS {
            return Err(fail("too large".to_owned()));
        }
        body.extend_from_slice(&chunk);
    }
    let text = std::str::from_utf8(&body).map_err(|_| fail("not UTF-8".to_owned()))?;
    KeySet::from_jwks(&JwkSet::from_json(text)?)
}
