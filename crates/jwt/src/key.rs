//! Keys, each bound to exactly one algorithm at construction.

use core::fmt;
use std::sync::Arc;

use zeroize::Zeroizing;

use crate::alg::Algorithm;
use crate::b64;
use crate::crypto::{self, Signer, Verifier};
use crate::der::{RsaParts, RsaPrivate};
use crate::error::Error;
use crate::jwk::Jwk;

/// Key material in the form JWKs carry it.
enum Material {
    Oct(Zeroizing<Vec<u8>>),
    Okp {
        x: Vec<u8>,
        d: Option<Zeroizing<Vec<u8>>>,
    },
    Ec {
        x: Vec<u8>,
        y: Vec<u8>,
        d: Option<Zeroizing<Vec<u8>>>,
    },
    Rsa(RsaParts),
}

impl Material {
    fn verifier(&self, alg: Algorithm) -> Result<Verifier, Error> {
        match self {
            Self::Oct(k) => Ok(Verifier::Hmac(crypto::hmac_key(alg, k))),
            Self::Okp { x, .. } => crypto::ed25519_verifier(x),
            Self::Ec { x, y, .. } => crypto::es256_verifier(x, y),
            Self::Rsa(parts) => crypto::rs256_verifier(&parts.n, &parts.e),
        }
    }

    fn signer(&self, alg: Algorithm) -> Result<Signer, Error> {
        const NO_PRIVATE: Error = Error::InvalidKey("a signing key needs the private key");
        match self {
            Self::Oct(k) => Ok(Signer::Hmac(crypto::hmac_key(alg, k))),
            Self::Okp { x, d } => crypto::ed25519_signer(d.as_ref().ok_or(NO_PRIVATE)?, x),
            Self::Ec { x, y, d } => crypto::es256_signer(d.as_ref().ok_or(NO_PRIVATE)?, x, y),
            Self::Rsa(parts) if parts.private.is_none() => Err(NO_PRIVATE),
            Self::Rsa(parts) => crypto::rs256_signer(parts),
        }
    }

    /// The JWK, with private members when `private`.
    fn to_jwk(&self, alg: Algorithm, kid: Option<&str>, private: bool) -> Jwk {
        let enc = |v: &[u8]| Some(b64::encode(v));
        let secret =
            |v: &Option<Zeroizing<Vec<u8>>>| v.as_ref().filter(|_| private).and_then(|v| enc(v));
        let mut jwk = Jwk::default();
        jwk.kid = kid.map(str::to_owned);
        jwk.alg = Some(alg.name().to_owned());
        match self {
            Self::Oct(k) => {
                jwk.kty = "oct".to_owned();
                jwk.k = enc(k);
            }
            Self::Okp { x, d } => {
                jwk.kty = "OKP".to_owned();
                jwk.crv = Some("Ed25519".to_owned());
                jwk.x = enc(x);
                jwk.d = secret(d);
            }
            Self::Ec { x, y, d } => {
                jwk.kty = "EC".to_owned();
                jwk.crv = Some("P-256".to_owned());
                jwk.x = enc(x);
                jwk.y = enc(y);
                jwk.d = secret(d);
            }
            Self::Rsa(parts) => {
                jwk.kty = "RSA".to_owned();
                jwk.n = enc(&parts.n);
                jwk.e = enc(&parts.e);
                if let (true, Some(p)) = (private, &parts.private) {
                    jwk.d = enc(&p.d);
                    jwk.p = enc(&p.p);
                    jwk.q = enc(&p.q);
                    jwk.dp = enc(&p.dp);
                    jwk.dq = enc(&p.dq);
                    jwk.qi = enc(&p.qi);
                }
            }
        }
        jwk
    }

