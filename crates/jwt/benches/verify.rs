//! passcard-jwt against jsonwebtoken and the raw primitives, on the same
//! typical access token, in the same run.
//!
//! Run: `cargo bench -p passcard-jwt --bench verify` (add `-- --quick` for a
//! fast pass). Groups:
//! * `hs256_verify_decode`: passcard, jsonwebtoken, and the floor, written
//!   by hand: ring's HMAC over the signing input, the base64 crate, serde_json
//!   into the same claims type (no checks beyond what that needs).
//! * `hs256_sign`: passcard and jsonwebtoken.
//! * `eddsa_verify`, `es256_verify`, `rs256_verify`: passcard (full verify
//!   and decode), jsonwebtoken, and the raw primitive (aws-lc-rs signature
//!   check alone, on a pre-parsed key).
//! * `provider`: ring against aws-lc-rs on the raw primitives, the
//!   measurement behind the choice of aws-lc-rs.

#![allow(
    clippy::unwrap_used,
    reason = "benchmark harness: a failure should stop the run"
)]

use std::hint::black_box;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group, criterion_main};
use passcard_jwt::{
    Algorithm, Clock as _, Header, KeySet, SigningKey, SystemClock, UnixTime, Validator, encode,
};

#[path = "support/access.rs"]
mod access;
use access::{Access, access};

fn b64d(s: &Option<String>) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(s.as_deref().unwrap()).unwrap()
}

struct Case {
    token: String,
    keys: KeySet,
    jwt_key: jsonwebtoken::DecodingKey,
    jwt_validation: jsonwebtoken::Validation,
}

impl Case {
    /// The passcard and jsonwebtoken lines of a verify group.
    fn bench_both(
        &self,
        g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
        policy: &Validator,
        now: UnixTime,
    ) {
        g.bench_function("passcard", |b| {
            b.iter(|| {
                self.keys
                    .verify::<Access>(black_box(&self.token), policy, now)
                    .unwrap()
            })
        });
        g.bench_function("jsonwebtoken", |b| {
            b.iter(|| {
                jsonwebtoken::decode::<Access>(
                    black_box(&self.token),
                    &self.jwt_key,
                    &self.jwt_validation,
                )
                .unwrap()
            })
        });
    }
}

fn case(alg: Algorithm, now: UnixTime) -> (Case, SigningKey) {
    let key = SigningKey::generate(alg).unwrap();
    let token = encode(&Header::new().typ("at+jwt"), &access(now.as_secs()), &key).unwrap();
    let public = key.public_jwk();
    let (jwt_alg, jwt_key) = match alg {
        Algorithm::HS256 => (
            jsonwebtoken::Algorithm::HS256,
            jsonwebtoken::DecodingKey::from_secret(key.secret().unwrap()),
        ),
        Algorithm::EdDSA => (
            jsonwebtoken::Algorithm::EdDSA,
            jsonwebtoken::DecodingKey::from_ed_components(
                public.as_ref().unwrap().x.as_deref().unwrap(),
            )
            .unwrap(),
        ),
        Algorithm::ES256 => {
            let p = public.as_ref().unwrap();
            (
                jsonwebtoken::Algorithm::ES256,
                jsonwebtoken::DecodingKey::from_ec_components(
                    p.x.as_deref().unwrap(),
                    p.y.as_deref().unwrap(),
                )
                .unwrap(),
            )
        }
        Algorithm::RS256 => {
            let p = public.as_ref().unwrap();
            (
                jsonwebtoken::Algorithm::RS256,
                jsonwebtoken::DecodingKey::from_rsa_components(
                    p.n.as_deref().unwrap(),
                    p.e.as_deref().unwrap(),
                )
                .unwrap(),
            )
        }
        _ => unreachable!(),
    };
    let mut v = jsonwebtoken::Validation::new(jwt_alg);
    v.set_issuer(&["https://auth.passcard.example"]);
    v.set_audience(&["passcard"]);
    // Sanity: both accept the token.
    jsonwebtoken::decode::<Access>(&token, &jwt_key, &v).unwrap();
    let c = Case {
        token,
        keys: KeySet::from(key.verifying_key()),
        jwt_key,
        jwt_validation: v,
    };
    (c, key)
}

