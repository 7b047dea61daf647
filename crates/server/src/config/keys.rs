//! Key configuration shared by the CLI's token commands and the server: `PASSCARD_SECRET`
//! (a base64url HMAC secret) or a key file (a JWK or a JWK Set).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use base64::Engine as _;
use passcard_jwt::{Algorithm, Jwk, JwkSet, KeySet, SigningKey, VerifyingKey};

/// The environment variable holding a base64url HMAC secret.
pub const SECRET_ENV: &str = "PASSCARD_SECRET";
/// The environment variable choosing the secret's algorithm (default HS256).
pub const SECRET_ALG_ENV: &str = "PASSCARD_SECRET_ALG";
/// The environment variable naming the kid that signs, in a key file with
/// several private keys.
pub const SIGNING_KID_ENV: &str = "PASSCARD_SIGNING_KID";
/// The largest key file read.
const MAX_KEY_FILE: u64 = 256 * 1024;

/// Where keys come from.
#[derive(Clone, Debug)]
pub enum KeySource {
    /// An HMAC secret from the environment (already decoded).
    Secret {
        /// The algorithm, from `PASSCARD_SECRET_ALG`.
        alg: Algorithm,
        /// The base64url text of the secret.
        encoded: SecretString,
    },
    /// A JWK or JWK Set file.
    File(PathBuf),
}

/// A string that is never printed by `Debug`.
#[derive(Clone)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }
}

impl std::fmt::Debug for SecretString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Loaded keys: the one that signs (if any key is private) and the set that
/// verifies.
#[derive(Debug)]
pub struct Keys {
    /// The signing key: the secret, or the first private key of the file.
    pub signing: Option<SigningKey>,
    /// Every key, for verification.
    pub verifying: KeySet,
}

impl KeySource {
    /// Picks the source from a `--key-file` flag (or `PASSCARD_KEY_FILE`)
    /// and `PASSCARD_SECRET`; exactly one must be set.
    pub fn from_env(key_file: Option<&Path>) -> anyhow::Result<Self> {
        Self::from_env_if_set(key_file)?.ok_or_else(|| {
            anyhow::anyhow!(
                "no key configured: set {SECRET_ENV} (make one with `passcard keygen`) \
                 or PASSCARD_KEY_FILE / --key-file (a JWK or JWK Set, from `passcard keygen --format jwk`)"
            )
        })
    }

    /// Like [`KeySource::from_env`], but `None` when neither is set.
    pub fn from_env_if_set(key_file: Option<&Path>) -> anyhow::Result<Option<Self>> {
        let secret = std::env::var(SECRET_ENV)
            .ok()
            .filter(|s| !s.trim().is_empty());
        match (secret, key_file) {
            (Some(_), Some(_)) => bail!(
                "both {SECRET_ENV} and a key file are set; keep one so it is clear which key signs"
            ),
            (Some(secret), None) => {
                let alg = match std::env::var(SECRET_ALG_ENV) {
                    Ok(a) if !a.trim().is_empty() => {
                        let alg = Algorithm::from_name(a.trim())
                            .with_context(|| format!("{SECRET_ALG_ENV} is not valid"))?;
                        if !alg.is_symmetric() {
                            bail!(
                                "{SECRET_ALG_ENV} must be HS256, HS384 or HS512; asymmetric keys go in a key file"
                            );
                        }
                        alg
                    }
                    _ => Algorithm::HS256,
                };
                Ok(Some(Self::Secret {
                    alg,
                    encoded: SecretString(secret.trim().to_owned()),
                }))
            }
            (None, Some(path)) => Ok(Some(Self::File(path.to_owned()))),
            (None, None) => Ok(None),
        }
    }

    /// Loads the keys. Errors name the source, never the key material.
    pub fn load(&self) -> anyhow::Result<Keys> {
        self.load_with(None)
    }

    /// Loads the keys; from a key file, the private key with kid
    /// `signing_kid` signs (default: the first private key), every key
    /// verifies.
    pub fn load_with(&self, signing_kid: Option<&str>) -> anyhow::Result<Keys> {
        match self {
            Self::Secret { alg, encoded } => {
                let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(encoded.0.trim_end_matches('='))
                    .map_err(|_| {
                        anyhow::anyhow!(
                            "{SECRET_ENV} is not base64url; make a good one with `passcard keygen`"
                        )
                    })?;
                let key = SigningKey::hmac(*alg, &secret)
                    .with_context(|| format!("{SECRET_ENV} cannot be used"))?;
                Ok(Keys {
                    verifying: KeySet::from(key.verifying_key()),
                    signing: Some(key),
                })
            }
            Self::File(path) => load_file(path, signing_kid),
        }
    }
}

fn load_file(path: &Path, signing_kid: Option<&str>) -> anyhow::Result<Keys> {
    let shown = path.display();
    let meta = std::fs::metadata(path).with_context(|| format!("cannot read key file {shown}"))?;
    if meta.len() > MAX_KEY_FILE {
        bail!("key file {shown} is larger than {MAX_KEY_FILE} bytes");
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read key file {shown}"))?;
    let jwks: Vec<Jwk> = if serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .is_some_and(|v| v.get("keys").is_some())
    {
        JwkSet::from_json(&text)
            .with_context(|| format!("key file {shown} is not a valid JWK Set"))?
            .keys
    } else {
        vec![
            Jwk::from_json(&text)
                .with_context(|| format!("key file {shown} is not a valid JWK"))?,
        ]
    };
    if jwks.is_empty() {
        bail!("key file {shown} holds no keys");
    }
    if jwks.iter().any(Jwk::is_private) {
        warn_if_readable_by_others(path, &meta);
    }
    let mut signing = None;
    let mut verifying = Vec::with_capacity(jwks.len());
    for (i, jwk) in jwks.iter().enumerate() {
        let which = || {
            format!(
                "key {} ({}) in {shown}",
                i + 1,
                jwk.kid.as_deref().unwrap_or("no kid")
            )
        };
        let chosen = match signing_kid {
            Some(kid) => jwk.kid.as_deref() == Some(kid),
            None => signing.is_none(),
        };
        if jwk.is_private() && chosen {
            let key = SigningKey::from_jwk(jwk).with_context(which)?;
            verifying.push(key.verifying_key());
            signing = Some(key);
        } else {
            verifying.push(VerifyingKey::from_jwk(jwk).with_context(which)?);
        }
    }
    if let (Some(kid), None) = (signing_kid, &signing) {
        bail!("{SIGNING_KID_ENV} is {kid:?}, but {shown} holds no private key with that kid");
    }
    Ok(Keys {
        signing,
        verifying: KeySet::new(verifying).with_context(|| format!("key file {shown}"))?,
    })
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path, meta: &std::fs::Metadata) {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = meta.permissions().mode();
    if mode & 0o077 != 0 {
        eprintln!(
            "passcard: warning: key file {} is readable by other users (mode {:o}); run chmod 600 on it",
            path.display(),
            mode & 0o777
        );
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_: &Path, _: &std::fs::Metadata) {}