    /// The default `kid`: the RFC 7638 thumbprint of a public key. For a
    /// shared secret the thumbprint would be a hash of the secret, which
    /// lets anyone who sees a token header test guesses of it offline; its
    /// kid is instead an HMAC of a fixed label under the secret.
    fn default_kid(&self, alg: Algorithm) -> Result<String, Error> {
        match self {
            Self::Oct(k) => {
                let tag = crypto::hmac_tag(alg, k, b"passcard-jwt default kid v1");
                Ok(b64::encode(&tag[..16]))
            }
            _ => self.to_jwk(alg, None, false).thumbprint(),
        }
    }

    fn generate(alg: Algorithm) -> Result<Self, Error> {
        Ok(match alg {
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
                let mut k = Zeroizing::new(vec![0; alg.min_secret_len()]);
                crypto::random(&mut k)?;
                Self::Oct(k)
            }
            Algorithm::EdDSA => {
                let (d, x) = crypto::ed25519_generate()?;
                Self::Okp { x, d: Some(d) }
            }
            Algorithm::ES256 => {
                let crypto::EcParts { d, x, y } = crypto::es256_generate()?;
                Self::Ec { x, y, d: Some(d) }
            }
            Algorithm::RS256 => Self::Rsa(crypto::rs256_generate()?),
        })
    }

    fn from_jwk(jwk: &Jwk) -> Result<(Algorithm, Self), Error> {
        if let Some(ops) = &jwk.key_ops {
            if !ops.iter().any(|op| op == "sign" || op == "verify") {
                return Err(Error::InvalidJwk(
                    "key_ops allows neither \"sign\" nor \"verify\"".to_owned(),
                ));
            }
        }
        if jwk.crv.is_some() && matches!(jwk.kty.as_str(), "oct" | "RSA") {
            return Err(Error::InvalidJwk(format!(
                "a {} key has no \"crv\"",
                jwk.kty
            )));
        }
        if let Some(u) = jwk.use_.as_deref().filter(|u| *u != "sig") {
            return Err(Error::InvalidJwk(format!(
                "key has use \"{}\"; only \"sig\" keys can sign or verify",
                crate::alg::printable(u.as_bytes())
            )));
        }
        let alg = jwk.alg.as_deref().map(Algorithm::from_name).transpose()?;
        let field = |v: &Option<String>, name: &str| -> Result<Vec<u8>, Error> {
            let s = v
                .as_deref()
                .ok_or_else(|| Error::InvalidJwk(format!("{} key without \"{name}\"", jwk.kty)))?;
            b64::decode(s.as_bytes())
                .ok_or_else(|| Error::InvalidJwk(format!("\"{name}\" is not canonical base64url")))
        };
        let secret =
            |v: &Option<String>, name: &str| -> Result<Option<Zeroizing<Vec<u8>>>, Error> {
                v.as_ref()
                    .map(|_| field(v, name).map(Zeroizing::new))
                    .transpose()
            };
        let crv = jwk.crv.as_deref();
        let (alg, material) = match (jwk.kty.as_str(), crv) {
            ("oct", _) => {
                let alg = alg.ok_or_else(|| {
                    Error::InvalidJwk(
                        "an oct JWK must name its \"alg\" (HS256, HS384 or HS512)".to_owned(),
                    )
                })?;
                let k = Zeroizing::new(field(&jwk.k, "k")?);
                check_secret(alg, &k)?;
                (alg, Self::Oct(k))
            }
            ("OKP", Some("Ed25519")) => (
                alg.unwrap_or(Algorithm::EdDSA),
                Self::Okp {
                    x: field(&jwk.x, "x")?,
                    d: secret(&jwk.d, "d")?,
                },
            ),
            ("EC", Some("P-256")) => (
                alg.unwrap_or(Algorithm::ES256),
                Self::Ec {
                    x: field(&jwk.x, "x")?,
                    y: field(&jwk.y, "y")?,
                    d: secret(&jwk.d, "d")?,
                },
            ),
            ("RSA", _) => {
                if jwk.oth.is_some() {
                    return Err(Error::InvalidJwk(
                        "multi-prime RSA keys are not supported".to_owned(),
                    ));
                }
                let private = match &jwk.d {
                    None => None,
                    Some(_) => Some(RsaPrivate {
                        d: Zeroizing::new(field(&jwk.d, "d")?),
                        p: Zeroizing::new(field(&jwk.p, "p")?),
                        q: Zeroizing::new(field(&jwk.q, "q")?),
                        dp: Zeroizing::new(field(&jwk.dp, "dp")?),
                        dq: Zeroizing::new(field(&jwk.dq, "dq")?),
                        qi: Zeroizing::new(field(&jwk.qi, "qi")?),
                    }),
                };
                (
                    alg.unwrap_or(Algorithm::RS256),
                    Self::Rsa(RsaParts {
                        n: field(&jwk.n, "n")?,
                        e: field(&jwk.e, "e")?,
                        private,
                    }),
                )
            }
            (kty, crv) => {
                return Err(Error::InvalidJwk(format!(
                    "unsupported key type \"{}\"{}",
                    crate::alg::printable(kty.as_bytes()),
                    crv.map(|c| format!(" on curve \"{}\"", crate::alg::printable(c.as_bytes())))
                        .unwrap_or_default()
                )));
            }
        };
        let fits = matches!(
            (&material, alg),
            (
                Self::Oct(_),
                Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
            ) | (Self::Okp { .. }, Algorithm::EdDSA)
                | (Self::Ec { .. }, Algorithm::ES256)
                | (Self::Rsa(_), Algorithm::RS256)
        );
        if !fits {
            return Err(Error::InvalidJwk(format!(
                "a {} key cannot be used with {alg}",
                jwk.kty
            )));
        }
        Ok((alg, material))
    }
}

