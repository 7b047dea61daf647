//! `passcard serve`.

use std::process::ExitCode;

use anyhow::Context as _;

use crate::config::{LogFormat, ServeArgs};

pub(crate) fn run(args: &ServeArgs) -> anyhow::Result<ExitCode> {
    init_tracing(&args.log, args.log_format)?;
    let config = args.config()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let state = crate::state::AppState::build(config).await?;
        let listener = tokio::net::TcpListener::bind(state.config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", state.config.listen))?;
        tracing::info!(
            addr = %listener.local_addr()?,
            database = %crate::state::redact_url(&state.config.database_url),
            kid = state.signing.kid(),
            alg = %state.signing.algorithm(),
            "passcard listening"
        );
        let store = state.store.clone();
        let served = crate::app::serve_on(listener, state, crate::app::shutdown_signal()).await;
        // Closing the pool checkpoints SQLite's WAL and ends PostgreSQL
        // sessions cleanly instead of leaving them to time out.
        store.close().await;
        served
    })?;
    Ok(ExitCode::SUCCESS)
}

fn init_tracing(filter: &str, format: LogFormat) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .with_context(|| format!("PASSCARD_LOG {filter:?} is not a valid log filter"))?;
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let result = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    result.map_err(|e| anyhow::anyhow!("cannot set up logging: {e}"))
}
