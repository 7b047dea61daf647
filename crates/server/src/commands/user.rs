//! `passcard user add | set-role | ban`: administration on the store a
//! server uses. Changes reach running servers through the revocation log.

use std::io::{BufRead as _, IsTerminal as _};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use passcard_store::{Store, StoreError};

use crate::cli::{UserAddArgs, UserBanArgs, UserCommand, UserSetRoleArgs};
use crate::routes::{ROLES, check_password, normalize_username};
use crate::state::now_secs;

pub(crate) fn run(command: &UserCommand) -> anyhow::Result<ExitCode> {
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
        let store = passcard_store::open(&url).await.with_context(|| {
            format!(
                "cannot open the database {}",
                crate::state::redact_url(&url)
            )
        })?;
        match command {
            UserCommand::Add(a) => add(&*store, a).await,
            UserCommand::SetRole(a) => set_role(&*store, a).await,
            UserCommand::Ban(a) => ban(&*store, a).await,
        }
    })
}

fn api(e: crate::error::ApiError) -> anyhow::Error {
    anyhow::Error::new(e)
}

fn check_role(role: &str) -> anyhow::Result<()> {
    if ROLES.contains(&role) {
        Ok(())
    } else {
        bail!("unknown role \"{role}\"; roles are: {}", ROLES.join(", "))
    }
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
    check_password(&password).map_err(api)?;
    Ok(password)
}

async fn add(store: &dyn Store, a: &UserAddArgs) -> anyhow::Result<ExitCode> {
    let name = normalize_username(&a.name).map_err(api)?;
    check_role(&a.role)?;
    let password = read_password()?;
    let hash = tokio::task::spawn_blocking(move || crate::password::hash_now(&password)).await??;
    match store.create_user(&name, &hash, &a.role, now_secs()).await {
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
    let name = normalize_username(name).map_err(api)?;
    store
        .user_by_name(&name)
        .await?
        .with_context(|| format!("no user named {name}"))
}

async fn set_role(store: &dyn Store, a: &UserSetRoleArgs) -> anyhow::Result<ExitCode> {
    check_role(&a.role)?;
    let user = find(store, &a.name).await?;
    store
        .set_role(user.id, &a.role, now_secs())
        .await?
        .with_context(|| format!("no user named {}", user.username))?;
    println!(
        "{} is now {}; tokens issued before are refused from now on",
        user.username, a.role
    );
    Ok(ExitCode::SUCCESS)
}

async fn ban(store: &dyn Store, a: &UserBanArgs) -> anyhow::Result<ExitCode> {
    let user = find(store, &a.name).await?;
    store.revoke_user(user.id, true, now_secs()).await?;
    println!(
        "{} is banned: logins and refreshes fail, and their tokens are refused from now on",
        user.username
    );
    Ok(ExitCode::SUCCESS)
}
