//! `passcard token issue | inspect | verify`.

use std::io::Read as _;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use passcard_jwt::{Header, Validator, dangerous};
use serde_json::{Map, Value};

use clap::{Args, Subcommand};

use super::KeyArgs;
use crate::config::{KeySource, Keys, SIGNING_KID_ENV};
use crate::human;

#[derive(Debug, Subcommand)]
pub(super) enum TokenCommand {
    /// Sign a token with the configured key and print it.
    Issue(IssueArgs),
    /// Decode a token WITHOUT verifying it, and show its header, claims and times.
    Inspect(InspectArgs),
    /// Verify a token with the configured key and policy; print its claims
    /// or the precise reason it is invalid (exit 0 valid, 1 invalid, 2 error).
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
pub(super) struct IssueArgs {
    #[command(flatten)]
    key: KeyArgs,
    /// Subject: the user id the token speaks for.
    #[arg(long)]
    sub: String,
    /// Role claim (for example user or admin).
    #[arg(long)]
    role: Option<String>,
    /// Lifetime, like 5m, 1h or 90s.
    #[arg(long, default_value = "5m", value_parser = crate::human::parse_duration)]
    ttl: std::time::Duration,
    /// Extra claim NAME=VALUE; VALUE is JSON when it parses as JSON
    /// (3, true, ["a"]), otherwise a string. Repeatable.
    #[arg(long = "claim", value_name = "NAME=VALUE")]
    claims: Vec<String>,
    /// Issuer claim.
    #[arg(long, env = "PASSCARD_ISSUER", default_value = "passcard")]
    iss: String,
    /// Audience claim.
    #[arg(long, env = "PASSCARD_AUDIENCE", default_value = "passcard")]
    aud: String,
    /// Header typ (RFC 9068 access tokens are at+jwt).
    #[arg(long, default_value = "at+jwt")]
    typ: String,
}

#[derive(Debug, Args)]
pub(super) struct InspectArgs {
    /// The token, or - (the default) to read it from standard input, which
    /// keeps it out of shell history.
    #[arg(default_value = "-")]
    token: String,
}

#[derive(Debug, Args)]
pub(super) struct VerifyArgs {
    #[command(flatten)]
    key: KeyArgs,
    /// The token, or - (the default) to read it from standard input.
    #[arg(default_value = "-")]
    token: String,
    /// Expected issuer.
    #[arg(
        long,
        env = "PASSCARD_ISSUER",
        default_value = "passcard",
        conflicts_with = "any_iss"
    )]
    iss: String,
    /// Accept any issuer (loosens the check).
    #[arg(long)]
    any_iss: bool,
    /// Expected audience.
    #[arg(
        long,
        env = "PASSCARD_AUDIENCE",
        default_value = "passcard",
        conflicts_with = "any_aud"
    )]
    aud: String,
    /// Accept any audience (loosens the check).
    #[arg(long)]
    any_aud: bool,
    /// Expected header typ, like at+jwt [default: not checked].
    #[arg(long)]
    typ: Option<String>,
    /// Allowed clock skew for exp, nbf and iat.
    #[arg(long, default_value = "30s", value_parser = crate::human::parse_duration)]
    leeway: std::time::Duration,
    /// Check the token as of this time: a Unix time or an RFC 3339 date
    /// (2026-11-26T12:00:00Z) [default: now].
    #[arg(long, value_parser = crate::human::parse_time)]
    at: Option<passcard_jwt::UnixTime>,
}

/// Runs a `passcard token` command.
pub(super) fn run(command: &TokenCommand) -> anyhow::Result<ExitCode> {
    match command {
        TokenCommand::Issue(args) => issue(args),
        TokenCommand::Inspect(args) => inspect(args),
        TokenCommand::Verify(args) => verify(args),
    }
}

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

fn issue(args: &IssueArgs) -> anyhow::Result<ExitCode> {
    let signing_kid = std::env::var(SIGNING_KID_ENV)
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

fn inspect(args: &InspectArgs) -> anyhow::Result<ExitCode> {
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

fn verify(args: &VerifyArgs) -> anyhow::Result<ExitCode> {
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
