//! JSON Web Keys (RFC 7517) and their thumbprints (RFC 7638).

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// The largest JWK or JWK Set document accepted, in bytes.
pub const MAX_JWKS_BYTES: usize = 256 * 1024;
/// The most keys a JWK Set may hold.
pub const MAX_JWKS_KEYS: usize = 64;

/// A JSON Web Key, public or private, as it appears on the wire.
///
/// Members passcard does not use (`x5c`, `key_ops`, …) are ignored and not
/// kept. `Debug` never prints private members.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Jwk {
    /// Key type: `oct`, `OKP`, `EC` or `RSA`.
    pub kty: String,
    /// Key id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Intended use; passcard only accepts `sig` (or none).
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    /// The algorithm this key is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// Curve (`Ed25519`, `P-256`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// Public x coordinate (EC) or public key (OKP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// Public y coordinate (EC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    /// RSA modulus.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// RSA public exponent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    /// Private key (EC, OKP) or RSA private exponent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub d: Option<String>,
    /// RSA first prime factor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p: Option<String>,
    /// RSA second prime factor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    /// RSA first factor CRT exponent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dp: Option<String>,
    /// RSA second factor CRT exponent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dq: Option<String>,
    /// RSA CRT coefficient.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qi: Option<String>,
    /// Permitted operations; when present it must allow `sign` or `verify`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_ops: Option<Vec<String>>,
    /// RSA other primes (multi-prime keys are refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oth: Option<serde_json::Value>,
    /// Symmetric key value (oct).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k: Option<String>,
}

impl Drop for Jwk {
    fn drop(&mut self) {
        use zeroize::Zeroize as _;
        for private in [
            &mut self.d,
            &mut self.p,
            &mut self.q,
            &mut self.dp,
            &mut self.dq,
            &mut self.qi,
            &mut self.k,
        ] {
            private.zeroize();
        }
    }
}

impl fmt::Debug for Jwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redact = |v: &Option<String>| v.as_ref().map(|_| "[redacted]");
        f.debug_struct("Jwk")
            .field("kty", &self.kty)
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("crv", &self.crv)
            .field("x", &self.x)
            .field("y", &self.y)
            .field("n", &self.n)
            .field("e", &self.e)
            .field("d", &redact(&self.d))
            .field("k", &redact(&self.k))
            .finish_non_exhaustive()
    }
}

impl Jwk {
    /// Parses one JWK from JSON, strictly: at most [`MAX_JWKS_BYTES`], no
    /// duplicate member names.
    pub fn from_json(json: &str) -> Result<Self, Error> {
        strict_parse(json)
    }

    /// Whether this JWK carries private key material (any private member).
    pub fn is_private(&self) -> bool {
        [
            &self.d, &self.p, &self.q, &self.dp, &self.dq, &self.qi, &self.k,
        ]
        .iter()
        .any(|m| m.is_some())
            || self.oth.is_some()
    }

    /// The public part of this key: private members removed. `None` for a
    /// symmetric key, which has no public part.
    pub fn to_public(&self) -> Option<Self> {
        if self.kty == "oct" {
            return None;
        }
        let mut public = self.clone();
        for private in [
            &mut public.d,
            &mut public.p,
            &mut public.q,
            &mut public.dp,
            &mut public.dq,
            &mut public.qi,
            &mut public.k,
        ] {
            zeroize::Zeroize::zeroize(private);
        }
        public.oth = None;
        Some(public)
    }

    /// The RFC 7638 thumbprint: base64url(SHA-256) of the required members
    /// in lexicographic order, without whitespace.
    pub fn thumbprint(&self) -> Result<String, Error> {
        let need = |v: &Option<String>, name: &str| {
            v.as_deref()
                .ok_or_else(|| Error::InvalidJwk(format!("{} key without \"{name}\"", self.kty)))
                .and_then(|s| {
                    serde_json::to_string(s).map_err(|e| Error::InvalidJwk(e.to_string()))
                })
        };
        let canonical = match self.kty.as_str() {
            "EC" => format!(
                r#"{{"crv":{},"kty":"EC","x":{},"y":{}}}"#,
                need(&self.crv, "crv")?,
                need(&self.x, "x")?,
                need(&self.y, "y")?
            ),
            "OKP" => format!(
                r#"{{"crv":{},"kty":"OKP","x":{}}}"#,
                need(&self.crv, "crv")?,
                need(&self.x, "x")?
            ),
            "RSA" => format!(
                r#"{{"e":{},"kty":"RSA","n":{}}}"#,
                need(&self.e, "e")?,
                need(&self.n, "n")?
            ),
            "oct" => format!(r#"{{"k":{},"kty":"oct"}}"#, need(&self.k, "k")?),
            other => {
                return Err(Error::InvalidJwk(format!(
                    "unsupported kty \"{}\"",
                    crate::alg::printable(other.as_bytes())
                )));
            }
        };
        Ok(crate::b64::encode(&crate::crypto::sha256(
            canonical.as_bytes(),
        )))
    }
}

/// A JWK Set (RFC 7517 section 5).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct JwkSet {
    /// The keys.
    pub keys: Vec<Jwk>,
}

impl JwkSet {
    /// A set of the given keys.
    pub fn new(keys: Vec<Jwk>) -> Self {
        Self { keys }
    }

    /// Parses a JWK Set from JSON, strictly: at most [`MAX_JWKS_BYTES`] and
    /// [`MAX_JWKS_KEYS`] keys, no duplicate member names.
    pub fn from_json(json: &str) -> Result<Self, Error> {
        let set: Self = strict_parse(json)?;
        if set.keys.len() > MAX_JWKS_KEYS {
            return Err(Error::InvalidJwk(format!(
                "{} keys in the set; at most {MAX_JWKS_KEYS} are accepted",
                set.keys.len()
            )));
        }
        Ok(set)
    }
}

fn strict_parse<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, Error> {
    if json.len() > MAX_JWKS_BYTES {
        return Err(Error::InvalidJwk(format!(
            "document is {} bytes; at most {MAX_JWKS_BYTES} are accepted",
            json.len()
        )));
    }
    crate::json::validate(json.as_bytes(), 8).map_err(|e| Error::InvalidJwk(e.to_string()))?;
    serde_json::from_str(json).map_err(|e| Error::InvalidJwk(e.to_string()))
}
