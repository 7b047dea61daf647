//! Arbitrary bytes as a JWK or JWK Set: parsing and key import must never
//! panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use passcard_jwt::{Jwk, JwkSet, KeySet, SigningKey, VerifyingKey};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(set) = JwkSet::from_json(text) {
        let _ = KeySet::from_jwks(&set);
    }
    if let Ok(jwk) = Jwk::from_json(text) {
        let _ = jwk.thumbprint();
        let _ = VerifyingKey::from_jwk(&jwk);
        let _ = SigningKey::from_jwk(&jwk);
    }
});
