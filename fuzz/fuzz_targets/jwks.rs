//! Arbitrary bytes as a JWK or JWK Set: parsing and key import must never
//! panic, and what they accept must hang together.
//!
//! * A JWK re-serializes to a document that parses back to itself, and its
//!   public part has its thumbprint.
//! * A key imported both ways (signing and verifying) signs a token its
//!   verifying half, and the key its public JWK makes, accepts.
//! * A JWK Set that makes a key set publishes a set that makes the same
//!   keys again.
//!
//! Signing with an EC or RSA key draws random numbers (ECDSA's nonce,
//! RSA's blinding), which steer which code the fuzzer sees run, so two
//! runs of one seed part ways. The deterministic runs `.ci/run` makes
//! (`scripts/fuzz.sh --ci` sets PASSCARD_FUZZ_DETERMINISTIC=1) check that
//! such a key signs only in the random runs; that its public half is the
//! verifying key's, and everything else, in both.
#![no_main]

use libfuzzer_sys::fuzz_target;
use passcard_jwt::{
    Algorithm, Header, Jwk, JwkSet, KeySet, SigningKey, UnixTime, Validator, VerifyingKey, encode,
};
use serde_json::json;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(set) = JwkSet::from_json(text) {
        set_round_trip(&set);
    }
    if let Ok(jwk) = Jwk::from_json(text) {
        jwk_round_trip(&jwk);
    }
});

fn jwk_round_trip(jwk: &Jwk) {
    let json = serde_json::to_string(jwk).expect("a JWK serializes");
    assert_eq!(&Jwk::from_json(&json).expect("re-parses"), jwk);
    let thumbprint = jwk.thumbprint();
    if let Some(public) = jwk.to_public() {
        assert!(
            !public.is_private(),
            "the public part keeps a private member"
        );
        assert_eq!(
            public.thumbprint().ok(),
            thumbprint.ok(),
            "the public part has another thumbprint"
        );
    }
    let verifying = VerifyingKey::from_jwk(jwk);
    let Ok(signing) = SigningKey::from_jwk(jwk) else {
        return;
    };
    let Ok(verifying) = verifying else {
        panic!("a JWK that signs cannot verify: {:?}", verifying.err());
    };
    assert_eq!(signing.algorithm(), verifying.algorithm());
    assert_eq!(signing.kid(), verifying.kid());
    if matches!(signing.algorithm(), Algorithm::ES256 | Algorithm::RS256) && deterministic() {
        assert_eq!(
            signing.public_jwk().map(|j| j.thumbprint().ok()),
            verifying.public_jwk().map(|j| j.thumbprint().ok()),
            "the signing key's public half is not the verifying key"
        );
        return;
    }
    let now = UnixTime::from_secs(1_800_000_000);
    let claims = json!({"iss": "i", "aud": "a", "exp": now.as_secs() + 60});
    let token = encode(&Header::new().typ("JWT"), &claims, &signing).expect("signs");
    let policy = Validator::builder().issuer("i").audience("a").build();
    let mut verifiers = vec![verifying, signing.verifying_key()];
    if let Some(public) = signing.public_jwk() {
        verifiers.push(VerifyingKey::from_jwk(&public).expect("own public JWK imports"));
    }
    for key in verifiers {
        let keys = KeySet::from(key);
        if let Err(e) = keys.verify::<serde_json::Value>(&token, &policy, now) {
            panic!("a token signed with a JWK's key does not verify: {e}");
        }
    }
}

/// Whether this is a run that must be the same every time.
fn deterministic() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("PASSCARD_FUZZ_DETERMINISTIC").is_some())
}

fn set_round_trip(set: &JwkSet) {
    let Ok(keys) = KeySet::from_jwks(set) else {
        return;
    };
    let published = keys.public_jwks();
    let json = serde_json::to_string(&published).expect("a JWK Set serializes");
    let again = JwkSet::from_json(&json).expect("the published set re-parses");
    let again = KeySet::from_jwks(&again).expect("the published set makes keys");
    let public: Vec<_> = keys
        .iter()
        .filter(|k| k.public_jwk().is_some())
        .map(|k| (k.kid().to_owned(), k.algorithm()))
        .collect();
    let republished: Vec<_> = again
        .iter()
        .map(|k| (k.kid().to_owned(), k.algorithm()))
        .collect();
    assert_eq!(public, republished);
}
