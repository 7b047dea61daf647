//! The verification pipeline: credential, signature and policy, the
//! revocation check. Used by the passcard server for its own routes and by
//! resource servers through [`PasscardLayer`](crate::PasscardLayer).

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, Method};
use passcard_jwt::{Clock, KeySet, SystemClock, Validator};

use crate::cache::{CacheStats, VerifyCache};
use crate::claims::AccessClaims;
use crate::credential::{Transport, credential};
use crate::csrf::{Site, same_site_proof};
use crate::rejection::Rejection;
use crate::revocation::RevocationCheck;

/// The slots of a verifier's cache of verified tokens unless told
/// otherwise ([`Verifier::with_cache`]).
pub const DEFAULT_CACHE_SLOTS: usize = 4096;

/// The policy passcard access tokens are signed for: this issuer and
/// audience, header `typ` `at+jwt`, `sub` and `jti` present, `exp` checked
/// with `leeway`.
pub fn access_policy(
    issuer: impl Into<String>,
    audience: impl Into<String>,
    leeway: Duration,
) -> Validator {
    Validator::builder()
        .issuer(issuer)
        .audience(audience)
        .typ("at+jwt")
        .require_sub()
        .require_jti()
        .leeway(leeway)
        .build()
}

/// The keys a verifier trusts.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum KeySource {
    /// A fixed key set (the auth server's public keys, or a shared HMAC
    /// secret).
    Static(Arc<KeySet>),
    /// The auth server's JWKS, fetched and cached.
    #[cfg(feature = "remote")]
    Remote(Arc<crate::remote::RemoteJwks>),
}

impl From<KeySet> for KeySource {
    fn from(keys: KeySet) -> Self {
        Self::Static(Arc::new(keys))
    }
}

#[cfg(feature = "remote")]
impl From<Arc<crate::remote::RemoteJwks>> for KeySource {
    fn from(jwks: Arc<crate::remote::RemoteJwks>) -> Self {
        Self::Remote(jwks)
    }
}

impl KeySource {
    /// Changes whenever the keys change, so cached verifications made with
    /// older keys stop counting.
    async fn generation(&self) -> u64 {
        match self {
            Self::Static(_) => 0,
            #[cfg(feature = "remote")]
            Self::Remote(jwks) => {
                // Keys past their maximum age are fetched before a cached
                // verification counts: a key the server dropped stops
                // verifying, cached or not.
                jwks.refresh_if_old().await;
                jwks.generation()
            }
        }
    }
}

/// An access token a request presented, verified.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Verified {
    /// Its claims.
    pub claims: Arc<AccessClaims>,
    /// How the request carried it.
    pub transport: Transport,
}

/// Where a verifier also looks for the access token: a cookie, and the
/// site whose pages may send unsafe requests with it.
#[derive(Clone, Debug)]
struct CookieTransport {
    name: String,
    site: Site,
}

/// Keys, a validation policy, a clock, and optionally a revocation check:
/// everything that decides whether a request's access token is good.
#[derive(Debug)]
pub struct Verifier {
    keys: KeySource,
    validator: Validator,
    clock: Arc<dyn Clock>,
    revocations: Option<Arc<dyn RevocationCheck>>,
    max_lag: Option<Duration>,
    cache: VerifyCache,
    cookie: Option<CookieTransport>,
}

impl Verifier {
    /// A verifier with these keys and this policy ([`access_policy`] for
    /// passcard's tokens), reading the system clock, with a cache of
    /// [`DEFAULT_CACHE_SLOTS`] verified tokens and no revocation check.
    pub fn new(keys: impl Into<KeySource>, validator: Validator) -> Self {
        Self {
            keys: keys.into(),
            validator,
            clock: Arc::new(SystemClock::new()),
            revocations: None,
            max_lag: None,
            cache: VerifyCache::new(DEFAULT_CACHE_SLOTS),
            cookie: None,
        }
    }

