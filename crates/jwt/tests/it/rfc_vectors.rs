use std::time::Duration;

use passcard_jwt::{Algorithm, Error, KeySet, SigningKey, UnixTime, Validator, VerifyingKey};

use crate::{fixture, jwk_of};

/// RFC 7515's example tokens expire at 1300819380 (2011-03-22); time is an
/// input, so they are verified as of shortly before.
const BEFORE_EXP: UnixTime = UnixTime::from_secs(1_300_819_000);
const EXP: u64 = 1_300_819_380;

fn joe() -> Validator {
    Validator::builder().issuer("joe").any_audience().build()
}

fn check_example_claims(keys: &KeySet, token: &str) {
    let v = keys
        .verify::<serde_json::Value>(token, &joe(), BEFORE_EXP)
        .unwrap();
    assert_eq!(v.claims["iss"], "joe");
    assert_eq!(v.claims["http://example.com/is_root"], true);
    assert_eq!(v.exp.unwrap().as_secs(), EXP);
}

#[test]
fn rfc7515_a1_hs256() {
    let f = fixture("rfc7515_a1_hs256.json");
    let mut jwk = jwk_of(&f["jwk"]);
    // An oct JWK must name its algorithm: a key is bound to one.
    assert!(matches!(
        VerifyingKey::from_jwk(&jwk),
        Err(Error::InvalidJwk(_))
    ));
    jwk.alg = Some("HS256".into());
    let keys = KeySet::from(VerifyingKey::from_jwk(&jwk).unwrap());
    let token = f["token"].as_str().unwrap();
    check_example_claims(&keys, token);

    // Expiry boundary: valid until now - leeway >= exp.
    let strict = Validator::builder()
        .issuer("joe")
        .any_audience()
        .leeway(Duration::ZERO)
        .build();
    let at = UnixTime::from_secs;
    assert!(
        keys.verify::<serde_json::Value>(token, &strict, at(EXP - 1))
            .is_ok()
    );
    let err = keys
        .verify::<serde_json::Value>(token, &strict, at(EXP))
        .unwrap_err();
    assert!(matches!(err, Error::Expired { .. }), "{err}");
    assert!(
        keys.verify::<serde_json::Value>(token, &joe(), at(EXP + 29))
            .is_ok()
    );
    assert!(
        keys.verify::<serde_json::Value>(token, &joe(), at(EXP + 30))
            .unwrap_err()
            .is_expired()
    );
}

#[test]
fn rfc7515_a2_rs256() {
    let f = fixture("rfc7515_a2_rs256.json");
    let jwk = jwk_of(&f["jwk"]);
    let public = jwk.to_public().unwrap();
    assert!(!public.is_private());
    let keys = KeySet::from(VerifyingKey::from_jwk(&public).unwrap());
    check_example_claims(&keys, f["token"].as_str().unwrap());

    // The private key imports, signs, and its signatures verify.
    let signing = SigningKey::from_jwk(&jwk).unwrap();
    assert_eq!(signing.algorithm(), Algorithm::RS256);
    let token = passcard_jwt::encode(
        &passcard_jwt::Header::new(),
        &serde_json::json!({"iss": "joe", "exp": EXP}),
        &signing,
    )
    .unwrap();
    assert!(
        KeySet::from(signing.verifying_key())
            .verify::<serde_json::Value>(&token, &joe(), BEFORE_EXP)
            .is_ok()
    );
}

#[test]
fn rfc7515_a3_es256() {
    let f = fixture("rfc7515_a3_es256.json");
    let jwk = jwk_of(&f["jwk"]);
    let keys = KeySet::from(VerifyingKey::from_jwk(&jwk).unwrap());
    assert_eq!(keys.iter().next().unwrap().algorithm(), Algorithm::ES256);
    check_example_claims(&keys, f["token"].as_str().unwrap());
    // And the private key signs.
    SigningKey::from_jwk(&jwk).unwrap();
}

#[test]
fn rfc7515_a4_es512_is_unsupported() {
    let f = fixture("rfc7515_a4_es512.json");
    let jwk = jwk_of(&f["jwk"]);
    assert!(matches!(
        VerifyingKey::from_jwk(&jwk),
        Err(Error::InvalidJwk(_))
    ));
    // Whatever keys a verifier holds, the token's alg is refused cleanly.
    let keys = KeySet::from(
        SigningKey::generate(Algorithm::ES256)
            .unwrap()
            .verifying_key(),
    );
    let err = keys
        .verify::<serde_json::Value>(f["token"].as_str().unwrap(), &joe(), BEFORE_EXP)
        .unwrap_err();
    assert!(
        matches!(&err, Error::UnsupportedAlgorithm(a) if a == "ES512"),
        "{err}"
    );
}

#[test]
fn rfc8037_ed25519() {
    let f = fixture("rfc8037_ed25519.json");
    let private = jwk_of(&f["jwk"]);
    let public = jwk_of(&f["public_jwk"]);
    assert_eq!(public.thumbprint().unwrap(), f["thumbprint"]);
    assert_eq!(private.thumbprint().unwrap(), f["thumbprint"]);

    let key = VerifyingKey::from_jwk(&public).unwrap();
    assert_eq!(key.algorithm(), Algorithm::EdDSA);
    // Without a kid in the JWK, the kid is the RFC 7638 thumbprint.
    assert_eq!(key.kid(), f["thumbprint"]);
    let keys = KeySet::from(key);
    // The A.4 payload is text, not JWT claims: check the JWS signature only.
    let jws = keys.verify_jws(f["token"].as_str().unwrap(), 8192).unwrap();
    assert_eq!(jws.payload, b"Example of Ed25519 signing");
    // As a JWT it is refused, since its payload is not a JSON object.
    let err = keys
        .verify::<serde_json::Value>(f["token"].as_str().unwrap(), &joe(), BEFORE_EXP)
        .unwrap_err();
    assert!(matches!(err, Error::Malformed(_)), "{err}");

    // The private key matches the public one.
    let signing = SigningKey::from_jwk(&private).unwrap();
    assert_eq!(signing.public_jwk().unwrap().x, public.x);
}

#[test]
fn rfc7638_thumbprint() {
    let f = fixture("rfc7638_rsa.json");
    let jwk = jwk_of(&f["jwk"]);
    assert_eq!(jwk.thumbprint().unwrap(), f["thumbprint"]);
}
