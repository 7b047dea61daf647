//! A set of verification keys, looked up by `kid`.

use crate::error::Error;
use crate::json::JStr;
use crate::jwk::{JwkSet, MAX_JWKS_KEYS};
use crate::key::VerifyingKey;

/// The keys a verifier trusts. A token names its key with `kid`; a token
/// without `kid` is accepted only when the set holds exactly one key.
#[derive(Clone, Debug, Default)]
pub struct KeySet {
    keys: Vec<VerifyingKey>,
}

impl KeySet {
    /// A set of the given keys; refused if two share a `kid`.
    pub fn new(keys: Vec<VerifyingKey>) -> Result<Self, Error> {
        for (i, k) in keys.iter().enumerate() {
            if keys[..i].iter().any(|other| other.kid() == k.kid()) {
                return Err(Error::InvalidJwk(format!(
                    "two keys share the kid \"{}\"",
                    crate::alg::printable(k.kid().as_bytes())
                )));
            }
        }
        Ok(Self { keys })
    }

    /// The keys of a JWK Set (public keys, or HMAC `oct` keys with `alg`).
    pub fn from_jwks(set: &JwkSet) -> Result<Self, Error> {
        if set.keys.len() > MAX_JWKS_KEYS {
            return Err(Error::InvalidJwk(format!(
                "at most {MAX_JWKS_KEYS} keys are accepted"
            )));
        }
        Self::new(
            set.keys
                .iter()
                .map(VerifyingKey::from_jwk)
                .collect::<Result<_, _>>()?,
        )
    }

    /// The public JWK Set to publish (for example at
    /// `/.well-known/jwks.json`). HMAC keys are never included.
    pub fn public_jwks(&self) -> JwkSet {
        JwkSet::new(
            self.keys
                .iter()
                .filter_map(|k| k.public_jwk().cloned())
                .collect(),
        )
    }

    /// The key with this `kid`.
    pub fn get(&self, kid: &str) -> Option<&VerifyingKey> {
        self.keys.iter().find(|k| k.kid() == kid)
    }

    /// All keys, in order.
    pub fn iter(&self) -> impl Iterator<Item = &VerifyingKey> {
        self.keys.iter()
    }

    /// The number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Picks the key for a token header's `kid`.
    pub(crate) fn select(&self, kid: Option<JStr<'_>>) -> Result<&VerifyingKey, Error> {
        match kid {
            Some(kid) => self
                .keys
                .iter()
                .find(|k| kid.is(k.kid().as_bytes()))
                .ok_or_else(|| {
                    Error::UnknownKid(match kid.decode() {
                        Ok(s) => crate::alg::printable(s.as_bytes()),
                        Err(_) => String::from("?"),
                    })
                }),
            None => match self.keys.as_slice() {
                [only] => Ok(only),
                [] => Err(Error::NoKeys),
                many => Err(Error::MissingKid { keys: many.len() }),
            },
        }
    }
}

impl From<VerifyingKey> for KeySet {
    fn from(key: VerifyingKey) -> Self {
        Self { keys: vec![key] }
    }
}
