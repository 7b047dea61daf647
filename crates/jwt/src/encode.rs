//! Signing: JWS compact serialization of JSON claims.

use serde::Serialize;

use crate::b64;
use crate::error::Error;
use crate::header::Header;
use crate::key::SigningKey;

/// Signs `claims` with `key`, which sets `alg` and `kid`.
///
/// The claims must serialize to a JSON object without duplicate member
/// names (a `#[serde(flatten)]` map can otherwise repeat a field).
/// Registered claims are not added or checked here: set `exp` yourself.
pub fn encode(header: &Header, claims: &impl Serialize, key: &SigningKey) -> Result<String, Error> {
    let claims = crate::json::ser::object(claims)?;
    let mut out = String::with_capacity(claims.len() * 4 / 3 + 160);
    // The header of a common `typ` was encoded when the key was made.
    match (header.cty.is_none())
        .then(|| key.encoded_header(header.typ.as_deref()))
        .flatten()
    {
        Some(encoded) => out.push_str(encoded),
        None => {
            let json = crate::header::header_json(
                key.algorithm(),
                key.kid(),
                header.typ.as_deref(),
                header.cty.as_deref(),
            )?;
            b64::encode_to(&json, &mut out);
        }
    }
    out.push('.');
    b64::encode_to(&claims, &mut out);
    let sig = key.sign(out.as_bytes())?;
    out.push('.');
    b64::encode_to(sig.as_ref(), &mut out);
    Ok(out)
}
