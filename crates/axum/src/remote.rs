//! Remote JWKS and the revocation feed (feature `remote`).

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use passcard_jwt::{Error, JwkSet, KeySet, UnixTime, Validator, Verified};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::revocation::RevocationView;

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
    last_fetch: Mutex<Instant>,
    fetch: tokio::sync::Mutex<()>,
    min_refetch: Duration,
    max_age: Duration,
    fetches: std::sync::atomic::AtomicU64,
}

impl RemoteJwks {
    /// Fetches `url` (for example `https://auth.example.com/.well-known/jwks.json`).
    pub async fn fetch(url: impl Into<String>) -> Result<Arc<Self>, Error> {
        Self::fetch_with(url, Duration::from_secs(30), Duration::from_secs(600)).await
    }

    /// Like [`RemoteJwks::fetch`], with the refetch floor and the maximum
    /// cache age.
    pub async fn fetch_with(
        url: impl Into<String>,
        min_refetch: Duration,
        max_age: Duration,
    ) -> Result<Arc<Self>, Error> {
        let url = url.into();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::InvalidJwk(format!("HTTP client: {e}")))?;
        let keys = download(&client, &url).await?;
        Ok(Arc::new(Self {
            url,
            client,
            keys: RwLock::new(Arc::new(keys)),
            last_fetch: Mutex::new(Instant::now()),
            fetch: tokio::sync::Mutex::new(()),
            min_refetch,
            max_age,
            fetches: std::sync::atomic::AtomicU64::new(1),
        }))
    }

    /// How many times the JWKS was downloaded.
    pub fn fetches(&self) -> u64 {
        self.fetches.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn current(&self) -> Arc<KeySet> {
        self.keys.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn since_fetch(&self) -> Duration {
        self.last_fetch
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .elapsed()
    }

    /// Downloads again unless the last download is more recent than the
    /// floor. Returns whether the keys were replaced.
    async fn refresh(&self) -> bool {
        let _one_at_a_time = self.fetch.lock().await;
        if self.since_fetch() < self.min_refetch {
            return false;
        }
        *self.last_fetch.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
        self.fetches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match download(&self.client, &self.url).await {
            Ok(keys) => {
                *self.keys.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(keys);
                true
            }
            Err(e) => {
                tracing::warn!(url = %self.url, error = %e, "cannot refresh the JWKS; keeping the cached keys");
                false
            }
        }
    }

    /// Verifies with the cached keys, refetching once on an unknown kid.
    pub async fn verify<C: DeserializeOwned>(
        &self,
        token: &str,
        validator: &Validator,
        now: UnixTime,
    ) -> Result<Verified<C>, Error> {
        if self.since_fetch() >= self.max_age {
            self.refresh().await;
        }
        match self.current().verify::<C>(token, validator, now) {
            Err(Error::UnknownKid(_) | Error::MissingKid { .. } | Error::NoKeys)
                if self.refresh().await =>
            {
                self.current().verify::<C>(token, validator, now)
            }
            other => other,
        }
    }
}

async fn download(client: &reqwest::Client, url: &str) -> Result<KeySet, Error> {
    let fail = |what: String| Error::InvalidJwk(format!("JWKS at {url}: {what}"));
    let resp = client
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
    let mut resp = resp;
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

/// Follows a passcard server's revocation feed (`GET /v1/revocations`,
/// authenticated with the server's `PASSCARD_FEED_TOKEN`) into a
/// [`RevocationView`].
#[derive(Debug)]
pub struct RevocationFeed;

#[derive(Deserialize)]
struct Page {
    events: Vec<FeedEvent>,
    last_id: i64,
}

#[derive(Deserialize)]
struct FeedEvent {
    id: i64,
    kind: String,
    user_id: i64,
    jti: Option<String>,
    expires_at: Option<i64>,
    version: Option<i64>,
    created_at: i64,
}

impl RevocationFeed {
    /// Starts following `{server}/v1/revocations`, polling every
    /// `interval` (at least 10 ms). `token_lifetime` is how long a version
    /// bump matters: the server's access-token lifetime plus its leeway plus
    /// 60 s (the server's margin for tokens signed just after a bump; 390 s
    /// with the defaults). `leeway` must be the leeway of this service's
    /// `Validator`, so a denied `jti` is kept as long as its token could be
    /// accepted here. Returns the view to give
    /// [`Verifier::with_revocations`](crate::Verifier::with_revocations)
    /// and the task. A wrong feed token or a disabled feed is logged as an
    /// error on every attempt; [`RevocationView::lag`] shows that the view
    /// stopped syncing.
    pub fn spawn(
        server: impl Into<String>,
        feed_token: impl Into<String>,
        interval: Duration,
        token_lifetime: Duration,
        leeway: Duration,
    ) -> (Arc<RevocationView>, tokio::task::JoinHandle<()>) {
        let view = Arc::new(RevocationView::new());
        let server = server.into().trim_end_matches('/').to_owned();
        let token = feed_token.into();
        let client = reqwest::Client::new();
        let interval = interval.max(Duration::from_millis(10));
        let task = {
            let view = view.clone();
            tokio::spawn(async move {
                let lifetime = i64::try_from(token_lifetime.as_secs()).unwrap_or(i64::MAX);
                let leeway = i64::try_from(leeway.as_secs()).unwrap_or(i64::MAX);
                loop {
                    let started = Instant::now();
                    match poll(&client, &server, &token, &view, lifetime, leeway).await {
                        Ok(()) => view.mark_synced(started),
                        Err(e) if e.status().is_some_and(|s| s == 401 || s == 404) => {
                            tracing::error!(
                                error = %e,
                                "the revocation feed refuses this service: check PASSCARD_FEED_TOKEN on both sides"
                            )
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot read the revocation feed; will retry")
                        }
                    }
                    let now = i64::try_from(
                        passcard_jwt::Clock::now(&passcard_jwt::SystemClock::new()).as_secs(),
                    )
                    .unwrap_or(i64::MAX);
                    view.prune(now);
                    tokio::time::sleep(interval).await;
                }
            })
        };
        (view, task)
    }
}

async fn poll(
    client: &reqwest::Client,
    server: &str,
    token: &str,
    view: &RevocationView,
    lifetime: i64,
    leeway: i64,
) -> Result<(), reqwest::Error> {
    loop {
        let page: Page = client
            .get(format!("{server}/v1/revocations?after={}", view.last_id()))
            .bearer_auth(token)
            .timeout(Duration::from_secs(10))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        for e in &page.events {
            match (e.kind.as_str(), &e.jti, e.expires_at, e.version) {
                ("jti", Some(jti), Some(exp), _) => view.deny(jti, exp.saturating_add(leeway)),
                ("version", _, _, Some(version)) => view.bump(
                    &e.user_id.to_string(),
                    version,
                    e.created_at.saturating_add(lifetime).saturating_add(leeway),
                ),
                _ => tracing::warn!(id = e.id, kind = %e.kind, "unknown revocation event"),
            }
            view.set_last_id(e.id);
        }
        view.set_last_id(page.last_id);
        if page.events.len() < 1000 {
            return Ok(());
        }
    }
}
