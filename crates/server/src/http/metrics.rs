//! Prometheus metrics, in a registry owned by the app state (no globals).

use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
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

/// The values that live elsewhere, read when metrics are rendered.
#[derive(Clone, Copy, Debug)]
pub struct Snapshot {
    /// Queries the store and the session store have run.
    pub store_queries: u64,
    /// Access-token ids on the denylist.
    pub denylist: usize,
    /// Users with a version bump held in memory.
    pub versions: usize,
    /// Revoked logins (refresh families) held in memory.
    pub families: usize,
    /// How old the revocation view is.
    pub lag: std::time::Duration,
    /// The verified-token cache's hits and misses.
    pub cache: passcard_axum::CacheStats,
    /// Password hashes computed, by purpose.
    pub hashes: crate::domain::HashCounts,
}

/// The most route names kept; more (there are not) count as `other`.
const MAX_ROUTES: usize = 256;

/// The route names seen in this process, each kept once (a bounded set:
/// route templates, not paths), so counting a request allocates nothing.
static ROUTES: std::sync::LazyLock<std::sync::RwLock<std::collections::HashSet<&'static str>>> =
    std::sync::LazyLock::new(Default::default);

/// `route`, kept for the life of the process the first time it is seen.
fn route_name(route: &str) -> &'static str {
    if let Some(name) = ROUTES
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(route)
    {
        return name;
    }
    let mut routes = ROUTES
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(name) = routes.get(route) {
        return name;
    }
    if routes.len() >= MAX_ROUTES {
        return "other";
    }
    let name: &'static str = Box::leak(route.into());
    routes.insert(name);
    name
}

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
    families: Gauge,
    refreshes: Family<OutcomeLabels, Counter>,
    revocation_lag: Gauge<f64, std::sync::atomic::AtomicU64>,
    cache_hits: Counter,
    cache_misses: Counter,
    cache_seen: (AtomicU64, AtomicU64),
    hashes: Family<PurposeLabels, Counter>,
    hashes_seen: (AtomicU64, AtomicU64),
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PurposeLabels {
    purpose: &'static str,
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
            "Credentials refused (access tokens, session cookies), by reason",
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
        let families = Gauge::default();
        registry.register(
            "revoked_family_entries",
            "Revoked logins (refresh families) held in memory: their access tokens are refused",
            families.clone(),
        );
        let revocation_lag = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        registry.register(
            "revocation_lag_seconds",
            "Time since the revocation view was last known complete",
            revocation_lag.clone(),
        );
        let cache_hits = Counter::default();
        registry.register(
            "verify_cache_hits",
            "Access tokens found in the verified-token cache (signature check skipped)",
            cache_hits.clone(),
        );
        let cache_misses = Counter::default();
        registry.register(
            "verify_cache_misses",
            "Access tokens not in the verified-token cache (fully verified)",
            cache_misses.clone(),
        );
        let hashes = Family::<PurposeLabels, Counter>::default();
        registry.register(
            "password_hashes",
            "argon2id computations, by purpose (login or register), each with a budget of its own",
            hashes.clone(),
        );
        for purpose in ["login", "register"] {
            let _ = hashes.get_or_create(&PurposeLabels { purpose });
        }
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
            families,
            refreshes,
            revocation_lag,
            cache_hits,
            cache_misses,
            cache_seen: (AtomicU64::new(0), AtomicU64::new(0)),
            hashes,
            hashes_seen: (AtomicU64::new(0), AtomicU64::new(0)),
        }
    }

    /// Counts a request. `route` is a route template (finitely many), so
    /// each is kept once and the count needs no allocation.
    pub fn request(&self, route: &str, status: u16) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route_name(route),
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
    /// live elsewhere (store query count, revocation table sizes, cache
    /// counters).
    pub fn render(&self, now: &Snapshot) -> String {
        self.revocation_lag.set(now.lag.as_secs_f64());
        let catch_up = |counter: &Counter, seen: &AtomicU64, total: u64| {
            let before = seen.swap(total, Ordering::Relaxed);
            counter.inc_by(total.saturating_sub(before));
        };
        catch_up(
            &self.store_queries,
            &self.store_queries_seen,
            now.store_queries,
        );
        catch_up(&self.cache_hits, &self.cache_seen.0, now.cache.hits);
        catch_up(&self.cache_misses, &self.cache_seen.1, now.cache.misses);
        let login = self
            .hashes
            .get_or_create(&PurposeLabels { purpose: "login" });
        catch_up(&login, &self.hashes_seen.0, now.hashes.login);
        let register = self.hashes.get_or_create(&PurposeLabels {
            purpose: "register",
        });
        catch_up(&register, &self.hashes_seen.1, now.hashes.register);
        self.denylist
            .set(i64::try_from(now.denylist).unwrap_or(i64::MAX));
        self.versions
            .set(i64::try_from(now.versions).unwrap_or(i64::MAX));
        self.families
            .set(i64::try_from(now.families).unwrap_or(i64::MAX));
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
