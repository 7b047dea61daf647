use std::time::Duration;

use passcard_jwt::claims::{Audience, RegisteredClaims};
use passcard_jwt::{Algorithm, Error, Header, KeySet, SigningKey, UnixTime, Validator, encode};
use serde::{Deserialize, Serialize};

const NOW: UnixTime = UnixTime::from_secs(1_800_000_000);

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct AccessClaims {
    #[serde(flatten)]
    registered: RegisteredClaims,
    role: String,
    ver: u64,
}

fn claims(aud: Audience) -> AccessClaims {
    let mut registered = RegisteredClaims::default();
    registered.iss = Some("passcard".into());
    registered.aud = Some(aud);
    registered.sub = Some("42".into());
    registered.iat = Some(NOW.into());
    registered.exp = Some(NOW.saturating_add(Duration::from_secs(300)).into());
    registered.jti = Some("abc".into());
    AccessClaims {
        registered,
        role: "admin".into(),
        ver: 3,
    }
}

#[test]
fn custom_claims_round_trip_through_serde() {
    let key = SigningKey::generate(Algorithm::HS256).unwrap();
    let c = claims(Audience::Many(vec!["a".into(), "passcard".into()]));
    let token = encode(&Header::new().typ("at+jwt"), &c, &key).unwrap();
    let policy = Validator::builder()
        .issuer("passcard")
        .audience("passcard")
        .build();
    let v = KeySet::from(key.verifying_key())
        .verify::<AccessClaims>(&token, &policy, NOW)
        .unwrap();
    assert_eq!(v.claims, c);
    assert_eq!(v.alg, Algorithm::HS256);
    assert_eq!(&*v.kid, key.kid());
    assert_eq!(v.iat.unwrap().as_secs(), NOW.as_secs());
}

#[test]
fn claims_that_do_not_fit_the_type_are_an_error() {
    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct Needs {
        missing_field: String,
    }
    let key = SigningKey::generate(Algorithm::HS256).unwrap();
    let token = encode(
        &Header::new(),
        &claims(Audience::One("passcard".into())),
        &key,
    )
    .unwrap();
    let policy = Validator::builder().any_issuer().any_audience().build();
    let err = KeySet::from(key.verifying_key())
        .verify::<Needs>(&token, &policy, NOW)
        .unwrap_err();
    assert!(matches!(err, Error::Claims(_)), "{err}");
}

#[test]
fn issuers_and_audiences_accept_any_of_several() {
    let key = SigningKey::generate(Algorithm::HS256).unwrap();
    let token = encode(
        &Header::new(),
        &claims(Audience::One("passcard".into())),
        &key,
    )
    .unwrap();
    let keys = KeySet::from(key.verifying_key());
    let several = Validator::builder()
        .issuer("other")
        .issuer("passcard")
        .audience("x")
        .audience("passcard")
        .build();
    keys.verify::<serde_json::Value>(&token, &several, NOW)
        .unwrap();
    // An expected audience with a token that has none is refused.
    let mut no_aud = claims(Audience::One(String::new()));
    no_aud.registered.aud = None;
    let token = encode(&Header::new(), &no_aud, &key).unwrap();
    let err = keys
        .verify::<serde_json::Value>(&token, &several, NOW)
        .unwrap_err();
    assert!(matches!(err, Error::MissingClaim("aud")), "{err}");
    // any_audience accepts it.
    let any = Validator::builder()
        .issuer("passcard")
        .any_audience()
        .build();
    keys.verify::<serde_json::Value>(&token, &any, NOW).unwrap();
}

#[test]
fn leeway_is_explicit_and_exp_can_only_be_dropped_dangerously() {
    let key = SigningKey::generate(Algorithm::HS256).unwrap();
    let keys = KeySet::from(key.verifying_key());
    let token = encode(
        &Header::new(),
        &serde_json::json!({"exp": NOW.as_secs()}),
        &key,
    )
    .unwrap();
    let default = Validator::builder().any_issuer().any_audience().build();
    assert_eq!(default.leeway(), Duration::from_secs(30));
    keys.verify::<serde_json::Value>(&token, &default, NOW)
        .unwrap();
    let strict = Validator::builder()
        .any_issuer()
        .any_audience()
        .leeway(Duration::ZERO)
        .build();
    assert!(
        keys.verify::<serde_json::Value>(&token, &strict, NOW)
            .unwrap_err()
            .is_expired()
    );

    let forever = encode(&Header::new(), &serde_json::json!({"sub": "1"}), &key).unwrap();
    let err = keys
        .verify::<serde_json::Value>(&forever, &default, NOW)
        .unwrap_err();
    assert!(matches!(err, Error::MissingClaim("exp")), "{err}");
    let loose = Validator::builder()
        .any_issuer()
        .any_audience()
        .dangerous_allow_missing_exp()
        .build();
    keys.verify::<serde_json::Value>(&forever, &loose, NOW)
        .unwrap();
}

