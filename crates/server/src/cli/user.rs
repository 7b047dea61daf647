//! `passcard user add | set-role | ban`: administration on the store a
//! server uses. Changes reach running servers through the revocation log.

use std::io::{BufRead as _, IsTerminal as _};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use passcard_jwt::{Clock as _, SystemClock};
use passcard_store::{Store, StoreError};

use super::DataArgs;
use crate::config::redact_url;
use crate::domain::{Role, Username, check_new_password, hash_password};

/// `passcard user …`.
#[derive(Debug, Subcommand)]
pub(super) enum UserCommand {
    /// Create a user; the password is read from a prompt, or from standard
    /// input when it is not a terminal.
    Add(UserAddArgs),
    /// Change a user's role; their current tokens stop working at once.
    SetRole(UserSetRoleArgs),
    /// Ban a user: no login, no refresh, current tokens refused.
    Ban(UserBanArgs),
}

#[derive(Debug, Args)]
pub(super) struct UserAddArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Username (3 to 32 of a-z, 0-9, '.', '_', '-').
    name: String,
    /// Role: user or admin.
    #[arg(long, default_value = "user")]
    role: String,
}

#[derive(Debug, Args)]
pub(super) struct UserSetRoleArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Username.
    name: String,
    /// New role: user or admin.
    role: String,
}

#[derive(Debug, Args)]
pub(super) struct UserBanArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Username.
    name: String,
}

pub(super) fn run(command: &UserCommand) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let data = match command {
            UserCommand::Add(a) => &a.data,
            UserCommand::SetRole(a) => &a.data,
            UserCommand::Ban(a) => &a.data,
        };
        let url = data.url()?;
        let store = passcard_store::open(&url)
            .await
            .with_context(|| format!("cannot open the database {}", redact_url(&url)))?;
        match command {
            UserCommand::Add(a) => add(&*store, a).await,
            UserCommand::SetRole(a) => set_role(&*store, a).await,
            UserCommand::Ban(a) => ban(&*store, a).await,
        }
    })
}

fn role(name: &str) -> anyhow::Result<Role> {
    Role::parse(name)
        .map_err(|_| anyhow::anyhow!("unknown role \"{name}\"; roles are: {}", Role::names()))
}

fn now() -> i64 {
    i64::try_from(SystemClock::new().now().as_secs()).unwrap_or(i64::MAX)
}

fn read_password() -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    let password = if stdin.is_terminal() {
        let first = rpassword::prompt_password("password: ").context("cannot read the password")?;
        let again = rpassword::prompt_password("again: ").context("cannot read the password")?;
        if first != again {
            bail!("the passwords differ");
        }
        first
    } else {
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    check_new_password(&password)?;
    Ok(password)
}

async fn add(store: &dyn Store, a: &UserAddArgs) -> anyhow::Result<ExitCode> {
    let name = Username::parse(&a.name)?;
    let role = role(&a.role)?;
    let password = read_password()?;
    let hash = tokio::task::spawn_blocking(move || hash_password(&password)).await??;
    match store
        .create_user(name.as_str(), &hash, role.as_str(), now())
        .await
    {
        Ok(user) => {
            println!(
                "created user {} (id {}, role {})",
                user.username, user.id, user.role
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(StoreError::Conflict) => bail!("user {name} already exists"),
        Err(e) => Err(e.into()),
    }
}

async fn find(store: &dyn Store, name: &str) -> anyhow::Result<passcard_store::User> {
    let name = Username::parse(name)?;
    store
        .user_by_name(name.as_str())
        .await?
        .with_context(|| format!("no user named {name}"))
}

async fn set_role(store: &dyn Store, a: &UserSetRoleArgs) -> anyhow::Result<ExitCode> {
    let role = role(&a.role)?;
    let user = find(store, &a.name).await?;
    store
        .set_role(user.id, role.as_str(), now())
        .await?
        .with_context(|| format!("no user named {}", user.username))?;
    println!(
        "{} is now {role}; tokens issued before are refused from now on",
        user.username
    );
    Ok(ExitCode::SUCCESS)
}

async fn ban(store: &dyn Store, a: &UserBanArgs) -> anyhow::Result<ExitCode> {
    let user = find(store, &a.name).await?;
    store.revoke_user(user.id, true, now()).await?;
    println!(
        "{} is banned: logins and refreshes fail, and their tokens are refused from now on",
        user.username
    );
    Ok(ExitCode::SUCCESS)
}
