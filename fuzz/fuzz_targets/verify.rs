//! Arbitrary bytes as a compact token: verification and unverified decoding
//! must never panic, and nothing but a correctly signed token may verify.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use passcard_jwt::{Algorithm, KeySet, UnixTime, Validator, VerifyingKey};

static KEYS: LazyLock<KeySet> = LazyLock::new(|| {
    KeySet::from(
        VerifyingKey::hmac(Algorithm::HS256, b"fuzzing secret, 32 bytes or more")
            .expect("key")
            .with_kid("k1"),
    )
});

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let policy = Validator::builder().any_issuer().any_audience().build();
    let now = UnixTime::from_secs(1_800_000_000);
    let _ = KEYS.verify::<serde_json::Value>(token, &policy, now);
    let _ = KEYS.verify_jws(token, 8192);
    let _ = passcard_jwt::dangerous::decode_unverified(token);
});
