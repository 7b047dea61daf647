//! Every call into the cryptographic providers lives here, each primitive
//! from the one measured fastest (`benches/verify.rs`, group `provider`):
//!
//! * HMAC from ring: 348 ns against aws-lc-rs's 362 ns per 300-byte verify
//!   on this project's AMD EPYC (SHA extensions), and 374 ns against 567 ns
//!   on a CPU without them, where the MAC is most of an HS256 verification;
//! * Ed25519, ECDSA and RSA from aws-lc-rs: faster on every one (Ed25519
//!   verify 50 µs against 76 µs), and it can generate RSA keys; also the
//!   digest and the random numbers.
//!
//! Swapping a provider means rewriting this one module.

use aws_lc_rs::encoding::AsBigEndian;
use aws_lc_rs::signature::{self, KeyPair as _, ParsedPublicKey};
use aws_lc_rs::{digest, rand, rsa};
use ring::hmac;
use zeroize::Zeroizing;

use crate::alg::Algorithm;
use crate::der::RsaParts;
use crate::error::Error;

/// Precomputed signing state.
#[allow(
    clippy::large_enum_variant,
    reason = "few, long-lived keys; the HMAC state inline saves a pointer chase per token"
)]
pub(crate) enum Signer {
    /// HMAC, with the key schedule (inner and outer pads) already hashed.
    Hmac(hmac::Key),
    Ed25519(signature::Ed25519KeyPair),
    Es256(signature::EcdsaKeyPair),
    Rs256(Box<rsa::KeyPair>),
}

/// Precomputed verification state: the HMAC key schedule, or a public key
/// parsed once (no per-token key parsing).
#[derive(Clone)]
#[allow(
    clippy::large_enum_variant,
    reason = "few, long-lived keys; the HMAC state inline saves a pointer chase per token"
)]
pub(crate) enum Verifier {
    Hmac(hmac::Key),
    Public(ParsedPublicKey),
}

fn hmac_alg(alg: Algorithm) -> hmac::Algorithm {
    match alg {
        Algorithm::HS384 => hmac::HMAC_SHA384,
        Algorithm::HS512 => hmac::HMAC_SHA512,
        _ => hmac::HMAC_SHA256,
    }
}

pub(crate) fn hmac_key(alg: Algorithm, secret: &[u8]) -> hmac::Key {
    hmac::Key::new(hmac_alg(alg), secret)
}

/// The HMAC of `data` under `secret` with `alg`'s hash.
pub(crate) fn hmac_tag(alg: Algorithm, secret: &[u8], data: &[u8]) -> Vec<u8> {
    hmac::sign(&hmac_key(alg, secret), data).as_ref().to_vec()
}

pub(crate) fn random(out: &mut [u8]) -> Result<(), Error> {
    rand::fill(out).map_err(|_| Error::Rng)
}

pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, data);
    let mut out = [0; 32];
    out.copy_from_slice(d.as_ref());
    out
}

impl Signer {
    /// Signs `input` into `out`, returning the signature length.
    pub(crate) fn sign(&self, input: &[u8]) -> Result<SigBytes, Error> {
        let rng = rand::SystemRandom::new();
        Ok(match self {
            Self::Hmac(key) => SigBytes::from(hmac::sign(key, input).as_ref()),
            Self::Ed25519(kp) => SigBytes::from(kp.sign(input).as_ref()),
            Self::Es256(kp) => {
                SigBytes::from(kp.sign(&rng, input).map_err(|_| Error::Rng)?.as_ref())
            }
            Self::Rs256(kp) => {
                let mut sig = vec![0; kp.public_modulus_len()];
                kp.sign(&signature::RSA_PKCS1_SHA256, &rng, input, &mut sig)
                    .map_err(|_| Error::InvalidKey("RSA signing failed"))?;
                SigBytes::Heap(sig)
            }
        })
    }
}

/// A signature, on the stack unless it is an RSA one.
pub(crate) enum SigBytes {
    Inline([u8; 64], usize),
    Heap(Vec<u8>),
}

