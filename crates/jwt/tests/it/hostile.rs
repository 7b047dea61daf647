use passcard_jwt::{Algorithm, Error, KeySet, SigningKey, UnixTime, Validator, VerifyingKey};

use super::hostile_table as table;
use table::{GOOD_CLAIMS, GOOD_HEADER, SECRET};

const NOW: UnixTime = UnixTime::from_secs(table::NOW_SECS);

/// HMAC-SHA-256 by ring: an implementation other than the one the keys
/// verify with.
fn ring_hmac(secret: &[u8], message: &[u8]) -> Vec<u8> {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    ring::hmac::sign(&key, message).as_ref().to_vec()
}

fn keys() -> KeySet {
    KeySet::from(
        VerifyingKey::hmac(Algorithm::HS256, SECRET)
            .unwrap()
            .with_kid("k1")
            .unwrap(),
    )
}

fn policy() -> Validator {
    Validator::builder()
        .issuer("passcard")
        .audience("passcard")
        .typ("at+jwt")
        .require_sub()
        .require_jti()
        .build()
}

fn hs256(secret: &[u8], header: &str, claims: &str) -> String {
    table::sign(ring_hmac, secret, header, claims)
}

fn signed(header: &str, claims: &str) -> String {
    hs256(SECRET, header, claims)
}

fn verify(token: &str) -> Result<serde_json::Value, Error> {
    keys()
        .verify::<serde_json::Value>(token, &policy(), NOW)
        .map(|v| v.claims)
}

#[test]
fn the_good_token_verifies() {
    let claims = verify(&signed(GOOD_HEADER, GOOD_CLAIMS)).unwrap();
    assert_eq!(claims["role"], "user");
}

#[test]
fn hostile_tokens_are_rejected_with_the_expected_error() {
    let cases = table::hostile(ring_hmac);
    let mut failures = Vec::new();
    for (name, token, expected) in &cases {
        match verify(token) {
            Ok(_) => failures.push(format!("{name}: accepted")),
            Err(e) if !expected(&e) => failures.push(format!("{name}: wrong error: {e}")),
            Err(_) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn edge_values_that_are_valid() {
    for (name, token) in table::valid(ring_hmac) {
        verify(&token).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn hs256_signed_with_a_public_key_is_an_algorithm_mismatch() {
    // The classic confusion attack: the verifier holds an RSA (or EC) public
    // key; the attacker HMACs a token with that key's public bytes.
    for alg in [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA] {
        let signing = SigningKey::generate(alg).unwrap().with_kid("pub").unwrap();
        let public = signing.public_jwk().unwrap();
        let keys = KeySet::from(signing.verifying_key());
        let public_bytes = serde_json::to_vec(&public).unwrap();
        for secret in [
            public_bytes.as_slice(),
            public.x.as_deref().unwrap_or("n").as_bytes(),
        ] {
            let token = hs256(
                secret,
                r#"{"alg":"HS256","kid":"pub","typ":"at+jwt"}"#,
                GOOD_CLAIMS,
            );
            let err = keys
                .verify::<serde_json::Value>(&token, &policy(), NOW)
                .unwrap_err();
            assert!(
                matches!(err, Error::AlgorithmMismatch { token: Algorithm::HS256, key } if key == alg),
                "{alg}: {err}"
            );
        }
    }
}

#[test]
fn token_without_kid_needs_a_single_key_set() {
    let token = signed(r#"{"alg":"HS256","typ":"at+jwt"}"#, GOOD_CLAIMS);
    verify(&token).unwrap();
    let two = KeySet::new(vec![
        VerifyingKey::hmac(Algorithm::HS256, SECRET)
            .unwrap()
            .with_kid("k1")
            .unwrap(),
        VerifyingKey::hmac(Algorithm::HS256, &[7; 32])
            .unwrap()
            .with_kid("k2")
            .unwrap(),
    ])
    .unwrap();
    let err = two
        .verify::<serde_json::Value>(&token, &policy(), NOW)
        .unwrap_err();
    assert!(matches!(err, Error::MissingKid { keys: 2 }), "{err}");
    let err = KeySet::default()
        .verify::<serde_json::Value>(&token, &policy(), NOW)
        .unwrap_err();
    assert!(matches!(err, Error::NoKeys), "{err}");
}

#[test]
fn errors_say_what_failed() {
    let err = verify(&signed(
        GOOD_HEADER,
        r#"{"exp":1799999000,"iss":"passcard","aud":"passcard","sub":"1","jti":"j"}"#,
    ))
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "token expired at 1799999000 (now 1800000000)"
    );
    assert_eq!(err.reason(), "expired");
    let err = verify(&"A".repeat(9000)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "token is 9000 bytes, over the 8192-byte limit"
    );
}

/// A claims type that ignores most members: what it skips is checked all
/// the same (duplicates inside an ignored object, too).
#[test]
fn members_a_claims_type_ignores_are_still_checked() {
    #[derive(Debug, serde::Deserialize)]
    struct Narrow {
        #[allow(dead_code, reason = "read by serde")]
        sub: String,
    }
    let narrow = |claims: &str| {
        keys()
            .verify::<Narrow>(&signed(GOOD_HEADER, claims), &policy(), NOW)
            .map(|_| ())
    };
    for (claims, name) in [
        (
            r#"{"iss":"passcard","aud":"passcard","sub":"42","jti":"j","exp":1800000300,"perm":{"a":1,"a":2}}"#,
            "a",
        ),
        (
            r#"{"iss":"passcard","aud":"passcard","sub":"42","jti":"j","exp":1800000300,"role":"user","role":"admin"}"#,
            "role",
        ),
        (
            r#"{"iss":"passcard","aud":"passcard","sub":"42","jti":"j","exp":1800000300,"x":[{"b":1,"b":1}]}"#,
            "b",
        ),
    ] {
        assert!(
            matches!(narrow(claims), Err(Error::DuplicateMember(n)) if n == name),
            "{claims}"
        );
    }
    let lone =
        r#"{"iss":"passcard","aud":"passcard","sub":"42","jti":"j","exp":1800000300,"x":"\ud800"}"#;
    assert!(matches!(narrow(lone), Err(Error::Malformed(_))));
    let ok = r#"{"iss":"passcard","aud":"passcard","sub":"42","jti":"j","exp":1800000300,"x":{"a":[1,{"c":null}]}}"#;
    narrow(ok).unwrap();
}