/// The longest `kid` a key takes, in bytes. Every token carries its key's
/// kid in the header, so a longer one could make every token the key signs
/// larger than a verifier takes (8 KiB by default).
pub const MAX_KID_BYTES: usize = 256;

/// `kid`, if it is not longer than [`MAX_KID_BYTES`].
fn checked_kid(kid: &str) -> Result<Arc<str>, Error> {
    if kid.len() > MAX_KID_BYTES {
        return Err(Error::InvalidKey("a kid is longer than 256 bytes"));
    }
    Ok(kid.into())
}

fn known_headers(alg: Algorithm, kid: &str) -> Vec<(String, Option<&'static str>)> {
    crate::header::COMMON_TYPS
        .iter()
        .filter_map(|&typ| {
            let json = crate::header::header_json(alg, kid, typ, None).ok()?;
            Some((b64::encode(&json), typ))
        })
        .collect()
}

fn check_secret(alg: Algorithm, secret: &[u8]) -> Result<(), Error> {
    if !alg.is_symmetric() {
        return Err(Error::InvalidKey(
            "a shared secret only fits HS256, HS384 or HS512",
        ));
    }
    if secret.len() < alg.min_secret_len() {
        return Err(Error::WeakSecret {
            alg,
            len: secret.len(),
            min: alg.min_secret_len(),
        });
    }
    Ok(())
}

/// A private key (or HMAC secret) that signs tokens with one algorithm.
///
/// It always has a `kid`: by default the RFC 7638 thumbprint of a public key,
/// or for a shared secret an HMAC of a fixed label under it. `Debug` never
/// prints key material, and secrets are zeroed on drop.
pub struct SigningKey {
    alg: Algorithm,
    kid: Arc<str>,
    signer: Signer,
    verifier: Verifier,
    material: Material,
    /// The encoded headers of the common `typ`s, written once.
    headers: Vec<(String, Option<&'static str>)>,
}

impl SigningKey {
    /// A fresh key from the operating system's CSPRNG. HMAC secrets are as
    /// long as the hash output; RSA keys are 2048 bits.
    pub fn generate(alg: Algorithm) -> Result<Self, Error> {
        Self::new(alg, Material::generate(alg)?, None)
    }

