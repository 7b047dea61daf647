//! `passcard keygen`: a fresh key from the OS CSPRNG.

use std::process::ExitCode;

use anyhow::{Context as _, bail};
use base64::Engine as _;
use passcard_jwt::{Algorithm, SigningKey};

use crate::cli::{KeyFormat, KeygenArgs};
use crate::keyconf::{SECRET_ALG_ENV, SECRET_ENV};

pub(crate) fn run(args: &KeygenArgs) -> anyhow::Result<ExitCode> {
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
        key = key.with_kid(kid);
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
