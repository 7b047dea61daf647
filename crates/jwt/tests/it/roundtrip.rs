use std::sync::LazyLock;

use passcard_jwt::{Algorithm, Header, KeySet, SigningKey, UnixTime, Validator, encode};
use proptest::prelude::*;

const NOW: UnixTime = UnixTime::from_secs(1_800_000_000);

static KEYS: LazyLock<Vec<SigningKey>> = LazyLock::new(|| {
    Algorithm::ALL
        .iter()
        .map(|&a| SigningKey::generate(a).unwrap())
        .collect()
});

fn policy() -> Validator {
    Validator::builder()
        .issuer("passcard")
        .audience("api")
        .build()
}

fn claims(
    sub: &str,
    role: &str,
    extra: &std::collections::BTreeMap<String, i64>,
) -> serde_json::Value {
    let mut c = serde_json::json!({
        "iss": "passcard", "aud": "api", "sub": sub, "role": role,
        "iat": NOW.as_secs(), "exp": NOW.as_secs() + 300,
    });
    for (k, v) in extra {
        c[format!("x-{k}")] = (*v).into();
    }
    c
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn encode_then_verify_round_trips(
        key in 0..Algorithm::ALL.len(),
        sub in "\\PC{0,40}",
        role in "[a-z]{1,12}",
        extra in proptest::collection::btree_map("[a-z]{1,8}", any::<i64>(), 0..5),
    ) {
        let key = &KEYS[key];
        let c = claims(&sub, &role, &extra);
        let token = encode(&Header::new().typ("at+jwt"), &c, key).unwrap();
        let keys = KeySet::from(key.verifying_key());
        let v = keys.verify::<serde_json::Value>(&token, &policy(), NOW).unwrap();
        prop_assert_eq!(v.claims, c);
    }

    #[test]
    fn any_one_byte_change_fails(
        key in 0..Algorithm::ALL.len(),
        pos in any::<proptest::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let key = &KEYS[key];
        let token = encode(&Header::new(), &claims("42", "user", &Default::default()), key).unwrap();
        let mut bytes = token.into_bytes();
        let i = pos.index(bytes.len());
        prop_assume!(bytes[i] != byte);
        bytes[i] = byte;
        let Ok(mutated) = String::from_utf8(bytes) else { return Ok(()) };
        let keys = KeySet::from(key.verifying_key());
        prop_assert!(keys.verify::<serde_json::Value>(&mutated, &policy(), NOW).is_err());
    }

    #[test]
    fn any_truncation_fails(key in 0..Algorithm::ALL.len(), cut in any::<proptest::sample::Index>()) {
        let key = &KEYS[key];
        let token = encode(&Header::new(), &claims("42", "user", &Default::default()), key).unwrap();
        let keys = KeySet::from(key.verifying_key());
        let cut = cut.index(token.len());
        prop_assert!(keys.verify::<serde_json::Value>(&token[..cut], &policy(), NOW).is_err());
    }

    #[test]
    fn arbitrary_input_never_panics(s in "\\PC{0,300}") {
        let keys = KeySet::from(KEYS[0].verifying_key());
        let _ = keys.verify::<serde_json::Value>(&s, &policy(), NOW);
        let _ = passcard_jwt::dangerous::decode_unverified(&s);
    }

    #[test]
    fn dotted_base64_garbage_never_panics(a in "[A-Za-z0-9_-]{0,60}", b in "[A-Za-z0-9_-]{0,60}", c in "[A-Za-z0-9_-]{0,90}") {
        let keys = KeySet::from(KEYS[0].verifying_key());
        let _ = keys.verify::<serde_json::Value>(&format!("{a}.{b}.{c}"), &policy(), NOW);
    }
}

#[test]
fn every_single_byte_change_of_one_token_fails() {
    // Exhaustive over positions for one HS256 and one EdDSA token.
    for key in [&KEYS[0], &KEYS[3]] {
        let token = encode(
            &Header::new(),
            &claims("42", "user", &Default::default()),
            key,
        )
        .unwrap();
        let keys = KeySet::from(key.verifying_key());
        for i in 0..token.len() {
            for replacement in [b'A', b'x', b'-', b'.', b'='] {
                let mut bytes = token.clone().into_bytes();
                if bytes[i] == replacement {
                    continue;
                }
                bytes[i] = replacement;
                let mutated = String::from_utf8(bytes).unwrap();
                assert!(
                    keys.verify::<serde_json::Value>(&mutated, &policy(), NOW)
                        .is_err(),
                    "accepted with byte {i} set to {}",
                    replacement as char
                );
            }
        }
    }
}
