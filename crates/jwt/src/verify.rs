//! The one verification pipeline: limits, header, key lookup, algorithm
//! match, signature, then claims.

use std::borrow::Cow;
use std::mem::MaybeUninit;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::alg::Algorithm;
use crate::b64;
use crate::claims::RawClaims;
use crate::error::Error;
use crate::header::RawHeader;
use crate::key::VerifyingKey;
use crate::keyset::KeySet;
use crate::time::{NumericDate, UnixTime};
use crate::validation::Validator;

/// Claims that passed verification: signature, header and the policy.
///
/// The only way to get one is [`KeySet::verify`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Verified<C> {
    /// The caller's claims, deserialized after every check passed.
    pub claims: C,
    /// The algorithm that verified the token.
    pub alg: Algorithm,
    /// The id of the key that verified the token.
    pub kid: Arc<str>,
    /// `exp`, when present (always, unless the policy allowed otherwise).
    pub exp: Option<NumericDate>,
    /// `iat`, when present.
    pub iat: Option<NumericDate>,
    /// `nbf`, when present.
    pub nbf: Option<NumericDate>,
}

/// A JWS whose signature verified; its payload is not interpreted.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct VerifiedJws {
    /// The decoded payload.
    pub payload: Vec<u8>,
    /// The algorithm that verified it.
    pub alg: Algorithm,
    /// The id of the key that verified it.
    pub kid: Arc<str>,
}

/// Stack buffers large enough for typical headers and claims; larger parts
/// (up to the token limit) fall back to the heap.
const HEADER_STACK: usize = 256;
const PAYLOAD_STACK: usize = 1024;
/// Room for every signature up to RSA-4096; larger ones go to the heap.
const SIG_STACK: usize = 512;

const HEADER_B64: &str = "header is not canonical base64url";
const PAYLOAD_B64: &str = "payload is not canonical base64url";
const SIG_B64: &str = "signature is not canonical base64url";

struct Parts<'t> {
    signing_input: &'t [u8],
    header: &'t [u8],
    payload: &'t [u8],
    signature: &'t [u8],
}

fn split(token: &[u8], max: usize) -> Result<Parts<'_>, Error> {
    if token.len() > max {
        return Err(Error::TooLarge {
            len: token.len(),
            max,
        });
    }
    const PARTS: Error = Error::Malformed("a JWS has exactly three dot-separated parts");
    let first = memchr::memchr(b'.', token).ok_or_else(|| PARTS)?;
    let second = first + 1 + memchr::memchr(b'.', &token[first + 1..]).ok_or_else(|| PARTS)?;
    let signature = &token[second + 1..];
    if memchr::memchr(b'.', signature).is_some() {
        return Err(PARTS);
    }
    Ok(Parts {
        signing_input: &token[..second],
        header: &token[..first],
        payload: &token[first + 1..second],
        signature,
    })
}

/// Decodes `part` into `stack` when it fits, else into `heap`.
fn decode_part<'b>(
    part: &[u8],
    stack: &'b mut [MaybeUninit<u8>],
    heap: &'b mut Vec<u8>,
    what: &'static str,
) -> Result<&'b [u8], Error> {
    let len = b64::decoded_len(part.len()).ok_or_else(|| Error::Malformed(what))?;
    if len <= stack.len() {
        b64::decode_into(part, stack).ok_or_else(|| Error::Malformed(what))
    } else {
        *heap = b64::decode(part).ok_or_else(|| Error::Malformed(what))?;
        Ok(heap)
    }
}

