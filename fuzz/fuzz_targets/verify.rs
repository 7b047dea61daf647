//! The JWT verifier, two ways.
//!
//! * Input without a newline is a compact token as a request presents it:
//!   verification, JWS verification and unverified decoding must never
//!   panic, and nothing the key set did not sign may verify.
//! * Input `HEADER\nPAYLOAD` is a token the fuzzer writes and the set's
//!   HS256 key signs, so the header and claims parsers behind the
//!   signature check are reached: a token that verifies must meet the
//!   policy as serde_json reads its JSON (issuer, audience, type, times),
//!   its claims must be that JSON, and the same token with any one
//!   character changed, or signed with another secret, must not verify.
#![no_main]

use std::sync::LazyLock;

use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use passcard_jwt::{Algorithm, KeySet, UnixTime, Validator, VerifyingKey};
use serde_json::{Map, Value};

const SECRET: &[u8] = b"fuzzing secret, 32 bytes or more";
const OTHER: &[u8] = b"another secret, for HS384: 48 bytes or more .....";
const NOW: u64 = 1_800_000_000;
const LEEWAY: u64 = 30;
const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// The signer's key `k1` (HS256) beside an HS384 key `k2`.
static KEYS: LazyLock<KeySet> = LazyLock::new(|| {
    KeySet::new(vec![
        VerifyingKey::hmac(Algorithm::HS256, SECRET)
            .expect("key")
            .with_kid("k1")
            .expect("kid"),
        VerifyingKey::hmac(Algorithm::HS384, OTHER)
            .expect("key")
            .with_kid("k2")
            .expect("kid"),
    ])
    .expect("key set")
});

/// What passcard's own verifier asks of an access token.
static STRICT: LazyLock<Validator> = LazyLock::new(|| {
    Validator::builder()
        .issuer("passcard")
        .audience("passcard")
        .typ("at+jwt")
        .build()
});

static ANY: LazyLock<Validator> =
    LazyLock::new(|| Validator::builder().any_issuer().any_audience().build());

fuzz_target!(|data: &[u8]| {
    match data.iter().position(|&b| b == b'\n') {
        None => presented(data),
        Some(nl) => signed(&data[..nl], &data[nl + 1..]),
    }
});

/// A token as presented: whatever it is, nothing may panic, and it cannot
/// carry a valid HMAC under a secret the fuzzer never sees.
fn presented(data: &[u8]) {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let now = UnixTime::from_secs(NOW);
    let any = KEYS.verify::<Value>(token, &ANY, now);
    let strict = KEYS.verify::<Value>(token, &STRICT, now);
    let jws = KEYS.verify_jws(token, 8192);
    let _ = passcard_jwt::dangerous::decode_unverified(token);
    assert!(
        any.is_err() && strict.is_err() && jws.is_err(),
        "a token nobody signed verified: {token:?}"
    );
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn sign(secret: &[u8], header: &[u8], payload: &[u8]) -> String {
    let input = format!("{}.{}", b64(header), b64(payload));
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    let tag = ring::hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", b64(tag.as_ref()))
}

/// A token with a real signature over fuzzed header and claims bytes.
fn signed(header: &[u8], payload: &[u8]) {
    let now = UnixTime::from_secs(NOW);
    let token = sign(SECRET, header, payload);
    let any = KEYS.verify::<Value>(&token, &ANY, now);
    let strict = KEYS.verify::<Value>(&token, &STRICT, now);
    let jws = KEYS.verify_jws(&token, 8192);
    let unverified = passcard_jwt::dangerous::decode_unverified(&token);

    if let Ok(jws) = &jws {
        assert_eq!(jws.payload, payload, "verify_jws returned another payload");
        assert_eq!((jws.alg, &*jws.kid), (Algorithm::HS256, "k1"));
    }
    for verified in [&any, &strict].into_iter().flatten() {
        assert!(jws.is_ok(), "verify accepted a token verify_jws refuses");
        assert_eq!((verified.alg, &*verified.kid), (Algorithm::HS256, "k1"));
        let Ok(unverified) = &unverified else {
            panic!("verified, but decode_unverified refuses it: {unverified:?}");
        };
        let Ok(Value::Object(claims)) = serde_json::from_slice::<Value>(payload) else {
            panic!("verified claims that are not a JSON object to serde_json");
        };
        assert_eq!(verified.claims, Value::Object(claims.clone()));
        assert_eq!(unverified.claims, claims);
        meets_time_rules(&claims);
    }
    if let Ok(verified) = &strict {
        let header: Map<String, Value> = serde_json::from_slice(header).expect("header is JSON");
        let typ = header.get("typ").and_then(Value::as_str).unwrap_or("");
        let typ = typ
            .get(..12)
            .filter(|p| p.eq_ignore_ascii_case("application/"))
            .map_or(typ, |_| &typ[12..]);
        assert!(typ.eq_ignore_ascii_case("at+jwt"), "typ {typ:?} accepted");
        let Value::Object(claims) = &verified.claims else {
            unreachable!()
        };
        assert_eq!(claims.get("iss"), Some(&Value::from("passcard")));
        let aud_ok = match claims.get("aud") {
            Some(Value::String(a)) => a == "passcard",
            Some(Value::Array(items)) => items.iter().any(|a| a == "passcard"),
            _ => false,
        };
        assert!(aud_ok, "audience {:?} accepted", claims.get("aud"));
    }

    // The same token with one character changed: never valid.
    if !token.is_empty() {
        let i = (payload.len() * 31 + header.len()) % token.len();
        let mut bytes = token.clone().into_bytes();
        let c = bytes[i];
        bytes[i] = if c == b'.' {
            b'A'
        } else {
            ALPHABET[(ALPHABET.iter().position(|&a| a == c).unwrap_or(0) + 1) % 64]
        };
        let changed = String::from_utf8(bytes).expect("ASCII");
        assert!(
            KEYS.verify::<Value>(&changed, &ANY, now).is_err(),
            "a changed token verified: {changed:?}"
        );
        assert!(KEYS.verify_jws(&changed, 8192).is_err());
    }
    // Signed with a secret the key set does not hold: never valid.
    let forged = sign(OTHER, header, payload);
    assert!(KEYS.verify::<Value>(&forged, &ANY, now).is_err());
    assert!(KEYS.verify_jws(&forged, 8192).is_err());
}

/// `exp` is there and not past, `nbf` and `iat` not ahead, as serde_json
/// reads them (with the default 30 s leeway).
fn meets_time_rules(claims: &Map<String, Value>) {
    #[allow(clippy::cast_precision_loss)]
    let (now, leeway) = (NOW as f64, LEEWAY as f64);
    let Some(exp) = claims.get("exp").and_then(Value::as_f64) else {
        panic!("verified without a numeric exp: {:?}", claims.get("exp"));
    };
    assert!(now - leeway < exp, "expired exp {exp} accepted");
    for name in ["nbf", "iat"] {
        if let Some(v) = claims.get(name) {
            let Some(t) = v.as_f64() else {
                panic!("verified with a non-numeric {name}: {v:?}");
            };
            assert!(t <= now + leeway, "{name} {t} in the future accepted");
        }
    }
}
