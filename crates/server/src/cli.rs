//! Command-line interface: clap definitions and dispatch.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::commands;

/// passcard: stateless authentication with JWTs.
///
/// Keys come from the environment: PASSCARD_SECRET (a base64url HMAC secret,
/// made by `passcard keygen`) or PASSCARD_KEY_FILE / --key-file (a JWK or a
/// JWK Set). Exit codes: 0 success, 1 invalid token, 2 usage or
/// configuration error.
#[derive(Debug, Parser)]
#[command(name = "passcard", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate a fresh signing key from the operating system's CSPRNG.
    Keygen(KeygenArgs),
    /// Issue, inspect and verify tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Run the authentication server (HTTP API, SQLite store by default).
    Serve(Box<crate::config::ServeArgs>),
    /// Measure stateless tokens against server-side sessions on this
    /// machine, side by side: starts instances on loopback ports itself and
    /// prints the table (also written as Markdown, JSON and an SVG chart).
    Compare(crate::commands::compare::CompareArgs),
    /// Manage users in the server's store (changes reach running servers).
    #[command(subcommand)]
    User(UserCommand),
}

/// `passcard user …`.
#[derive(Debug, Subcommand)]
pub(crate) enum UserCommand {
    /// Create a user; the password is read from a prompt, or from standard
    /// input when it is not a terminal.
    Add(UserAddArgs),
    /// Change a user's role; their current tokens stop working at once.
    SetRole(UserSetRoleArgs),
    /// Ban a user: no login, no refresh, current tokens refused.
    Ban(UserBanArgs),
}

#[derive(Debug, Args)]
pub(crate) struct UserAddArgs {
    #[command(flatten)]
    pub(crate) data: crate::config::DataArgs,
    /// Username (3 to 32 of a-z, 0-9, '.', '_', '-').
    pub(crate) name: String,
    /// Role.
    #[arg(long, default_value = "user")]
    pub(crate) role: String,
}

#[derive(Debug, Args)]
pub(crate) struct UserSetRoleArgs {
    #[command(flatten)]
    pub(crate) data: crate::config::DataArgs,
    /// Username.
    pub(crate) name: String,
    /// New role: user or admin.
    pub(crate) role: String,
}

#[derive(Debug, Args)]
pub(crate) struct UserBanArgs {
    #[command(flatten)]
    pub(crate) data: crate::config::DataArgs,
    /// Username.
    pub(crate) name: String,
}

/// The algorithms passcard signs with.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum AlgArg {
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
pub(crate) enum KeyFormat {
    /// `PASSCARD_SECRET=<base64url>`, for an environment file (HMAC only).
    Env,
    /// A private JWK with its `kid`, for PASSCARD_KEY_FILE.
    Jwk,
}

#[derive(Debug, Args)]
pub(crate) struct KeygenArgs {
    /// Algorithm the key is bound to.
    #[arg(long, value_enum, default_value = "HS256")]
    pub(crate) alg: AlgArg,
    /// Key id [default: the key's RFC 7638 thumbprint].
    #[arg(long)]
    pub(crate) kid: Option<String>,
    /// Output format [default: env for HS*, jwk otherwise].
    #[arg(long, value_enum)]
    pub(crate) format: Option<KeyFormat>,
}

/// Where the key comes from, for the token commands.
#[derive(Debug, Args)]
pub(crate) struct KeyArgs {
    /// A JWK or JWK Set file holding the key(s). Otherwise PASSCARD_SECRET
    /// (base64url HMAC secret; PASSCARD_SECRET_ALG picks HS384/HS512).
    #[arg(long, env = "PASSCARD_KEY_FILE", value_name = "PATH")]
    pub(crate) key_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Sign a token with the configured key and print it.
    Issue(IssueArgs),
    /// Decode a token WITHOUT verifying it, and show its header, claims and times.
    Inspect(InspectArgs),
    /// Verify a token with the configured key and policy; print its claims
    /// or the precise reason it is invalid (exit 0 valid, 1 invalid, 2 error).
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
pub(crate) struct IssueArgs {
    #[command(flatten)]
    pub(crate) key: KeyArgs,
    /// Subject: the user id the token speaks for.
    #[arg(long)]
    pub(crate) sub: String,
    /// Role claim (for example user or admin).
    #[arg(long)]
    pub(crate) role: Option<String>,
    /// Lifetime, like 5m, 1h or 90s.
    #[arg(long, default_value = "5m", value_parser = crate::human::parse_duration)]
    pub(crate) ttl: std::time::Duration,
    /// Extra claim NAME=VALUE; VALUE is JSON when it parses as JSON
    /// (3, true, ["a"]), otherwise a string. Repeatable.
    #[arg(long = "claim", value_name = "NAME=VALUE")]
    pub(crate) claims: Vec<String>,
    /// Issuer claim.
    #[arg(long, env = "PASSCARD_ISSUER", default_value = "passcard")]
    pub(crate) iss: String,
    /// Audience claim.
    #[arg(long, env = "PASSCARD_AUDIENCE", default_value = "passcard")]
    pub(crate) aud: String,
    /// Header typ (RFC 9068 access tokens are at+jwt).
    #[arg(long, default_value = "at+jwt")]
    pub(crate) typ: String,
}

#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    /// The token, or - (the default) to read it from standard input, which
    /// keeps it out of shell history.
    #[arg(default_value = "-")]
    pub(crate) token: String,
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    #[command(flatten)]
    pub(crate) key: KeyArgs,
    /// The token, or - (the default) to read it from standard input.
    #[arg(default_value = "-")]
    pub(crate) token: String,
    /// Expected issuer.
    #[arg(
        long,
        env = "PASSCARD_ISSUER",
        default_value = "passcard",
        conflicts_with = "any_iss"
    )]
    pub(crate) iss: String,
    /// Accept any issuer (loosens the check).
    #[arg(long)]
    pub(crate) any_iss: bool,
    /// Expected audience.
    #[arg(
        long,
        env = "PASSCARD_AUDIENCE",
        default_value = "passcard",
        conflicts_with = "any_aud"
    )]
    pub(crate) aud: String,
    /// Accept any audience (loosens the check).
    #[arg(long)]
    pub(crate) any_aud: bool,
    /// Expected header typ, like at+jwt [default: not checked].
    #[arg(long)]
    pub(crate) typ: Option<String>,
    /// Allowed clock skew for exp, nbf and iat.
    #[arg(long, default_value = "30s", value_parser = crate::human::parse_duration)]
    pub(crate) leeway: std::time::Duration,
    /// Check the token as of this time: a Unix time or an RFC 3339 date
    /// (2026-11-26T12:00:00Z) [default: now].
    #[arg(long, value_parser = crate::human::parse_time)]
    pub(crate) at: Option<passcard_jwt::UnixTime>,
}

/// Parses the command line, runs the command, and maps errors to exit
/// codes. Errors are printed as one line, never as a panic or a backtrace.
pub fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let result = match cli.command {
        Command::Keygen(args) => commands::keygen::run(&args),
        Command::Token(TokenCommand::Issue(args)) => commands::token::issue(&args),
        Command::Token(TokenCommand::Inspect(args)) => commands::token::inspect(&args),
        Command::Token(TokenCommand::Verify(args)) => commands::token::verify(&args),
        Command::Serve(args) => commands::serve::run(&args),
        Command::Compare(args) => commands::compare::run(&args),
        Command::User(command) => commands::user::run(&command),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("passcard: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
