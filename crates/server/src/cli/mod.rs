//! The command line: one module per subcommand, each with its flags;
//! [`run`] parses and dispatches.

mod compare;
mod keygen;
mod serve;
mod token;
mod user;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::{create_private_dir, defaults, sqlite_url};

/// passcard: stateless authentication with JWTs.
///
/// Keys come from the environment: PASSCARD_SECRET (a base64url HMAC secret,
/// made by `passcard keygen`) or PASSCARD_KEY_FILE / --key-file (a JWK or a
/// JWK Set). Exit codes: 0 success, 1 invalid token, 2 usage or
/// configuration error.
#[derive(Debug, Parser)]
#[command(name = "passcard", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate a fresh signing key from the operating system's CSPRNG.
    Keygen(keygen::KeygenArgs),
    /// Issue, inspect and verify tokens.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Run the authentication server (HTTP API, SQLite store by default).
    Serve(Box<serve::ServeArgs>),
    /// Measure stateless tokens against server-side sessions on this
    /// machine, side by side: starts instances on loopback ports itself and
    /// prints the table (also written as Markdown, JSON and an SVG chart).
    Compare(compare::CompareArgs),
    /// Manage users in the server's store (changes reach running servers).
    #[command(subcommand)]
    User(user::UserCommand),
}

/// Where the key comes from, for the token commands and the server.
#[derive(Debug, Args)]
struct KeyArgs {
    /// A JWK or JWK Set file holding the key(s). Otherwise PASSCARD_SECRET
    /// (base64url HMAC secret; PASSCARD_SECRET_ALG picks HS384/HS512).
    #[arg(long, env = "PASSCARD_KEY_FILE", value_name = "PATH")]
    key_file: Option<PathBuf>,
}

/// Where the data lives; shared by `serve` and `user`.
#[derive(Debug, Args)]
struct DataArgs {
    /// Folder for the default SQLite database and the generated key.
    #[arg(long, env = "PASSCARD_DATA_DIR", default_value = defaults::DATA_DIR)]
    data_dir: PathBuf,
    /// Database URL: sqlite://PATH or postgres://USER@HOST/DB [default: sqlite://DATA_DIR/passcard.db].
    #[arg(long, env = "PASSCARD_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
}

impl DataArgs {
    /// The database URL: the flag, or a SQLite file in the data folder
    /// (created, private).
    fn url(&self) -> anyhow::Result<String> {
        match &self.database_url {
            Some(url) => Ok(url.clone()),
            None => {
                create_private_dir(&self.data_dir).map_err(|e| {
                    anyhow::anyhow!("cannot create data folder {}: {e}", self.data_dir.display())
                })?;
                Ok(sqlite_url(&self.data_dir))
            }
        }
    }
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
        Command::Keygen(args) => keygen::run(&args),
        Command::Token(command) => token::run(&command),
        Command::Serve(args) => serve::run(&args),
        Command::Compare(args) => compare::run(&args),
        Command::User(command) => user::run(&command),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("passcard: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
