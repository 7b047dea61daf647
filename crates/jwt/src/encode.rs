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
    let header = crate::header::header_json(
        key.algorithm(),
        key.kid(),
        header.typ.as_deref(),
        header.cty.as_deref(),
    )?;
    let claims =
        serde_json::to_vec(claims).map_err(|_| Error::Encode("claims do not serialize to JSON"))?;
    crate::json::validate(&claims, crate::validation::MAX_DEPTH_CEILING)
        .map_err(|_| Error::Encode("claims must be a JSON object without duplicate names"))?;
    let mut out = String::with_capacity((header.len() + claims.len()) * 4 / 3 + 96);
    b64::encode_to(&header, &mut out);
    out.push('.');
    b64::encode_to(&claims, &mut out);
    let sig = key.sign(out.as_bytes())?;
    out.push('.');
    b64::encode_to(sig.as_ref(), &mut out);
    Ok(out)
}
