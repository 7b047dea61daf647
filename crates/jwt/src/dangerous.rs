//! Reading a token **without verifying it**.
//!
//! Nothing here checks a signature, a key, a time or an audience. Use it
//! only to show a token to a person (`passcard token inspect`) or to route
//! it before verification; never to make an access decision.

use crate::b64;
use crate::error::Error;
use crate::validation::{DEFAULT_MAX_DEPTH, DEFAULT_MAX_TOKEN_BYTES};

/// The decoded parts of a token that was **not** verified.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Unverified {
    /// The header, as JSON.
    pub header: serde_json::Map<String, serde_json::Value>,
    /// The claims, as JSON.
    pub claims: serde_json::Map<String, serde_json::Value>,
    /// Length of the signature in bytes.
    pub signature_len: usize,
}

/// Decodes a compact JWT without checking anything but its form (the same
/// strict parsing as verification: size, base64url, JSON objects without
/// duplicate names).
pub fn decode_unverified(token: &str) -> Result<Unverified, Error> {
    if token.len() > DEFAULT_MAX_TOKEN_BYTES {
        return Err(Error::TooLarge {
            len: token.len(),
            max: DEFAULT_MAX_TOKEN_BYTES,
        });
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Error::Malformed(
            "a JWS has exactly three dot-separated parts",
        ));
    };
    let object = |part: &str, what: &'static str| {
        let bytes = b64::decode(part.as_bytes()).ok_or_else(|| Error::Malformed(what))?;
        crate::json::validate(&bytes, DEFAULT_MAX_DEPTH)?;
        serde_json::from_slice(&bytes).map_err(Error::Claims)
    };
    Ok(Unverified {
        header: object(h, "header is not canonical base64url")?,
        claims: object(p, "payload is not canonical base64url")?,
        signature_len: b64::decode(s.as_bytes())
            .ok_or_else(|| Error::Malformed("signature is not canonical base64url"))?
            .len(),
    })
}