    /// An HMAC key from a shared secret, refused when shorter than the hash
    /// output (32 bytes for HS256) or when `alg` is not an HMAC algorithm.
    pub fn hmac(alg: Algorithm, secret: &[u8]) -> Result<Self, Error> {
        check_secret(alg, secret)?;
        Self::new(alg, Material::Oct(Zeroizing::new(secret.to_vec())), None)
    }

    /// A key from a private JWK. Its algorithm is the JWK's `alg`, or the one
    /// algorithm its type and curve allow; its kid is the JWK's `kid` or the
    /// default kid.
    pub fn from_jwk(jwk: &Jwk) -> Result<Self, Error> {
        let (alg, material) = Material::from_jwk(jwk)?;
        Self::new(alg, material, jwk.kid.as_deref())
    }

    fn new(alg: Algorithm, material: Material, kid: Option<&str>) -> Result<Self, Error> {
        let kid: Arc<str> = match kid {
            Some(kid) => checked_kid(kid)?,
            None => material.default_kid(alg)?.into(),
        };
        Ok(Self {
            alg,
            signer: material.signer(alg)?,
            verifier: material.verifier(alg)?,
            headers: known_headers(alg, &kid),
            kid,
            material,
        })
    }

    /// The same key with another `kid`, of at most [`MAX_KID_BYTES`].
    pub fn with_kid(mut self, kid: &str) -> Result<Self, Error> {
        self.kid = checked_kid(kid)?;
        self.headers = known_headers(self.alg, kid);
        Ok(self)
    }