impl From<&[u8]> for SigBytes {
    fn from(s: &[u8]) -> Self {
        if s.len() <= 64 {
            let mut buf = [0; 64];
            buf[..s.len()].copy_from_slice(s);
            Self::Inline(buf, s.len())
        } else {
            Self::Heap(s.to_vec())
        }
    }
}

impl AsRef<[u8]> for SigBytes {
    fn as_ref(&self) -> &[u8] {
        match self {
            Self::Inline(buf, n) => &buf[..*n],
            Self::Heap(v) => v,
        }
    }
}

impl Verifier {
    /// Checks `sig` over `input`; HMAC tags are compared in constant time.
    #[inline]
    pub(crate) fn verify(&self, input: &[u8], sig: &[u8]) -> bool {
        match self {
            Self::Hmac(key) => hmac::verify(key, input, sig).is_ok(),
            Self::Public(key) => key.verify_sig(input, sig).is_ok(),
        }
    }
}

// Ed25519 ------------------------------------------------------------------

pub(crate) fn ed25519_generate() -> Result<(Zeroizing<Vec<u8>>, Vec<u8>), Error> {
    let kp = signature::Ed25519KeyPair::generate().map_err(|_| Error::Rng)?;
    let seed = kp
        .seed()
        .and_then(|s| s.as_be_bytes())
        .map_err(|_| Error::InvalidKey("cannot export Ed25519 seed"))?;
    Ok((
        Zeroizing::new(seed.as_ref().to_vec()),
        kp.public_key().as_ref().to_vec(),
    ))
}

pub(crate) fn ed25519_signer(d: &[u8], x: &[u8]) -> Result<Signer, Error> {
    signature::Ed25519KeyPair::from_seed_and_public_key(d, x)
        .map(Signer::Ed25519)
        .map_err(|_| Error::InvalidKey("Ed25519 private key does not match its public key"))
}

/// Encodings of the Ed25519 points of small order (libsodium's blocklist,
/// compared with the sign bit of x cleared). With such a public key, forged
/// signatures verify (the identity point accepts R = identity, S = 0 for any
/// message), and aws-lc does not check for them.
const SMALL_ORDER: [[u8; 32]; 7] = {
    let mut t = [[0u8; 32]; 7];
    t[1][0] = 1;
    t[2] = [
        0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98,
        0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53,
        0xfc, 0x05,
    ];
    t[3] = [
        0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67,
        0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac,
        0x03, 0x7a,
    ];
    // p - 1, p, p + 1 (the last two non-canonical spellings of 0 and 1).
    let mut i = 4;
    while i < 7 {
        let mut j = 1;
        while j < 31 {
            t[i][j] = 0xff;
            j += 1;
        }
        t[i][31] = 0x7f;
        t[i][0] = 0xec + (i as u8 - 4);
        i += 1;
    }
    t
};

fn small_order(x: &[u8]) -> bool {
    SMALL_ORDER
        .iter()
        .any(|bad| bad[..31] == x[..31] && bad[31] == x[31] & 0x7f)
}

pub(crate) fn ed25519_verifier(x: &[u8]) -> Result<Verifier, Error> {
    if x.len() != 32 {
        return Err(Error::InvalidKey("Ed25519 public key must be 32 bytes"));
    }
    if small_order(x) {
        return Err(Error::InvalidKey(
            "Ed25519 public key is a point of small order",
        ));
    }
    ParsedPublicKey::new(&signature::ED25519, x)
        .map(Verifier::Public)
        .map_err(|_| Error::InvalidKey("bad Ed25519 public key"))
}

// ECDSA P-256 --------------------------------------------------------------

/// A generated P-256 key: private scalar and public coordinates.
pub(crate) struct EcParts {
    pub(crate) d: Zeroizing<Vec<u8>>,
    pub(crate) x: Vec<u8>,
    pub(crate) y: Vec<u8>,
}

