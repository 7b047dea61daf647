//! Verifies the benchmark's typical HS256 token N times with passcard,
//! jsonwebtoken, the floor (raw HMAC + base64 + serde_json), or the raw HMAC
//! alone (`hmac`), or signs it with passcard (`sign`) or jsonwebtoken
//! (`sign-jsonwebtoken`), for instruction counting under callgrind, which (unlike
//! wall-clock time on a shared machine) repeats exactly:
//!
//! ```text
//! cargo build --release -p passcard-jwt --example verify_loop
//! for imp in passcard jsonwebtoken floor hmac sign sign-jsonwebtoken; do for n in 0 20000; do
//!   valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/examples/verify_loop $imp $n 2>&1 | grep refs; done; done
//! ```
//! Per-verify instructions = (refs at 20000 - refs at 0) / 20000.

#![allow(
    clippy::expect_used,
    reason = "measurement harness: a failure should stop the run"
)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use passcard_jwt::{
    Algorithm, Clock as _, Header, KeySet, SigningKey, SystemClock, Validator, encode,
};

#[path = "../benches/support/access.rs"]
mod access;
use access::{Access, access};

fn main() {
    let mut args = std::env::args().skip(1);
    let imp = args.next().unwrap_or_else(|| "passcard".into());
    let n: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(1);
    let now = SystemClock::new().now();
    let claims = access(now.as_secs());
    let key = SigningKey::hmac(Algorithm::HS256, &[42; 32]).expect("key");
    let token = encode(&Header::new().typ("at+jwt"), &claims, &key).expect("encode");
    let keys = KeySet::from(key.verifying_key());
    let policy = Validator::builder()
        .issuer("https://auth.passcard.example")
        .audience("passcard")
        .typ("at+jwt")
        .require_sub()
        .require_jti()
        .build();
    let jkey = jsonwebtoken::DecodingKey::from_secret(&[42; 32]);
    let mut jv = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    jv.set_issuer(&["https://auth.passcard.example"]);
    jv.set_audience(&["passcard"]);
    let mut jh = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    jh.typ = Some("at+jwt".into());
    jh.kid = Some(key.kid().to_owned());
    let jekey = jsonwebtoken::EncodingKey::from_secret(&[42; 32]);
    let header = Header::new().typ("at+jwt");
    let hkey = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &[42; 32]);
    let dot = token.rfind('.').expect("dot");
    let (input, sig) = (
        token[..dot].to_owned(),
        URL_SAFE_NO_PAD.decode(&token[dot + 1..]).expect("sig"),
    );
    let mut ok = 0usize;
    for _ in 0..n {
        let t = std::hint::black_box(token.as_str());
        let r = match imp.as_str() {
            "passcard" => keys
                .verify::<Access>(t, &policy, now)
                .map(|v| v.claims.ver)
                .ok(),
            "jsonwebtoken" => jsonwebtoken::decode::<Access>(t, &jkey, &jv)
                .map(|d| d.claims.ver)
                .ok(),
            "sign" => encode(&header, std::hint::black_box(&claims), &key)
                .ok()
                .map(|t| u64::from(!t.is_empty()) * 7),
            "sign-jsonwebtoken" => jsonwebtoken::encode(&jh, std::hint::black_box(&claims), &jekey)
                .ok()
                .map(|t| u64::from(!t.is_empty()) * 7),
            "hmac" => ring::hmac::verify(&hkey, std::hint::black_box(input.as_bytes()), &sig)
                .ok()
                .map(|()| 7),
            _ => {
                let dot = t.rfind('.').expect("dot");
                let (input, sig) = (&t[..dot], &t[dot + 1..]);
                let sig = URL_SAFE_NO_PAD.decode(sig).expect("sig");
                ring::hmac::verify(&hkey, input.as_bytes(), &sig).expect("mac");
                let payload = URL_SAFE_NO_PAD
                    .decode(&input[input.find('.').expect("dot") + 1..])
                    .expect("payload");
                serde_json::from_slice::<Access>(&payload)
                    .map(|c| c.ver)
                    .ok()
            }
        };
        ok += usize::from(r == Some(7));
    }
    assert_eq!(ok, n);
}