    /// Also takes the access token from the cookie `name` when a request
    /// has no `Authorization` header (which wins when both are there). An
    /// unsafe request authenticated that way needs a same-site proof
    /// ([`crate::csrf`]): the `X-Passcard-CSRF` header, or an `Origin` of
    /// the `site`; otherwise it is refused with [`Rejection::CrossSite`].
    #[must_use]
    pub fn with_cookie(mut self, name: impl Into<String>, site: Site) -> Self {
        self.cookie = Some(CookieTransport {
            name: name.into(),
            site,
        });
        self
    }

    /// Takes the time from `clock` instead of the system.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Also refuses tokens that `check` says are revoked (for example a
    /// [`RevocationList`](crate::RevocationList) fed by a
    /// [`RevocationFeed`](crate::RevocationFeed)).
    #[must_use]
    pub fn with_revocations(mut self, check: Arc<dyn RevocationCheck>) -> Self {
        self.revocations = Some(check);
        self
    }

    /// Refuses tokens (503, retry) while the revocation check's knowledge
    /// is older than `max` or was never complete: fail closed when the
    /// revocations cannot be followed. Without it, a check that stopped
    /// syncing keeps enforcing only what it already knows (watch its lag).
    #[must_use]
    pub fn with_max_lag(mut self, max: Duration) -> Self {
        self.max_lag = Some(max);
        self
    }

    /// Keeps `slots` recently verified tokens (0: none), so a repeat
    /// request skips the signature check, never the expiry or revocation
    /// checks.
    #[must_use]
    pub fn with_cache(mut self, slots: usize) -> Self {
        self.cache = VerifyCache::new(slots);
        self
    }

    /// The policy tokens are checked against.
    pub fn validator(&self) -> &Validator {
        &self.validator
    }

    /// The clock the verifier reads.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// How the cache of verified tokens has done so far.
    pub fn cache_stats(&self) -> CacheStats {
        self.cache.stats()
    }

    /// Verifies the access token a request presents: the credential (the
    /// `Authorization` header, or the cookie when [`Self::with_cookie`]
    /// named one, checked for a same-site proof), then
    /// [`verify`](Self::verify).
    pub async fn authenticate(
        &self,
        method: &Method,
        headers: &HeaderMap,
    ) -> Result<Verified, Rejection> {
        let cookie = self.cookie.as_ref();
        let Some(c) = credential(headers, cookie.map(|c| c.name.as_str()))? else {
            return Err(Rejection::Missing);
        };
        if let (Transport::Cookie, Some(cookie)) = (c.transport, cookie) {
            if !same_site_proof(method, headers, &cookie.site) {
                return Err(Rejection::CrossSite);
            }
        }
        Ok(Verified {
            claims: self.verify(c.token).await?,
            transport: c.transport,
        })
    }

    /// Verifies a token (signature, header, policy, time), then checks it
    /// against the revocations.
    pub async fn verify(&self, token: &str) -> Result<Arc<AccessClaims>, Rejection> {
        let now = self.clock.now();
        let generation = self.keys.generation().await;
        let leeway = self.validator.leeway().as_secs();
        let claims = match self.cache.get(token, generation, now.as_secs(), leeway) {
            Some(claims) => claims,
            None => {
                let verified = match &self.keys {
                    KeySource::Static(keys) => {
                        keys.verify::<AccessClaims>(token, &self.validator, now)
                    }
                    #[cfg(feature = "remote")]
                    KeySource::Remote(jwks) => jwks.verify(token, &self.validator, now).await,
                }
                .map_err(Rejection::Invalid)?;
                let claims = Arc::new(verified.claims);
                self.cache.insert(token, generation, claims.clone());
                claims
            }
        };
        if let Some(check) = &self.revocations {
            if let Some(max) = self.max_lag {
                if check.lag().is_none_or(|lag| lag > max) {
                    return Err(Rejection::Stale);
                }
            }
            check.check(&claims).map_err(Rejection::Revoked)?;
        }
        Ok(claims)
    }
}
