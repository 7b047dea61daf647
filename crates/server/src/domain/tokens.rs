//! Access tokens (signed JWTs) and refresh tokens (opaque random values).

use aws_lc_rs::{digest, hmac, rand};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use passcard_axum::AccessClaims;
use passcard_jwt::{Header, SigningKey, UnixTime};
use passcard_store::User;

use super::error::Error;
use crate::config::TokenPolicy;

/// Signs an access token for `user` in refresh family `family`, valid
/// from `now` for the policy's access lifetime.
pub(super) fn issue_access(
    key: &SigningKey,
    policy: &TokenPolicy,
    user: &User,
    family: i64,
    now: UnixTime,
) -> Result<String, Error> {
    let claims = AccessClaims {
        iss: policy.issuer.clone(),
        aud: policy.audience.clone().into(),
        sub: user.id,
        role: user.role.clone(),
        iat: now.as_secs(),
        exp: now.saturating_add(policy.access_ttl).as_secs(),
        jti: passcard_jwt::new_jti().map_err(Error::internal)?,
        ver: user.token_version,
        sid: family,
    };
    passcard_jwt::encode(&Header::new().typ("at+jwt"), &claims, key).map_err(Error::internal)
}

/// Length of a refresh token: 32 random bytes in base64url.
pub(super) const REFRESH_TOKEN_LEN: usize = 43;

/// A fresh refresh token: 256 bits from the OS CSPRNG, base64url.
pub(super) fn new_refresh_token() -> Result<String, Error> {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes)
        .map_err(|_| Error::internal("the system random number generator failed"))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// Whether `token` has the shape of a refresh token (checked before any
/// hashing or lookup).
pub(crate) fn is_refresh_token_shaped(token: &str) -> bool {
    token.len() == REFRESH_TOKEN_LEN
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// What the store keeps of a refresh token: its SHA-256.
pub(super) fn refresh_hash(token: &str) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// The successor of a refresh token: a MAC of it under a server secret.
/// Deterministic, so a retry of the same rotation gets the same successor
/// without the server ever storing a token in plaintext.
pub(super) fn successor(mac_key: &hmac::Key, token: &str) -> String {
    URL_SAFE_NO_PAD.encode(hmac::sign(mac_key, token.as_bytes()).as_ref())
}

/// A short public label of a session (its hash's first 16 bytes, base64url),
/// shown where a token would show its `jti`.
pub(super) fn session_label(hash: &[u8; 32]) -> String {
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
