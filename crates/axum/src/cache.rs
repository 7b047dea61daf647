//! A small cache of recently verified access tokens.
//!
//! A client sends the same access token with every request for its whole
//! lifetime, and an HMAC or signature check per request is the largest cost
//! of an authenticated request that is left (the revocation check is two
//! hash lookups). Like Envoy's `jwt_authn` cache, this keeps the claims of
//! tokens that passed full verification, keyed by the SHA-256 of the token
//! text.
//!
//! * Only fully verified tokens enter; a lookup compares the whole digest
//!   in constant time, so a different token never matches and the time a
//!   lookup takes says nothing about how much of a cached token a
//!   presented one shares (a `==` on token text stops at the first
//!   difference). The tokens themselves are not kept.
//! * Expiry is re-checked on every hit (`nbf` and `iat` only become more
//!   valid with time); revocation is checked on every request by the
//!   verifier, cached or not.
//! * Direct-mapped: a fixed number of slots, indexed by the digest, each
//!   holding one entry. Memory is bounded and a
//!   collision just evicts; there are no chains to flood.
//! * Each entry remembers the key set it was verified with (its
//!   generation): when a remote JWKS changes, older entries stop matching.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::claims::AccessClaims;

struct Entry {
    digest: [u8; 32],
    generation: u64,
    claims: Arc<AccessClaims>,
}

/// The SHA-256 of a token's text: what the cache keys on.
fn digest(token: &str) -> [u8; 32] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// Verified tokens by the digest of their text.
pub(crate) struct VerifyCache {
    slots: Box<[Mutex<Option<Arc<Entry>>>]>,
    mask: usize,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// How a [`Verifier`](crate::Verifier)'s cache of verified tokens has
/// done.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheStats {
    /// Lookups answered from the cache (the signature check skipped).
    pub hits: u64,
    /// Lookups that had to verify the token fully.
    pub misses: u64,
    /// The number of slots (0: the cache is off).
    pub slots: usize,
}

impl std::fmt::Debug for VerifyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the tokens: they are credentials.
        f.debug_struct("VerifyCache")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl VerifyCache {
    /// A cache of `entries` slots (rounded up to a power of two, at most
    /// 2^20); 0 disables it.
    pub(crate) fn new(entries: usize) -> Self {
        let n = match entries {
            0 => 0,
            n => n.min(1 << 20).next_power_of_two(),
        };
        Self {
            slots: (0..n).map(|_| Mutex::new(None)).collect(),
            mask: n.saturating_sub(1),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    fn slot(&self, digest: &[u8; 32]) -> Option<&Mutex<Option<Arc<Entry>>>> {
        if self.slots.is_empty() {
            return None;
        }
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        let index =
            usize::try_from(u64::from_le_bytes(first) & self.mask as u64).unwrap_or_default();
        self.slots.get(index)
    }

    /// The claims of `token` if it was verified with key-set `generation`
    /// and has not expired: `now - leeway < exp`.
    pub(crate) fn get(
        &self,
        token: &str,
        generation: u64,
        now: u64,
        leeway: u64,
    ) -> Option<Arc<AccessClaims>> {
        if self.slots.is_empty() {
            return None;
        }
        let digest = digest(token);
        let slot = self.slot(&digest)?;
        let entry = slot.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let hit = entry.filter(|e| {
            aws_lc_rs::constant_time::verify_slices_are_equal(&e.digest, &digest).is_ok()
                && e.generation == generation
                && now.saturating_sub(leeway) < e.claims.exp
        });
        match hit {
            Some(e) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                Some(e.claims.clone())
            }
            None => {
                self.misses.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// Remembers a token that passed full verification with key-set
    /// `generation`.
    pub(crate) fn insert(&self, token: &str, generation: u64, claims: Arc<AccessClaims>) {
        if self.slots.is_empty() {
            return;
        }
        let digest = digest(token);
        if let Some(slot) = self.slot(&digest) {
            let entry = Arc::new(Entry {
                digest,
                generation,
                claims,
            });
            *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(entry);
        }
    }

    pub(crate) fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            slots: self.slots.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: u64) -> Arc<AccessClaims> {
        Arc::new(AccessClaims {
            iss: String::new(),
            aud: "".into(),
            sub: 7,
            role: "user".into(),
            iat: 0,
            exp,
            jti: "j".into(),
            ver: 0,
            sid: 1,
        })
    }

    #[test]
    fn hits_only_the_exact_token_before_it_expires() {
        let c = VerifyCache::new(16);
        c.insert("aaa.bbb.sig1", 0, claims(100));
        assert_eq!(c.get("aaa.bbb.sig1", 0, 50, 30).unwrap().sub, 7);
        // Same signature, other payload: a different token.
        assert!(c.get("aaa.bbX.sig1", 0, 50, 30).is_none());
        // Expired: now - leeway >= exp.
        assert!(c.get("aaa.bbb.sig1", 0, 129, 30).is_some());
        assert!(c.get("aaa.bbb.sig1", 0, 130, 30).is_none());
        // Verified with keys that have changed since.
        assert!(c.get("aaa.bbb.sig1", 1, 50, 30).is_none());
        assert_eq!(
            c.stats(),
            CacheStats {
                hits: 2,
                misses: 3,
                slots: 16
            }
        );
    }

    #[test]
    fn a_zero_size_cache_keeps_nothing() {
        let c = VerifyCache::new(0);
        c.insert("t", 0, claims(100));
        assert!(c.get("t", 0, 0, 0).is_none());
    }

    #[test]
    fn entries_keep_a_digest_never_the_token() {
        let c = VerifyCache::new(16);
        c.insert("aaa.bbb.sig1", 0, claims(100));
        let slot = c.slot(&digest("aaa.bbb.sig1")).unwrap();
        let entry = slot.lock().unwrap().clone().unwrap();
        assert_eq!(entry.digest, digest("aaa.bbb.sig1"));
        // Tokens that share all but their last byte land anywhere and
        // never match each other.
        assert!(c.get("aaa.bbb.sig2", 0, 50, 30).is_none());
    }

    #[test]
    fn collisions_evict() {
        let c = VerifyCache::new(1);
        c.insert("x.y.one", 0, claims(100));
        c.insert("x.y.two", 0, claims(100));
        assert!(c.get("x.y.one", 0, 0, 0).is_none());
        assert!(c.get("x.y.two", 0, 0, 0).is_some());
    }
}
