//! Prometheus metrics, in a registry owned by the app state (no globals).

use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

/// Reasons a Bearer token is refused (passcard_jwt::Error::reason, plus the
/// header and revocation checks).
const VERIFY_REASONS: [&str; 16] = [
    "malformed_header",
    "too_large",
    "malformed",
    "unsupported_algorithm",
    "unknown_key",
    "algorithm_mismatch",
    "unsupported_header",
    "bad_signature",
    "invalid_claims",
    "expired",
    "not_yet_valid",
    "wrong_issuer",
    "wrong_audience",
    "wrong_type",
    "revoked",
    "revocation_view_stale",
];

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    verify_failures: Family<ReasonLabels, Counter>,
    logins: Family<OutcomeLabels, Counter>,
    store_queries: Counter,
    store_queries_seen: AtomicU64,
    denylist: Gauge,
    versions: Gauge,
    refreshes: Family<OutcomeLabels, Counter>,
    revocation_lag: Gauge<f64, std::sync::atomic::AtomicU64>,
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("passcard");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        let verify_failures = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "token_verification_failures",
            "Bearer tokens refused, by reason",
            verify_failures.clone(),
        );
        let logins = Family::<OutcomeLabels, Counter>::default();
        registry.register("logins", "Login attempts by outcome", logins.clone());
        let refreshes = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "refreshes",
            "Refresh attempts by outcome",
            refreshes.clone(),
        );
        let store_queries = Counter::default();
        registry.register(
            "store_queries",
            "Queries run against the store",
            store_queries.clone(),
        );
        let denylist = Gauge::default();
        registry.register(
            "denylist_entries",
            "Access-token ids on the in-memory denylist",
            denylist.clone(),
        );
        let versions = Gauge::default();
        registry.register(
            "user_version_entries",
            "Users with a recent token-version bump held in memory",
            versions.clone(),
        );
        let revocation_lag = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        registry.register(
            "revocation_lag_seconds",
            "Time since the revocation view was last known complete",
            revocation_lag.clone(),
        );
        // Known label values start at zero, so dashboards and alerts see
        // the series before the first event.
        for outcome in ["success", "failure", "rate_limited"] {
            let _ = logins.get_or_create(&OutcomeLabels { outcome });
        }
        for outcome in ["success", "refused", "error"] {
            let _ = refreshes.get_or_create(&OutcomeLabels { outcome });
        }
        for reason in VERIFY_REASONS {
            let _ = verify_failures.get_or_create(&ReasonLabels { reason });
        }
        Self {
            registry,
            requests,
            verify_failures,
            logins,
            store_queries,
            store_queries_seen: AtomicU64::new(0),
            denylist,
            versions,
            refreshes,
            revocation_lag,
        }
    }

    /// Counts a request.
    pub fn request(&self, route: &str, status: u16) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_owned(),
                status,
            })
            .inc();
    }

    /// Counts a refused Bearer token.
    pub fn verify_failure(&self, reason: &'static str) {
        self.verify_failures
            .get_or_create(&ReasonLabels { reason })
            .inc();
    }

    /// Counts a login attempt.
    pub fn login(&self, outcome: &'static str) {
        self.logins.get_or_create(&OutcomeLabels { outcome }).inc();
    }

    /// Counts a refresh attempt.
    pub fn refresh(&self, outcome: &'static str) {
        self.refreshes
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    /// Renders the text exposition format, after syncing the values that
    /// live elsewhere (store query count, revocation table sizes).
    pub fn render(
        &self,
        store_queries: u64,
        denylist: usize,
        versions: usize,
        lag: std::time::Duration,
    ) -> String {
        self.revocation_lag.set(lag.as_secs_f64());
        let seen = self
            .store_queries_seen
            .swap(store_queries, Ordering::Relaxed);
        self.store_queries
            .inc_by(store_queries.saturating_sub(seen));
        self.denylist
            .set(i64::try_from(denylist).unwrap_or(i64::MAX));
        self.versions
            .set(i64::try_from(versions).unwrap_or(i64::MAX));
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
