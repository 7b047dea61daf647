//! Where verification keys come from, and the verifier.

use std::sync::Arc;

use passcard_jwt::{KeySet, Validator};
use serde::de::DeserializeOwned;

use crate::claims::RevocationClaims;
use crate::rejection::Rejection;
use crate::revocation::RevocationView;

/// The keys a resource server trusts.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum KeySource {
    /// A fixed key set (for example the auth server's public keys, or a
    /// shared HMAC secret).
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

/// Keys, a validation policy, and optionally a revocation view.
#[derive(Clone, Debug)]
pub struct Verifier {
    keys: KeySource,
    validator: Validator,
    revocations: Option<Arc<RevocationView>>,
    max_lag: Option<std::time::Duration>,
}

impl Verifier {
    /// A verifier with these keys and this policy. A passcard server's
    /// policy is issuer and audience `passcard` (or its configured values)
    /// and `typ` `at+jwt`.
    pub fn new(keys: impl Into<KeySource>, validator: Validator) -> Self {
        Self {
            keys: keys.into(),
            validator,
            revocations: None,
            max_lag: None,
        }
    }

    /// Refuse tokens (503) while the revocation view is older than `max`
    /// or has never synced: fail closed when the feed is unreachable.
    /// Without it, a view that stopped syncing keeps enforcing only what it
    /// already knows (check [`RevocationView::lag`] in a health endpoint).
    #[must_use]
    pub fn with_max_lag(mut self, max: std::time::Duration) -> Self {
        self.max_lag = Some(max);
        self
    }

    /// Also refuse tokens this view says are revoked.
    #[must_use]
    pub fn with_revocations(mut self, view: Arc<RevocationView>) -> Self {
        self.revocations = Some(view);
        self
    }

    /// Verifies a token and checks it against the revocation view.
    pub async fn verify<C: DeserializeOwned + RevocationClaims>(
        &self,
        token: &str,
    ) -> Result<C, Rejection> {
        let now = passcard_jwt::Clock::now(&passcard_jwt::SystemClock::new());
        let claims: C = match &self.keys {
            KeySource::Static(keys) => keys.verify::<C>(token, &self.validator, now),
            #[cfg(feature = "remote")]
            KeySource::Remote(jwks) => jwks.verify::<C>(token, &self.validator, now).await,
        }
        .map_err(Rejection::Invalid)?
        .claims;
        if let Some(view) = &self.revocations {
            if let Some(max) = self.max_lag {
                if view.lag().is_none_or(|lag| lag > max) {
                    return Err(Rejection::Stale);
                }
            }
            if view.is_revoked(claims.jti(), claims.subject(), claims.version()) {
                return Err(Rejection::Revoked);
            }
        }
        Ok(claims)
    }
}
