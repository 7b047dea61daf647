//! # passcard-jwt
//!
//! Strict, fast JWS/JWT signing and verification, the pure core of passcard:
//! no I/O, no async, no global state.
//!
//! * **A key owns its algorithm.** [`SigningKey`] and [`VerifyingKey`] are
//!   bound to one [`Algorithm`] when built. A verifier picks the key by the
//!   token's `kid` and then *requires* the token's `alg` to be that key's
//!   algorithm: the header never chooses how it is verified. `none` does not
//!   exist, and keys embedded in or linked from a token (`jwk`, `jku`, `x5u`,
//!   `x5c`) are never used.
//! * **Validation is on by default.** `exp` is required; `nbf` and `iat` are
//!   honoured with a 30 s leeway; the [`Validator`] builder will not build
//!   until told which issuer and audience to accept (or, explicitly, any).
//!   Loosening anything is a named call.
//! * **Strict input.** Exactly three parts; canonical unpadded base64url;
//!   an 8 KiB limit checked before decoding; header and claims must be JSON
//!   objects with no duplicate member names at any depth (after unescaping)
//!   and bounded nesting; dates must be non-negative numbers before year
//!   10000. The signature is checked before any claim is read.
//! * **Fast.** Keys hold precomputed state (HMAC key schedule, parsed public
//!   key); verification decodes into stack buffers and allocates only what
//!   the caller's claims type needs. See `benches/verify.rs`.
//!
//! ```
//! use passcard_jwt::{encode, Algorithm, Header, KeySet, SigningKey, UnixTime, Validator};
//! use passcard_jwt::claims::{Audience, RegisteredClaims};
//!
//! let key = SigningKey::generate(Algorithm::EdDSA)?;
//! let now = UnixTime::from_secs(1_700_000_000);
//! let mut claims = RegisteredClaims::default();
//! claims.iss = Some("https://auth.example.com".into());
//! claims.aud = Some(Audience::One("api".into()));
//! claims.sub = Some("42".into());
//! claims.exp = Some(now.saturating_add(std::time::Duration::from_secs(300)).into());
//! let token = encode(&Header::new().typ("at+jwt"), &claims, &key)?;
//!
//! let keys = KeySet::from(key.verifying_key());
//! let policy = Validator::builder()
//!     .issuer("https://auth.example.com")
//!     .audience("api")
//!     .typ("at+jwt")
//!     .require_sub()
//!     .build();
//! let verified = keys.verify::<RegisteredClaims>(&token, &policy, now)?;
//! assert_eq!(verified.claims.sub.as_deref(), Some("42"));
//!
//! // Ten minutes later the same token has expired.
//! let later = now.saturating_add(std::time::Duration::from_secs(600));
//! let err = keys.verify::<RegisteredClaims>(&token, &policy, later).unwrap_err();
//! assert!(err.is_expired());
//! # Ok::<(), passcard_jwt::Error>(())
//! ```

mod alg;
mod b64;
pub mod claims;
mod crypto;
pub mod dangerous;
mod der;
mod encode;
mod error;
mod header;
mod json;
pub mod jwk;
mod key;
mod keyset;
mod time;
pub mod validation;
mod verify;

/// A fresh token id (`jti`): 128 bits from the OS CSPRNG, base64url.
pub fn new_jti() -> Result<String, Error> {
    let mut id = [0u8; 16];
    crypto::random(&mut id)?;
    Ok(b64::encode(&id))
}

pub use alg::{Algorithm, UnsupportedAlgorithm};
pub use encode::encode;
pub use error::Error;
pub use header::Header;
pub use jwk::{Jwk, JwkSet};
pub use key::{MAX_KID_BYTES, SigningKey, VerifyingKey};
pub use keyset::KeySet;
pub use time::{Clock, NumericDate, SystemClock, UnixTime};
pub use validation::Validator;
pub use verify::{Verified, VerifiedJws};