impl KeySet {
    /// Verifies a compact JWT and returns its claims.
    ///
    /// In order: size limit; three base64url parts; header (a JSON object
    /// without duplicates, a supported `alg`, no unknown `crit`, no
    /// `b64: false`); the key by `kid`; `alg` equal to that key's algorithm;
    /// the signature; only then the claims (strict JSON, typed registered
    /// claims) against `validator` at time `now`; finally `C` is
    /// deserialized from the verified claims.
    ///
    /// ```
    /// use passcard_jwt::{encode, Algorithm, Header, KeySet, SigningKey, UnixTime, Validator};
    /// use serde::{Deserialize, Serialize};
    ///
    /// #[derive(Serialize, Deserialize)]
    /// struct Claims { sub: String, role: String, iss: String, aud: String, exp: u64 }
    ///
    /// let key = SigningKey::generate(Algorithm::HS256)?;
    /// let now = UnixTime::from_secs(1_700_000_000);
    /// let claims = Claims { sub: "42".into(), role: "user".into(), iss: "me".into(),
    ///                       aud: "api".into(), exp: now.as_secs() + 300 };
    /// let token = encode(&Header::new().typ("at+jwt"), &claims, &key)?;
    ///
    /// let keys = KeySet::from(key.verifying_key());
    /// let policy = Validator::builder().issuer("me").audience("api").typ("at+jwt").build();
    /// let verified = keys.verify::<Claims>(&token, &policy, now)?;
    /// assert_eq!(verified.claims.role, "user");
    /// # Ok::<(), passcard_jwt::Error>(())
    /// ```
    pub fn verify<C: DeserializeOwned>(
        &self,
        token: &str,
        validator: &Validator,
        now: UnixTime,
    ) -> Result<Verified<C>, Error> {
        let parts = split(token.as_bytes(), validator.max_token_bytes)?;
        // Decoded (not read) before the signature check, so a malformed
        // payload is reported as such rather than as a bad signature.
        let (mut pstack, mut pheap) = ([MaybeUninit::uninit(); PAYLOAD_STACK], Vec::new());
        let payload = decode_part(parts.payload, &mut pstack, &mut pheap, PAYLOAD_B64)?;
        // Fast path: a header passcard wrote for one of these keys.
        let known = self
            .iter()
            .find_map(|k| k.known_header(parts.header).map(|typ| (k, typ)));
        let (mut hstack, mut hheap) = ([MaybeUninit::uninit(); HEADER_STACK], Vec::new());
        let (key, typ) = match known {
            Some((key, typ)) => {
                check_signature(key, &parts)?;
                (key, typ.map(Cow::Borrowed))
            }
            None => {
                let header = decode_part(parts.header, &mut hstack, &mut hheap, HEADER_B64)?;
                let header = RawHeader::parse(header, validator.max_depth)?;
                let key = self.select_for(&header)?;
                check_signature(key, &parts)?;
                (key, header.typ.map(|t| t.decode()).transpose()?)
            }
        };
        let (claims, raw) = claims::<C>(payload, validator, typ.as_deref(), now)?;
        Ok(Verified {
            claims,
            alg: key.algorithm(),
            kid: key.kid_arc().clone(),
            exp: raw.exp,
            iat: raw.iat,
            nbf: raw.nbf,
        })
    }

    /// Verifies only the signature of a compact JWS (header rules included)
    /// and returns the payload, uninterpreted: for non-JWT payloads. Tokens
    /// must go through [`KeySet::verify`].
    pub fn verify_jws(&self, token: &str, max_bytes: usize) -> Result<VerifiedJws, Error> {
        let parts = split(token.as_bytes(), max_bytes)?;
        let header = b64::decode(parts.header).ok_or_else(|| Error::Malformed(HEADER_B64))?;
        let header = RawHeader::parse(&header, crate::validation::DEFAULT_MAX_DEPTH)?;
        let payload = b64::decode(parts.payload).ok_or_else(|| Error::Malformed(PAYLOAD_B64))?;
        let key = self.select_for(&header)?;
        check_signature(key, &parts)?;
        Ok(VerifiedJws {
            payload,
            alg: key.algorithm(),
            kid: key.kid_arc().clone(),
        })
    }

    /// The key for a parsed header: by `kid`, and bound to the token's `alg`.
    fn select_for(&self, header: &RawHeader<'_>) -> Result<&VerifyingKey, Error> {
        let key = self.select(header.kid)?;
        if key.algorithm() != header.alg {
            return Err(Error::AlgorithmMismatch {
                token: header.alg,
                key: key.algorithm(),
            });
        }
        Ok(key)
    }
}

/// The claims of a signature-checked payload, checked against the policy.
/// One strict pass reads them when it can (the usual case); anything it
/// does not vouch for goes the two-pass way (scanner, policy, serde_json),
/// which also decides every error, so both ways answer alike.
fn claims<'p, C: DeserializeOwned>(
    payload: &'p [u8],
    validator: &Validator,
    typ: Option<&str>,
    now: UnixTime,
) -> Result<(C, RawClaims<'p>), Error> {
    if let Ok((claims, raw)) = crate::json::de::claims::<C>(payload, validator.max_depth) {
        validator.check(&raw, typ, now)?;
        return Ok((claims, raw));
    }
    let raw = RawClaims::parse(payload, validator.max_depth)?;
    validator.check(&raw, typ, now)?;
    let claims = serde_json::from_slice(payload).map_err(Error::Claims)?;
    Ok((claims, raw))
}

fn check_signature(key: &VerifyingKey, parts: &Parts<'_>) -> Result<(), Error> {
    let (mut stack, mut heap) = ([MaybeUninit::uninit(); SIG_STACK], Vec::new());
    let sig = decode_part(parts.signature, &mut stack, &mut heap, SIG_B64)?;
    if sig.is_empty() || !key.verify_signature(parts.signing_input, sig) {
        return Err(Error::BadSignature);
    }
    Ok(())
}
