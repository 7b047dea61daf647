//! Access tokens (signed JWTs) and refresh tokens (opaque random values).

use aws_lc_rs::{digest, hmac, rand};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use passcard_jwt::{Header, SigningKey, UnixTime};
use passcard_store::User;
use serde::{Deserialize, Serialize};

/// The claims of a passcard access token.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// The user's integer id, as a string.
    pub sub: String,
    /// The user's role when the token was issued.
    pub role: String,
    /// Issued at (Unix seconds).
    pub iat: u64,
    /// Expires at (Unix seconds).
    pub exp: u64,
    /// Token id, for the denylist.
    pub jti: String,
    /// The user's token version when the token was issued.
    pub ver: i64,
    /// The refresh family (login session) the token belongs to.
    pub sid: String,
}

/// The claims a Bearer check reads back: only what handlers use. `iss`,
/// `aud`, `exp` and `typ` are checked by the validator before this is
/// deserialized; `sub` and `sid` parse straight into integers, so a
/// verification allocates only `role` and `jti`.
#[derive(Clone, Debug, Deserialize)]
pub struct TokenClaims {
    /// The user id.
    #[serde(rename = "sub", deserialize_with = "int_string")]
    pub user_id: i64,
    /// The role when the token was issued.
    pub role: String,
    /// Issued at.
    pub iat: u64,
    /// Expires at.
    pub exp: u64,
    /// Token id.
    pub jti: String,
    /// Token version.
    pub ver: i64,
    /// Refresh family.
    #[serde(rename = "sid", deserialize_with = "int_string")]
    pub family_id: i64,
}

/// An integer written as a JSON string (`"42"`), read without allocating.
fn int_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    struct Visitor;
    impl serde::de::Visitor<'_> for Visitor {
        type Value = i64;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an integer in a string")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<i64, E> {
            v.parse().map_err(|_| E::custom("not an integer"))
        }
    }
    d.deserialize_str(Visitor)
}

/// Signs an access token for `user` in refresh family `family`.
pub fn issue_access(
    key: &SigningKey,
    issuer: &str,
    audience: &str,
    user: &User,
    family: i64,
    ttl_secs: u64,
    now: UnixTime,
) -> anyhow::Result<String> {
    let claims = AccessClaims {
        iss: issuer.to_owned(),
        aud: audience.to_owned(),
        sub: user.id.to_string(),
        role: user.role.clone(),
        iat: now.as_secs(),
        exp: now.as_secs() + ttl_secs,
        jti: passcard_jwt::new_jti()?,
        ver: user.token_version,
        sid: family.to_string(),
    };
    Ok(passcard_jwt::encode(
        &Header::new().typ("at+jwt"),
        &claims,
        key,
    )?)
}

/// Length of a refresh token: 32 random bytes in base64url.
pub const REFRESH_TOKEN_LEN: usize = 43;

/// A fresh refresh token: 256 bits from the OS CSPRNG, base64url.
pub fn new_refresh_token() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes)
        .map_err(|_| anyhow::anyhow!("the system random number generator failed"))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// Whether `token` has the shape of a refresh token (checked before any
/// hashing or lookup).
pub fn is_refresh_token_shaped(token: &str) -> bool {
    token.len() == REFRESH_TOKEN_LEN
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// What the store keeps of a refresh token: its SHA-256.
pub fn refresh_hash(token: &str) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// The successor of a refresh token: a MAC of it under a server secret.
/// Deterministic, so a retry of the same rotation gets the same successor
/// without the server ever storing a token in plaintext.
pub fn successor(mac_key: &hmac::Key, token: &str) -> String {
    URL_SAFE_NO_PAD.encode(hmac::sign(mac_key, token.as_bytes()).as_ref())
}

/// A short public label of a session (its hash's first 16 bytes, base64url),
/// shown where a token would show its `jti`.
pub fn session_label(hash: &[u8; 32]) -> String {
    URL_SAFE_NO_PAD.encode(&hash[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_tokens_are_random_well_formed_and_chain_deterministically() {
        let a = new_refresh_token().unwrap();
        let b = new_refresh_token().unwrap();
        assert_ne!(a, b);
        assert!(is_refresh_token_shaped(&a));
        assert!(!is_refresh_token_shaped(&a[1..]));
        assert!(!is_refresh_token_shaped(&format!("{}=", &a[1..])));
        let key = hmac::Key::new(hmac::HMAC_SHA256, &[9; 32]);
        let s = successor(&key, &a);
        assert!(is_refresh_token_shaped(&s));
        assert_eq!(s, successor(&key, &a));
        assert_ne!(s, successor(&key, &b));
        assert_ne!(refresh_hash(&a), refresh_hash(&b));
    }
}