pub(crate) fn es256_generate() -> Result<EcParts, Error> {
    let kp = signature::EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
        .map_err(|_| Error::Rng)?;
    let d = kp
        .private_key()
        .as_be_bytes()
        .map_err(|_| Error::InvalidKey("cannot export P-256 private key"))?;
    let point = kp.public_key().as_ref();
    // Uncompressed SEC1 point: 0x04 || x || y.
    if point.len() != 65 || point[0] != 4 {
        return Err(Error::InvalidKey("unexpected P-256 public key encoding"));
    }
    Ok(EcParts {
        d: Zeroizing::new(d.as_ref().to_vec()),
        x: point[1..33].to_vec(),
        y: point[33..].to_vec(),
    })
}

fn p256_point(x: &[u8], y: &[u8]) -> Result<[u8; 65], Error> {
    if x.len() != 32 || y.len() != 32 {
        return Err(Error::InvalidKey("P-256 coordinates must be 32 bytes each"));
    }
    let mut point = [4u8; 65];
    point[1..33].copy_from_slice(x);
    point[33..].copy_from_slice(y);
    Ok(point)
}

pub(crate) fn es256_signer(d: &[u8], x: &[u8], y: &[u8]) -> Result<Signer, Error> {
    if d.len() != 32 {
        return Err(Error::InvalidKey("P-256 private key must be 32 bytes"));
    }
    signature::EcdsaKeyPair::from_private_key_and_public_key(
        &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        d,
        &p256_point(x, y)?,
    )
    .map(Signer::Es256)
    .map_err(|_| Error::InvalidKey("P-256 private key does not match its public key"))
}

pub(crate) fn es256_verifier(x: &[u8], y: &[u8]) -> Result<Verifier, Error> {
    ParsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, p256_point(x, y)?)
        .map(Verifier::Public)
        .map_err(|_| Error::InvalidKey("P-256 point is not on the curve"))
}

// RSA ----------------------------------------------------------------------

pub(crate) fn rs256_generate() -> Result<RsaParts, Error> {
    use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
    let kp = rsa::KeyPair::generate(rsa::KeySize::Rsa2048).map_err(|_| Error::Rng)?;
    let der: Pkcs8V1Der<'static> = kp
        .as_der()
        .map_err(|_| Error::InvalidKey("cannot export RSA key"))?;
    crate::der::rsa_from_pkcs8(der.as_ref())
}

pub(crate) fn rs256_signer(parts: &RsaParts) -> Result<Signer, Error> {
    let private = parts
        .private
        .as_ref()
        .ok_or(Error::InvalidKey("RSA private key components missing"))?;
    let components = rsa::KeyPairComponents {
        public_key: rsa::PublicKeyComponents {
            n: &parts.n[..],
            e: &parts.e[..],
        },
        d: &private.d[..],
        p: &private.p[..],
        q: &private.q[..],
        dP: &private.dp[..],
        dQ: &private.dq[..],
        qInv: &private.qi[..],
    };
    rsa::KeyPair::from_components(&components)
        .map(|kp| Signer::Rs256(Box::new(kp)))
        .map_err(|_| {
            Error::InvalidKey("inconsistent or unsupported RSA private key (2048 to 8192 bits)")
        })
}

pub(crate) fn rs256_verifier(n: &[u8], e: &[u8]) -> Result<Verifier, Error> {
    if n.len() < 256 {
        return Err(Error::InvalidKey("RSA modulus must be at least 2048 bits"));
    }
    let e_ok = matches!(e, [.., last] if last & 1 == 1) && e.len() <= 4 && e != [1];
    if !e_ok {
        return Err(Error::InvalidKey(
            "RSA public exponent must be odd, above 1 and at most 32 bits",
        ));
    }
    rsa::PublicKeyComponents { n, e }
        .to_parsed_public_key(&signature::RSA_PKCS1_2048_8192_SHA256)
        .map(Verifier::Public)
        .map_err(|_| Error::InvalidKey("bad RSA public key"))
}