fn policy() -> Validator {
    Validator::builder()
        .issuer("https://auth.passcard.example")
        .audience("passcard")
        .typ("at+jwt")
        .require_sub()
        .require_jti()
        .build()
}

fn hs256(c: &mut Criterion) {
    let now = SystemClock::new().now();
    let (case, key) = case(Algorithm::HS256, now);
    let policy = policy();
    case.keys
        .verify::<Access>(&case.token, &policy, now)
        .unwrap();
    println!("typical token: {} bytes", case.token.len());

    let mut g = c.benchmark_group("hs256_verify_decode");
    case.bench_both(&mut g, &policy, now);
    let hkey = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key.secret().unwrap());
    g.bench_function("floor", |b| {
        b.iter(|| {
            let t = black_box(&case.token);
            let dot = t.rfind('.').unwrap();
            let (input, sig) = (&t[..dot], &t[dot + 1..]);
            let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
            ring::hmac::verify(&hkey, input.as_bytes(), &sig).unwrap();
            let payload = URL_SAFE_NO_PAD
                .decode(&input[input.find('.').unwrap() + 1..])
                .unwrap();
            serde_json::from_slice::<Access>(&payload).unwrap()
        })
    });
    g.finish();

    let claims = access(now.as_secs());
    let mut jh = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    jh.typ = Some("at+jwt".into());
    jh.kid = Some(key.kid().to_owned());
    let jkey = jsonwebtoken::EncodingKey::from_secret(key.secret().unwrap());
    let header = Header::new().typ("at+jwt");
    let mut g = c.benchmark_group("hs256_sign");
    g.bench_function("passcard", |b| {
        b.iter(|| encode(&header, black_box(&claims), &key).unwrap())
    });
    g.bench_function("jsonwebtoken", |b| {
        b.iter(|| jsonwebtoken::encode(&jh, black_box(&claims), &jkey).unwrap())
    });
    g.finish();
}

fn asymmetric(c: &mut Criterion) {
    let now = SystemClock::new().now();
    let policy = policy();
    for (alg, group, raw_alg) in [
        (
            Algorithm::EdDSA,
            "eddsa_verify",
            &aws_lc_rs::signature::ED25519
                as &'static dyn aws_lc_rs::signature::VerificationAlgorithm,
        ),
        (
            Algorithm::ES256,
            "es256_verify",
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED,
        ),
        (
            Algorithm::RS256,
            "rs256_verify",
            &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
        ),
    ] {
        let (case, key) = case(alg, now);
        case.keys
            .verify::<Access>(&case.token, &policy, now)
            .unwrap();
        let p = key.public_jwk().unwrap();
        let raw = match alg {
            Algorithm::EdDSA => {
                aws_lc_rs::signature::ParsedPublicKey::new(raw_alg, b64d(&p.x)).unwrap()
            }
            Algorithm::ES256 => {
                let mut point = vec![4];
                point.extend(b64d(&p.x));
                point.extend(b64d(&p.y));
                aws_lc_rs::signature::ParsedPublicKey::new(raw_alg, point).unwrap()
            }
            _ => aws_lc_rs::rsa::PublicKeyComponents {
                n: b64d(&p.n),
                e: b64d(&p.e),
            }
            .to_parsed_public_key(&aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256)
            .unwrap(),
        };
        let dot = case.token.rfind('.').unwrap();
        let input = case.token.as_bytes()[..dot].to_vec();
        let sig = URL_SAFE_NO_PAD.decode(&case.token[dot + 1..]).unwrap();

        let mut g = c.benchmark_group(group);
        case.bench_both(&mut g, &policy, now);
        g.bench_function("raw_primitive", |b| {
            b.iter(|| raw.verify_sig(black_box(&input), &sig).unwrap())
        });
        g.finish();
    }
}