    /// The encoded header this key writes for `typ` (no `cty`), when it is
    /// one of the common ones.
    pub(crate) fn encoded_header(&self, typ: Option<&str>) -> Option<&str> {
        self.headers
            .iter()
            .find(|(_, t)| *t == typ)
            .map(|(h, _)| h.as_str())
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The key id written into every token's header.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The key that verifies this key's signatures.
    pub fn verifying_key(&self) -> VerifyingKey {
        VerifyingKey {
            alg: self.alg,
            kid: self.kid.clone(),
            verifier: self.verifier.clone(),
            public: self.public_jwk(),
            known_headers: self.headers.clone(),
        }
    }

    /// The private JWK (with `kid` and `alg`): secret, handle with care.
    pub fn to_private_jwk(&self) -> Jwk {
        self.material.to_jwk(self.alg, Some(&self.kid), true)
    }

    /// The public JWK, or `None` for an HMAC key.
    pub fn public_jwk(&self) -> Option<Jwk> {
        match self.material {
            Material::Oct(_) => None,
            _ => Some(self.material.to_jwk(self.alg, Some(&self.kid), false)),
        }
    }

    /// For an HMAC key, its secret (for `PASSCARD_SECRET`); `None` otherwise.
    pub fn secret(&self) -> Option<&[u8]> {
        match &self.material {
            Material::Oct(k) => Some(k),
            _ => None,
        }
    }

    pub(crate) fn sign(&self, input: &[u8]) -> Result<crypto::SigBytes, Error> {
        self.signer.sign(input)
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// A key that verifies tokens of one algorithm: a public key, or an HMAC
/// secret. Holds precomputed state (the HMAC key schedule, the parsed
/// public key), so verification does no per-token key work.
///
/// It also keeps the base64url form of the headers passcard itself writes
/// for this key (with `typ` absent, `at+jwt` or `JWT`): a token whose header
/// is byte-for-byte one of them needs no header decoding or parsing. This
/// is exact, not a guess: the same bytes always parse the same way.
#[derive(Clone)]
pub struct VerifyingKey {
    alg: Algorithm,
    kid: Arc<str>,
    verifier: Verifier,
    public: Option<Jwk>,
    known_headers: Vec<(String, Option<&'static str>)>,
}

impl VerifyingKey {
    /// An HMAC key from a shared secret (same rules as [`SigningKey::hmac`]).
    pub fn hmac(alg: Algorithm, secret: &[u8]) -> Result<Self, Error> {
        Ok(SigningKey::hmac(alg, secret)?.verifying_key())
    }

    /// A key from a JWK. Only public members are used, except `k` for an
    /// HMAC key; private members of an asymmetric JWK are ignored.
    pub fn from_jwk(jwk: &Jwk) -> Result<Self, Error> {
        let (alg, material) = Material::from_jwk(jwk)?;
        let kid: Arc<str> = match &jwk.kid {
            Some(kid) => checked_kid(kid)?,
            None => material.default_kid(alg)?.into(),
        };
        let public = match material {
            Material::Oct(_) => None,
            _ => Some(material.to_jwk(alg, Some(&kid), false)),
        };
        Ok(Self {
            alg,
            verifier: material.verifier(alg)?,
            known_headers: known_headers(alg, &kid),
            kid,
            public,
        })
    }

    /// The same key with another `kid`, of at most [`MAX_KID_BYTES`].
    pub fn with_kid(mut self, kid: &str) -> Result<Self, Error> {
        self.kid = checked_kid(kid)?;
        self.known_headers = known_headers(self.alg, kid);
        if let Some(jwk) = &mut self.public {
            jwk.kid = Some(kid.to_owned());
        }
        Ok(self)
    }

    /// The algorithm this key verifies.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub(crate) fn kid_arc(&self) -> &Arc<str> {
        &self.kid
    }

    /// The public JWK, or `None` for an HMAC key (never published).
    pub fn public_jwk(&self) -> Option<&Jwk> {
        self.public.as_ref()
    }

    /// If `encoded` is a header passcard writes for this key, its `typ`.
    #[inline]
    pub(crate) fn known_header(&self, encoded: &[u8]) -> Option<Option<&'static str>> {
        self.known_headers
            .iter()
            .find(|(h, _)| h.as_bytes() == encoded)
            .map(|(_, typ)| *typ)
    }

    #[inline]
    pub(crate) fn verify_signature(&self, input: &[u8], sig: &[u8]) -> bool {
        self.verifier.verify(input, sig)
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Header, KeySet, UnixTime, Validator, encode};

    /// Found by the `jwks` fuzz target: a JWK with a kid of 6 KB imported,
    /// and every token it signed was over the verifier's 8 KiB limit.
    #[test]
    fn a_kid_is_at_most_256_bytes() {
        let longest = "k".repeat(MAX_KID_BYTES);
        let over = "k".repeat(MAX_KID_BYTES + 1);
        let key = SigningKey::generate(Algorithm::ES256).unwrap();
        let mut jwk = key.public_jwk().unwrap();

        jwk.kid = Some(over.clone());
        assert!(matches!(
            VerifyingKey::from_jwk(&jwk),
            Err(Error::InvalidKey(_))
        ));
        let mut private = key.to_private_jwk();
        private.kid = Some(over.clone());
        assert!(matches!(
            SigningKey::from_jwk(&private),
            Err(Error::InvalidKey(_))
        ));
        assert!(
            SigningKey::generate(Algorithm::ES256)
                .unwrap()
                .with_kid(&over)
                .is_err()
        );
        assert!(key.verifying_key().with_kid(&over).is_err());

        jwk.kid = Some(longest.clone());
        let verifying = VerifyingKey::from_jwk(&jwk).unwrap();
        let signing = key.with_kid(&longest).unwrap();
        let now = UnixTime::from_secs(1_800_000_000);
        let claims = serde_json::json!({"iss": "i", "aud": "a", "exp": 1_800_000_060});
        let token = encode(&Header::new().typ("JWT"), &claims, &signing).unwrap();
        let policy = Validator::builder().issuer("i").audience("a").build();
        KeySet::from(verifying)
            .verify::<serde_json::Value>(&token, &policy, now)
            .unwrap();
    }
}
