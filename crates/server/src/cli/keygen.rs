//! `passcard keygen`: a fresh key from the OS CSPRNG.

use std::process::ExitCode;

use anyhow::{Context as _, bail};
use base64::Engine as _;
use passcard_jwt::{Algorithm, SigningKey};

use clap::{Args, ValueEnum};

use crate::config::{SECRET_ALG_ENV, SECRET_ENV};

/// The algorithms passcard signs with.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum AlgArg {
    /// HMAC-SHA-256 with a 32-byte shared secret.
    #[value(name = "HS256")]
    Hs256,
    /// HMAC-SHA-384 with a 48-byte shared secret.
    #[value(name = "HS384")]
    Hs384,
    /// HMAC-SHA-512 with a 64-byte shared secret.
    #[value(name = "HS512")]
    Hs512,
    /// Ed25519 signatures: verifiers need only the public key.
    #[value(name = "EdDSA")]
    EdDsa,
    /// ECDSA on P-256.
    #[value(name = "ES256")]
    Es256,
    /// RSA PKCS#1 v1.5 with SHA-256, 2048-bit keys.
    #[value(name = "RS256")]
    Rs256,
}

impl From<AlgArg> for passcard_jwt::Algorithm {
    fn from(a: AlgArg) -> Self {
        match a {
            AlgArg::Hs256 => Self::HS256,
            AlgArg::Hs384 => Self::HS384,
            AlgArg::Hs512 => Self::HS512,
            AlgArg::EdDsa => Self::EdDSA,
            AlgArg::Es256 => Self::ES256,
            AlgArg::Rs256 => Self::RS256,
        }
    }
}

/// How `keygen` writes the key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum KeyFormat {
    /// `PASSCARD_SECRET=<base64url>`, for an environment file (HMAC only).
    Env,
    /// A private JWK with its `kid`, for PASSCARD_KEY_FILE.
    Jwk,
}

#[derive(Debug, Args)]
pub(super) struct KeygenArgs {
    /// Algorithm the key is bound to.
    #[arg(long, value_enum, default_value = "HS256")]
    alg: AlgArg,
    /// Key id, at most 256 bytes [default: the key's RFC 7638 thumbprint].
    #[arg(long)]
    kid: Option<String>,
    /// Output format [default: env for HS*, jwk otherwise].
    #[arg(long, value_enum)]
    format: Option<KeyFormat>,
}

pub(super) fn run(args: &KeygenArgs) -> anyhow::Result<ExitCode> {
    let alg = Algorithm::from(args.alg);
    let format = args.format.unwrap_or(if alg.is_symmetric() {
        KeyFormat::Env
    } else {
        KeyFormat::Jwk
    });
    if format == KeyFormat::Env && !alg.is_symmetric() {
        bail!(
            "{alg} keys are written as a JWK: use --format jwk, save the output to a file \
             readable only by the server (chmod 600) and point PASSCARD_KEY_FILE at it"
        );
    }
    let mut key = SigningKey::generate(alg).context("cannot generate a key")?;
    if let Some(kid) = &args.kid {
        key = key
            .with_kid(kid)
            .context("--kid is longer than 256 bytes")?;
    }
    match format {
        KeyFormat::Env => {
            let secret = key.secret().context("not an HMAC key")?;
            let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
            println!("{SECRET_ENV}={encoded}");
            if alg != Algorithm::HS256 {
                println!("{SECRET_ALG_ENV}={alg}");
            }
        }
        KeyFormat::Jwk => {
            let jwk = key.to_private_jwk();
            println!("{}", serde_json::to_string_pretty(&jwk)?);
        }
    }
    eprintln!(
        "passcard: a new {alg} key (kid {}). It is secret: keep it out of logs and version control.",
        key.kid()
    );
    Ok(ExitCode::SUCCESS)
}
