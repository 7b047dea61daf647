//! `passcard token issue | inspect | verify`.

use std::io::Read as _;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use passcard_jwt::{Header, Validator, dangerous};
use serde_json::{Map, Value};

use crate::cli::{InspectArgs, IssueArgs, KeyArgs, VerifyArgs};
use crate::human;
use crate::keyconf::{KeySource, Keys};

/// Claims the issue flags set; `--claim` may not override them.
const RESERVED: [&str; 7] = ["iss", "aud", "sub", "role", "iat", "exp", "jti"];

fn keys(args: &KeyArgs) -> anyhow::Result<Keys> {
    KeySource::from_env(args.key_file.as_deref())?.load()
}

/// Reads the token argument, or standard input for `-`.
fn read_token(arg: &str) -> anyhow::Result<String> {
    let token = if arg == "-" {
        let mut buf = String::new();
        std::io::stdin()
            .take(64 * 1024)
            .read_to_string(&mut buf)
            .context("cannot read the token from standard input")?;
        buf
    } else {
        arg.to_owned()
    };
    let token = token.trim();
    if token.is_empty() {
        bail!("no token given: pass it as an argument or on standard input");
    }
    Ok(token.to_owned())
}

pub(crate) fn issue(args: &IssueArgs) -> anyhow::Result<ExitCode> {
    let signing_kid = std::env::var(crate::keyconf::SIGNING_KID_ENV)
        .ok()
        .filter(|k| !k.is_empty());
    let keys =
        KeySource::from_env(args.key.key_file.as_deref())?.load_with(signing_kid.as_deref())?;
    let key = keys
        .signing
        .context("the configured key file holds no private key, so it cannot sign")?;
    let now = passcard_jwt::Clock::now(&passcard_jwt::SystemClock::new());
    let mut claims = Map::new();
    claims.insert("iss".into(), args.iss.clone().into());
    claims.insert("aud".into(), args.aud.clone().into());
    claims.insert("sub".into(), args.sub.clone().into());
    if let Some(role) = &args.role {
        claims.insert("role".into(), role.clone().into());
    }
    claims.insert("iat".into(), now.as_secs().into());
    claims.insert("exp".into(), now.saturating_add(args.ttl).as_secs().into());
    claims.insert("jti".into(), passcard_jwt::new_jti()?.into());
    for c in &args.claims {
        let (name, value) = c
            .split_once('=')
            .with_context(|| format!("--claim {c:?} is not NAME=VALUE"))?;
        if name.is_empty() {
            bail!("--claim {c:?} has an empty name");
        }
        if RESERVED.contains(&name) {
            bail!("--claim cannot set \"{name}\"; use the --{name} flag (or --ttl for exp)");
        }
        let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.into()));
        if claims.insert(name.to_owned(), value).is_some() {
            bail!("--claim sets \"{name}\" twice");
        }
    }
    let token = passcard_jwt::encode(&Header::new().typ(args.typ.clone()), &claims, &key)?;
    println!("{token}");
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn inspect(args: &InspectArgs) -> anyhow::Result<ExitCode> {
    let token = read_token(&args.token)?;
    let t = match dangerous::decode_unverified(&token) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("passcard: not a readable token: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    println!("UNVERIFIED: signature and claims were NOT checked (use `passcard token verify`)");
    println!("header: {}", serde_json::to_string_pretty(&t.header)?);
    println!("claims: {}", serde_json::to_string_pretty(&t.claims)?);
    println!("signature: {} bytes", t.signature_len);
    let now = passcard_jwt::Clock::now(&passcard_jwt::SystemClock::new());
    for name in ["iat", "nbf", "exp"] {
        let Some(v) = t.claims.get(name) else {
            continue;
        };
        match v.as_f64().filter(|f| *f >= 0.0 && *f < 253_402_300_800.0) {
            Some(f) => {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let secs = f as u64;
                let rel = if name == "exp" {
                    human::expiry(secs, now)
                } else {
                    human::relative(secs, now)
                };
                println!("{name}: {} ({rel})", human::date(secs));
            }
            None => println!("{name}: {v} (not a valid date)"),
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn verify(args: &VerifyArgs) -> anyhow::Result<ExitCode> {
    let keys = keys(&args.key)?;
    let token = read_token(&args.token)?;
    let now = args
        .at
        .unwrap_or_else(|| passcard_jwt::Clock::now(&passcard_jwt::SystemClock::new()));
    let builder = Validator::builder().leeway(args.leeway);
    let builder = if args.any_iss {
        builder.any_issuer()
    } else {
        builder.issuer(args.iss.clone())
    };
    let mut builder = if args.any_aud {
        builder.any_audience()
    } else {
        builder.audience(args.aud.clone())
    };
    if let Some(typ) = &args.typ {
        builder = builder.typ(typ.clone());
    }
    let policy = builder.build();
    match keys
        .verifying
        .verify::<Map<String, Value>>(&token, &policy, now)
    {
        Ok(v) => {
            let exp = v
                .exp
                .map(|e| format!(", {}", human::expiry(e.as_secs(), now)))
                .unwrap_or_default();
            println!("valid: {} key {}{exp}", v.alg, v.kid);
            println!("{}", serde_json::to_string_pretty(&v.claims)?);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            let detail = match &e {
                passcard_jwt::Error::Expired { exp, .. } => format!(
                    ": {} at {}",
                    human::expiry(exp.as_secs(), now),
                    human::date(exp.as_secs())
                ),
                passcard_jwt::Error::NotYetValid { nbf, .. } => {
                    format!(": valid from {}", human::date(nbf.as_secs()))
                }
                _ => String::new(),
            };
            eprintln!("invalid token: {e}{detail}");
            Ok(ExitCode::from(1))
        }
    }
}