fn provider(c: &mut Criterion) {
    let msg = vec![0x61u8; 300];
    let secret = [7u8; 32];
    let mut g = c.benchmark_group("provider");
    let a = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &secret);
    let r = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &secret);
    let tag = ring::hmac::sign(&r, &msg);
    g.bench_function("hmac_sha256_verify/aws-lc-rs", |b| {
        b.iter(|| aws_lc_rs::hmac::verify(&a, black_box(&msg), tag.as_ref()).unwrap())
    });
    g.bench_function("hmac_sha256_verify/ring", |b| {
        b.iter(|| ring::hmac::verify(&r, black_box(&msg), tag.as_ref()).unwrap())
    });

    use aws_lc_rs::signature::KeyPair as _;
    let ed = aws_lc_rs::signature::Ed25519KeyPair::generate().unwrap();
    let sig = ed.sign(&msg);
    let pk = ed.public_key().as_ref().to_vec();
    let a =
        aws_lc_rs::signature::ParsedPublicKey::new(&aws_lc_rs::signature::ED25519, &pk).unwrap();
    let r = ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, &pk);
    g.bench_function("ed25519_verify/aws-lc-rs", |b| {
        b.iter(|| a.verify_sig(black_box(&msg), sig.as_ref()).unwrap())
    });
    g.bench_function("ed25519_verify/ring", |b| {
        b.iter(|| r.verify(black_box(&msg), sig.as_ref()).unwrap())
    });
    g.bench_function("ed25519_sign/aws-lc-rs", |b| {
        b.iter(|| ed.sign(black_box(&msg)))
    });
    let ring_ed = ring::signature::Ed25519KeyPair::from_seed_and_public_key(
        ed.seed().unwrap().as_be_bytes_seed().as_ref(),
        &pk,
    )
    .unwrap();
    g.bench_function("ed25519_sign/ring", |b| {
        b.iter(|| ring_ed.sign(black_box(&msg)))
    });

    let rsa = SigningKey::generate(Algorithm::RS256).unwrap();
    let p = rsa.public_jwk().unwrap();
    let token = encode(&Header::new(), &serde_json::json!({"exp": 1}), &rsa).unwrap();
    let dot = token.rfind('.').unwrap();
    let (input, sig) = (
        &token.as_bytes()[..dot],
        URL_SAFE_NO_PAD.decode(&token[dot + 1..]).unwrap(),
    );
    let a = aws_lc_rs::rsa::PublicKeyComponents {
        n: b64d(&p.n),
        e: b64d(&p.e),
    }
    .to_parsed_public_key(&aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256)
    .unwrap();
    let r = ring::signature::RsaPublicKeyComponents {
        n: b64d(&p.n),
        e: b64d(&p.e),
    };
    g.bench_function("rsa2048_verify/aws-lc-rs", |b| {
        b.iter(|| a.verify_sig(black_box(input), &sig).unwrap())
    });
    g.bench_function("rsa2048_verify/ring", |b| {
        b.iter(|| {
            r.verify(
                &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                black_box(input),
                &sig,
            )
            .unwrap()
        })
    });
    g.finish();
}

trait SeedBytes {
    fn as_be_bytes_seed(&self) -> Vec<u8>;
}
impl SeedBytes for aws_lc_rs::signature::Ed25519Seed<'_> {
    fn as_be_bytes_seed(&self) -> Vec<u8> {
        use aws_lc_rs::encoding::AsBigEndian;
        let bin: aws_lc_rs::encoding::Curve25519SeedBin<'_> = self.as_be_bytes().unwrap();
        bin.as_ref().to_vec()
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = hs256, asymmetric, provider
}
criterion_main!(benches);