#[test]
fn policy_errors_come_before_expiry() {
    // An expired token from the wrong issuer says "wrong issuer", so only a
    // token that was otherwise acceptable is reported as expired.
    let key = SigningKey::generate(Algorithm::HS256).unwrap();
    let token = encode(
        &Header::new(),
        &serde_json::json!({"iss": "evil", "exp": 1}),
        &key,
    )
    .unwrap();
    let policy = Validator::builder()
        .issuer("passcard")
        .any_audience()
        .build();
    let err = KeySet::from(key.verifying_key())
        .verify::<serde_json::Value>(&token, &policy, NOW)
        .unwrap_err();
    assert!(matches!(err, Error::WrongIssuer), "{err}");
}

#[test]
fn encode_refuses_claims_that_are_not_a_clean_object() {
    let key = SigningKey::generate(Algorithm::HS256).unwrap();
    assert!(matches!(
        encode(&Header::new(), &vec![1, 2], &key),
        Err(Error::Encode(_))
    ));
    #[derive(Serialize)]
    struct Dup {
        exp: u64,
        #[serde(flatten)]
        extra: std::collections::BTreeMap<String, u64>,
    }
    let dup = Dup {
        exp: 1,
        extra: [("exp".to_owned(), 2)].into(),
    };
    assert!(matches!(
        encode(&Header::new(), &dup, &key),
        Err(Error::Encode(_))
    ));
}

#[test]
fn max_token_size_is_configurable() {
    let key = SigningKey::generate(Algorithm::HS256).unwrap();
    let token = encode(
        &Header::new(),
        &serde_json::json!({"exp": NOW.as_secs() + 60}),
        &key,
    )
    .unwrap();
    let small = Validator::builder()
        .any_issuer()
        .any_audience()
        .max_token_bytes(token.len() - 1)
        .build();
    let err = KeySet::from(key.verifying_key())
        .verify::<serde_json::Value>(&token, &small, NOW)
        .unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err}");
}

#[test]
fn headers_passcard_writes_are_checked_like_any_other() {
    // These headers take the pre-encoded fast path; the policy still applies.
    let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let keys = KeySet::from(key.verifying_key());
    let policy = Validator::builder()
        .any_issuer()
        .any_audience()
        .typ("at+jwt")
        .build();
    let body = serde_json::json!({"exp": NOW.as_secs() + 60});
    for (header, ok) in [
        (Header::new().typ("at+jwt"), true),
        (Header::new().typ("JWT"), false),
        (Header::new(), false),
        (Header::new().typ("application/at+jwt"), true),
    ] {
        let token = encode(&header, &body, &key).unwrap();
        let r = keys.verify::<serde_json::Value>(&token, &policy, NOW);
        assert_eq!(r.is_ok(), ok, "{header:?}: {r:?}");
        if !ok {
            assert!(matches!(r, Err(Error::WrongType)));
        }
        // A flipped signature byte still fails on the fast path.
        let mut bad = token.into_bytes();
        let last = bad.len() - 2;
        bad[last] = if bad[last] == b'A' { b'B' } else { b'A' };
        let bad = String::from_utf8(bad).unwrap();
        assert!(
            keys.verify::<serde_json::Value>(&bad, &policy, NOW)
                .is_err()
        );
    }
    // Another key's header is not recognised as this key's.
    let other = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let token = encode(&Header::new().typ("at+jwt"), &body, &other).unwrap();
    assert!(matches!(
        keys.verify::<serde_json::Value>(&token, &policy, NOW),
        Err(Error::UnknownKid(_))
    ));
}
