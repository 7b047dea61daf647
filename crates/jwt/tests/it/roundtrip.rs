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

/// Any JSON value (no floats: those take serde_json's path), nested.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        "\\PC{0,12}".prop_map(serde_json::Value::from),
        // Escapes, quotes, control characters and astral characters.
        "[a\"\\\\\n\t\u{1}é\u{1F600}/]{0,6}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            proptest::collection::btree_map("[a-z\"é]{0,4}", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A typed claims type, as services write them.
#[derive(Debug, PartialEq, serde::Deserialize)]
struct Typed {
    sub: String,
    role: String,
    #[serde(default)]
    n: Option<i64>,
    #[serde(default)]
    tags: Vec<String>,
    exp: u64,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Verified claims are what serde_json reads from the same payload,
    /// whichever way passcard read them.
    #[test]
    fn verified_claims_are_what_serde_json_reads(
        extra in proptest::collection::btree_map("[a-z]{1,6}", json_value(), 0..6),
        n in proptest::option::of(any::<i64>()),
        tags in proptest::collection::vec("\\PC{0,6}", 0..3),
    ) {
        let key = &KEYS[0];
        let mut c = claims("42", "user", &Default::default());
        for (k, v) in &extra {
            c[format!("x-{k}")] = v.clone();
        }
        if let Some(n) = n {
            c["n"] = n.into();
        }
        c["tags"] = tags.into();
        let token = encode(&Header::new(), &c, key).unwrap();
        let keys = KeySet::from(key.verifying_key());
        let payload = serde_json::to_vec(&c).unwrap();
        let untyped = keys.verify::<serde_json::Value>(&token, &policy(), NOW).unwrap();
        prop_assert_eq!(untyped.claims, serde_json::from_slice::<serde_json::Value>(&payload).unwrap());
        let typed = keys.verify::<Typed>(&token, &policy(), NOW).unwrap();
        prop_assert_eq!(typed.claims, serde_json::from_slice::<Typed>(&payload).unwrap());
        prop_assert_eq!(typed.exp.map(|e| e.as_secs()), Some(NOW.as_secs() + 300));
    }
}
