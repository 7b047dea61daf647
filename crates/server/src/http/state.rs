//! Application state: built once at start, shared by every request.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use passcard_axum::{KeySource, Verifier, access_policy};
use passcard_jwt::Clock;

use super::cookie;
use super::metrics::Metrics;
use crate::config::{Config, Mode};
use crate::domain::Auth;

/// Everything a request may need. Cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

/// The parts of [`AppState`].
#[non_exhaustive]
pub struct Inner {
    /// The checked configuration.
    pub config: Config,
    /// The domain: accounts, tokens, sessions, revocations.
    pub auth: Auth,
    /// The verification pipeline for Bearer tokens (shared with resource
    /// servers: passcard-axum).
    pub verifier: Verifier,
    /// Metrics.
    pub metrics: Metrics,
    /// Whether the revocation push channel (PostgreSQL LISTEN) is up.
    pub listening: Arc<AtomicBool>,
    /// Turns true when the server starts shutting down: long-lived
    /// responses (the revocation event streams) end.
    shutdown: tokio::sync::watch::Sender<bool>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Opens the domain (store, keys, revocation log) for `config`, taking
    /// time from `clock`: everything a server needs before it listens.
    pub async fn build(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        for warning in config.warnings() {
            tracing::warn!("{warning}");
        }
        for note in config.notes() {
            tracing::info!("{note}");
        }
        let auth = Auth::open(&config, clock.clone()).await?;
        let t = &config.tokens;
        let mut verifier = Verifier::new(
            KeySource::from(auth.verifying_keys().clone()),
            access_policy(t.issuer.clone(), t.audience.clone(), t.leeway),
        )
        .with_clock(clock)
        .with_cache(config.verify_cache)
        .with_revocations(auth.revocations().list().clone());
        if let Some(max) = config.revocation.max_lag {
            verifier = verifier.with_max_lag(max);
        }
        if config.mode == Mode::Token {
            verifier = verifier.with_cookie(
                cookie::access_name(&config.http),
                cookie::site(&config.http),
            );
        }
        // Every in-memory table has a bound; the revocation tables are
        // bounded in time instead (an entry goes once no token it concerns
        // can still be accepted).
        tracing::debug!(
            verify_cache_slots = verifier.cache_stats().slots,
            login_limiter_username_sketch_cells = crate::domain::LIMITER_SKETCH_CELLS,
            login_limiter_addresses = crate::domain::LIMITER_CAPACITY,
            login_limiter_devices = crate::domain::LIMITER_CAPACITY,
            registration_limiter_addresses = crate::domain::LIMITER_CAPACITY,
            revocation_entries_kept_for = ?(t.access_ttl + t.leeway),
            "in-memory bounds"
        );
        Ok(Self(Arc::new(Inner {
            config,
            auth,
            verifier,
            metrics: Metrics::new(),
            listening: Arc::new(AtomicBool::new(false)),
            shutdown: tokio::sync::watch::channel(false).0,
        })))
    }

    /// Tells long-lived responses that the server is shutting down.
    pub fn begin_shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    /// Turns true when the server starts shutting down.
    pub fn shutting_down(&self) -> tokio::sync::watch::Receiver<bool> {
        self.shutdown.subscribe()
    }
}
