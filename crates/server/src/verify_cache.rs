//! A small cache of recently verified access tokens.
//!
//! A client sends the same access token with every request for its whole
//! lifetime, and an HMAC or signature check per request is the largest cost
//! of an authenticated request that is left (the revocation check is two
//! hash lookups). Like Envoy's `jwt_authn` cache, this keeps the claims of
//! tokens that passed full verification, keyed by the exact token text.
//!
//! * Only fully verified tokens enter; a lookup compares the whole token,
//!   so a different token never matches.
//! * Expiry is re-checked on every hit (`nbf` and `iat` only become more
//!   valid with time); revocation is checked on every request by the caller,
//!   cached or not.
//! * Direct-mapped: a fixed number of slots, indexed by the token's last
//!   bytes (its signature), each holding one entry. Memory is bounded and a
//!   collision just evicts; there are no chains to flood.
//! * The key set is fixed for the life of the process; a change of keys
//!   must clear the cache.

use std::sync::{Arc, Mutex};

use crate::tokens::TokenClaims;

struct Entry {
    token: Box<str>,
    claims: Arc<TokenClaims>,
}

/// Verified tokens by exact text.
pub struct VerifyCache {
    slots: Box<[Mutex<Option<Arc<Entry>>>]>,
    mask: usize,
}

impl VerifyCache {
    /// A cache of `entries` slots (rounded up to a power of two); 0
    /// disables it.
    pub fn new(entries: usize) -> Self {
        let n = if entries == 0 {
            0
        } else {
            entries.next_power_of_two()
        };
        Self {
            slots: (0..n).map(|_| Mutex::new(None)).collect(),
            mask: n.saturating_sub(1),
        }
    }

    fn slot(&self, token: &str) -> Option<&Mutex<Option<Arc<Entry>>>> {
        if self.slots.is_empty() {
            return None;
        }
        let bytes = token.as_bytes();
        let tail = &bytes[bytes.len().saturating_sub(8)..];
        let mut x = 0u64;
        for &b in tail {
            x = x.wrapping_mul(31).wrapping_add(u64::from(b));
        }
        let index = usize::try_from(x).unwrap_or_default() & self.mask;
        self.slots.get(index)
    }

    /// The claims of `token` if it was verified before and has not expired:
    /// `now - leeway < exp`.
    pub fn get(&self, token: &str, now: u64, leeway: u64) -> Option<Arc<TokenClaims>> {
        let entry = self
            .slot(token)?
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()?;
        (&*entry.token == token && now.saturating_sub(leeway) < entry.claims.exp)
            .then(|| entry.claims.clone())
    }

    /// Remembers a token that passed full verification.
    pub fn insert(&self, token: &str, claims: Arc<TokenClaims>) {
        if let Some(slot) = self.slot(token) {
            let entry = Arc::new(Entry {
                token: token.into(),
                claims,
            });
            *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(entry);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: u64) -> Arc<TokenClaims> {
        Arc::new(
            serde_json::from_value(serde_json::json!({
                "sub": "7", "role": "user", "iat": 0, "exp": exp, "jti": "j", "ver": 0, "sid": "1"
            }))
            .unwrap(),
        )
    }

    #[test]
    fn hits_only_the_exact_token_before_it_expires() {
        let c = VerifyCache::new(16);
        c.insert("aaa.bbb.sig1", claims(100));
        assert_eq!(c.get("aaa.bbb.sig1", 50, 30).unwrap().user_id, 7);
        // Same signature, other payload: a different token.
        assert!(c.get("aaa.bbX.sig1", 50, 30).is_none());
        // Expired: now - leeway >= exp.
        assert!(c.get("aaa.bbb.sig1", 129, 30).is_some());
        assert!(c.get("aaa.bbb.sig1", 130, 30).is_none());
    }

    #[test]
    fn a_zero_size_cache_keeps_nothing() {
        let c = VerifyCache::new(0);
        c.insert("t", claims(100));
        assert!(c.get("t", 0, 0).is_none());
    }

    #[test]
    fn collisions_evict() {
        let c = VerifyCache::new(1);
        c.insert("x.y.one", claims(100));
        c.insert("x.y.two", claims(100));
        assert!(c.get("x.y.one", 0, 0).is_none());
        assert!(c.get("x.y.two", 0, 0).is_some());
    }
}
