//! `passcard compare`: its flags, and the instances it starts (in this
//! process, on loopback ports) for passcard-compare.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use async_trait::async_trait;
use clap::Args;
use passcard_compare::{Instance, Launcher, Mode as CompareMode, Options, Running};
use passcard_jwt::{Clock as _, SystemClock};

use crate::config::{Config, KeySource, Mode, SessionSettings};
use crate::domain::{Role, hash_password};
use crate::http::{AppState, RunningServer};
use crate::human::HumanDuration;

/// `passcard compare` flags.
#[derive(Debug, Args)]
pub(super) struct CompareArgs {
    /// How long to load each mode's `GET /v1/me`.
    #[arg(long, default_value = "5s")]
    duration: HumanDuration,
    /// Concurrent requests during the load.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Also measure on this PostgreSQL database (passcard creates its tables
    /// there: use a scratch database).
    #[arg(long, env = "PASSCARD_COMPARE_POSTGRES", hide_env_values = true)]
    postgres: Option<String>,
    /// Also measure sessions kept in this Redis.
    #[arg(long, env = "PASSCARD_COMPARE_REDIS", hide_env_values = true)]
    redis: Option<String>,
    /// Folder for compare.md, compare.json and compare.svg.
    #[arg(long, default_value = "compare-out")]
    out: PathBuf,
}

pub(super) fn run(args: &CompareArgs) -> anyhow::Result<ExitCode> {
    let mut options = Options::new(args.out.clone());
    options.duration = args.duration.0;
    options.concurrency = args.concurrency;
    options.postgres.clone_from(&args.postgres);
    options.redis.clone_from(&args.redis);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(passcard_compare::run(&options, &InProcess))?;
    Ok(ExitCode::SUCCESS)
}

/// Starts instances in this process.
struct InProcess;

#[async_trait]
impl Launcher for InProcess {
    async fn start(&self, instance: Instance) -> anyhow::Result<Box<dyn Running>> {
        let mut config = Config::with_data_dir(instance.data_dir);
        if let Some(url) = instance.database_url {
            config.storage.database_url = url;
        }
        config.keys.source = Some(KeySource::File(instance.key_file));
        config.mode = match instance.mode {
            CompareMode::Token => Mode::Token,
            CompareMode::Session => Mode::Session(SessionSettings {
                store: instance.session_store,
                prefix: instance.session_prefix,
                ..SessionSettings::default()
            }),
        };
        let state = AppState::build(config, Arc::new(SystemClock::new())).await?;
        Ok(Box::new(crate::http::spawn(state).await?))
    }
}

#[async_trait]
impl Running for RunningServer {
    fn addr(&self) -> SocketAddr {
        self.addr
    }

    async fn create_admin(&self, name: &str, password: &str) -> anyhow::Result<()> {
        let password = password.to_owned();
        let hash = tokio::task::spawn_blocking(move || hash_password(&password)).await??;
        let now = i64::try_from(SystemClock::new().now().as_secs()).unwrap_or(i64::MAX);
        self.state
            .auth
            .store()
            .create_user(name, &hash, Role::Admin.as_str(), now)
            .await?;
        Ok(())
    }

    async fn close_store(&self) {
        self.state.auth.store().close().await;
    }

    async fn stop(self: Box<Self>) -> anyhow::Result<()> {
        Self::stop(*self).await
    }
}
