//! `passcard serve`: its flags (each also an environment variable) and the
//! command.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{ArgAction, Args, ValueEnum};

use super::{DataArgs, KeyArgs};
use crate::config::{
    AccountPolicy, Config, ForwardedHeader, HttpSettings, IpNet, KeyConfig, KeySource,
    MetricsAccess, Mode, RevocationSettings, Secret, ServiceAccess, SessionSettings, SiteOrigin,
    TokenPolicy, defaults, parse_list, redact_url,
};
use crate::human::HumanDuration;

/// Flags of `passcard serve` (each also read from its environment variable).
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    key: KeyArgs,
    /// In a key file with several private keys, the kid of the one that
    /// signs [default: the first private key]. Every key in the file
    /// verifies, so keys can be rotated without downtime.
    #[arg(long, env = "PASSCARD_SIGNING_KID")]
    signing_kid: Option<String>,
    /// Address to listen on.
    #[arg(long, env = "PASSCARD_LISTEN", default_value_t = defaults::LISTEN)]
    listen: SocketAddr,
    #[command(flatten)]
    data: DataArgs,
    /// `iss` of issued tokens, and the only issuer accepted.
    #[arg(long, env = "PASSCARD_ISSUER", default_value = defaults::ISSUER)]
    issuer: String,
    /// `aud` of issued tokens, and the only audience accepted.
    #[arg(long, env = "PASSCARD_AUDIENCE", default_value = defaults::AUDIENCE)]
    audience: String,
    /// Lifetime of access tokens.
    #[arg(long, env = "PASSCARD_ACCESS_TTL", default_value_t = HumanDuration(defaults::ACCESS_TTL))]
    access_ttl: HumanDuration,
    /// Lifetime of a refresh token (each rotation starts a new one).
    #[arg(long, env = "PASSCARD_REFRESH_TTL", default_value_t = HumanDuration(defaults::REFRESH_TTL))]
    refresh_ttl: HumanDuration,
    /// How long a rotated refresh token may be presented again (a retry, a
    /// second tab) and get the same successor; after it, reuse revokes the
    /// whole family as theft.
    #[arg(long, env = "PASSCARD_REFRESH_REUSE_INTERVAL",
          default_value_t = HumanDuration(defaults::REFRESH_REUSE_INTERVAL))]
    refresh_reuse_interval: HumanDuration,
    /// Whether anyone may create an account with POST /v1/users.
    #[arg(long, env = "PASSCARD_OPEN_REGISTRATION", default_value_t = defaults::OPEN_REGISTRATION,
          action = ArgAction::Set)]
    open_registration: bool,
    /// Clock skew allowed on exp, nbf and iat.
    #[arg(long, env = "PASSCARD_LEEWAY", default_value_t = HumanDuration(defaults::LEEWAY))]
    leeway: HumanDuration,
    /// Failed logins allowed per username and per client address within the
    /// window before 429.
    #[arg(long, env = "PASSCARD_LOGIN_MAX_FAILURES", default_value_t = defaults::LOGIN_MAX_FAILURES)]
    login_max_failures: u32,
    /// The window for --login-max-failures.
    #[arg(long, env = "PASSCARD_LOGIN_FAILURE_WINDOW",
          default_value_t = HumanDuration(defaults::LOGIN_FAILURE_WINDOW))]
    login_failure_window: HumanDuration,
    /// Password hashes computed at once [default: CPU cores - 1, at least 1],
    /// so a flood of logins leaves a core for token verification.
    #[arg(long, env = "PASSCARD_HASH_CONCURRENCY")]
    hash_concurrency: Option<usize>,
    /// Registrations allowed per client address within the window, every
    /// attempt counted (a taken name too) before 429.
    #[arg(long, env = "PASSCARD_REGISTRATIONS_PER_ADDRESS",
          default_value_t = defaults::REGISTRATIONS_PER_ADDRESS)]
    registrations_per_address: u32,
    /// The window for --registrations-per-address.
    #[arg(long, env = "PASSCARD_REGISTRATION_WINDOW",
          default_value_t = HumanDuration(defaults::REGISTRATION_WINDOW))]
    registration_window: HumanDuration,
    /// Password hashes computed at once for registrations, in a queue of
    /// their own so registrations never delay a login [default: half of
    /// --hash-concurrency, at least 1].
    #[arg(long, env = "PASSCARD_REGISTRATION_HASH_CONCURRENCY")]
    registration_hash_concurrency: Option<usize>,
    /// Safety poll of the revocation log, for changes made elsewhere (the
    /// `passcard user` commands, other instances). PostgreSQL also pushes
    /// them at once (LISTEN/NOTIFY); the poll catches anything missed.
    #[arg(long, env = "PASSCARD_REVOCATION_POLL", default_value_t = HumanDuration(defaults::REVOCATION_POLL))]
    revocation_poll: HumanDuration,
    /// Refuse tokens (503) while the revocation view is older than this,
    /// e.g. 30s, for deployments that prefer to fail closed when the store
    /// is unreachable [default: keep verifying].
    #[arg(long, env = "PASSCARD_REVOCATION_MAX_LAG")]
    revocation_max_lag: Option<HumanDuration>,
    /// Slots of the cache of verified access tokens (0 disables it): a
    /// repeat request with the same token skips the signature check, never
    /// the expiry or revocation checks.
    #[arg(long, env = "PASSCARD_VERIFY_CACHE", default_value_t = defaults::VERIFY_CACHE)]
    verify_cache: usize,
    /// The service credential other services present: for the revocation
    /// feed (/v1/revocations, as a Bearer token) and token introspection
    /// (/oauth/introspect, as a Bearer token or as the client secret of
    /// --service-client-id); at least 32 characters. Read from the
    /// environment only (PASSCARD_SERVICE_TOKEN, or the older
    /// PASSCARD_FEED_TOKEN); both endpoints are off without it.
    #[arg(skip = secret_from_env(&["PASSCARD_SERVICE_TOKEN", "PASSCARD_FEED_TOKEN"]))]
    service_token: Option<Secret>,
    /// The OAuth client id that goes with the service credential (HTTP
    /// Basic or client_secret_post at /oauth/introspect).
    #[arg(long, env = "PASSCARD_SERVICE_CLIENT_ID", default_value = defaults::SERVICE_CLIENT_ID)]
    service_client_id: String,
    /// Whether the OAuth token endpoint (/oauth/token) takes
    /// grant_type=password, under the login limits. Off: OAuth 2.1 drops
    /// it; browsers and apps use /v1/login.
    #[arg(long, env = "PASSCARD_PASSWORD_GRANT", default_value_t = false, action = ArgAction::Set)]
    password_grant: bool,
    /// Authentication model: `token` (stateless JWTs, the default) or
    /// `session` (a server-side session per login, looked up on every
    /// request, in a `__Host-passcard_session` cookie).
    #[arg(long, env = "PASSCARD_MODE", value_enum, default_value = "token")]
    mode: ModeArg,
    /// Where sessions live in session mode: the main database (default) or
    /// Redis (`redis://host:6379`).
    #[arg(long, env = "PASSCARD_SESSION_STORE", hide_env_values = true)]
    session_store: Option<String>,
    /// Prefix of the session keys in Redis (deployments sharing a Redis
    /// need different ones).
    #[arg(long, env = "PASSCARD_SESSION_PREFIX", default_value = defaults::SESSION_PREFIX)]
    session_prefix: String,
    /// Connections to the session Redis. Each pipelines the commands of
    /// concurrent requests; one was fastest against a local Redis
    /// (docs/benchmarks.md), more may help against a distant one.
    #[arg(long, env = "PASSCARD_REDIS_CONNECTIONS", default_value_t = 1,
          value_parser = clap::value_parser!(u16).range(1..=64))]
    redis_connections: u16,
    /// A session ends after this long without use.
    #[arg(long, env = "PASSCARD_SESSION_IDLE", default_value_t = HumanDuration(defaults::SESSION_IDLE))]
    session_idle: HumanDuration,
    /// A session ends this long after login, used or not.
    #[arg(long, env = "PASSCARD_SESSION_TTL", default_value_t = HumanDuration(defaults::SESSION_TTL))]
    session_ttl: HumanDuration,
    /// A client that has not sent a request's whole head within this is
    /// disconnected (slow clients); an idle keep-alive connection is closed
    /// after it.
    #[arg(long, env = "PASSCARD_HEADER_TIMEOUT", default_value_t = HumanDuration(defaults::HEADER_TIMEOUT))]
    header_timeout: HumanDuration,
    /// Connections served at once; past it, new ones wait in the listen
    /// backlog [default: 1024, or half the open-file limit if lower].
    #[arg(long, env = "PASSCARD_MAX_CONNECTIONS")]
    max_connections: Option<usize>,
    /// A request whose body has not arrived whole within this of its head
    /// is answered 408 and its connection closed (slow or stalled bodies).
    #[arg(long, env = "PASSCARD_BODY_TIMEOUT", default_value_t = HumanDuration(defaults::BODY_TIMEOUT))]
    body_timeout: HumanDuration,
    /// Every request is answered within this of its head (408 while its
    /// body is still arriving, 503 when the server is the one taking too
    /// long); the revocation event stream is exempt. At least
    /// --body-timeout.
    #[arg(long, env = "PASSCARD_REQUEST_TIMEOUT", default_value_t = HumanDuration(defaults::REQUEST_TIMEOUT))]
    request_timeout: HumanDuration,
    /// How long a shutdown (SIGTERM, SIGINT) waits for requests in flight;
    /// the revocation event streams end at once.
    #[arg(long, env = "PASSCARD_SHUTDOWN_TIMEOUT", default_value_t = HumanDuration(defaults::SHUTDOWN_TIMEOUT))]
    shutdown_timeout: HumanDuration,
    /// Proxies whose forwarding header names the client (addresses or CIDR
    /// ranges, comma-separated) [default: none: every client is the TCP
    /// peer]. Only a request from one of them is read for the client
    /// address: the rightmost hop that is not itself trusted.
    #[arg(long, env = "PASSCARD_TRUSTED_PROXIES", value_parser = trusted_proxies, default_value = "")]
    trusted_proxies: TrustedProxies,
    /// The header the trusted proxies set: `x-forwarded-for` or
    /// `forwarded` (RFC 7239). The other is ignored, so a client cannot
    /// slip its own past the proxy.
    #[arg(
        long,
        env = "PASSCARD_FORWARDED_HEADER",
        value_enum,
        default_value = "x-forwarded-for"
    )]
    forwarded_header: ForwardedArg,
    /// The origin browsers reach this server at, e.g.
    /// `https://auth.example.com` (scheme, host, port; no path): an unsafe
    /// request authenticated by a cookie is accepted from it without the
    /// X-Passcard-CSRF header [default: the request's own Host].
    #[arg(long, env = "PASSCARD_PUBLIC_URL")]
    public_url: Option<SiteOrigin>,
    /// Mark cookies `Secure`, named `__Host-` (the access, refresh,
    /// session and device cookies), and without --public-url accept an
    /// unsafe request's `Origin` only over https (or from a loopback
    /// host). Browsers accept Secure cookies from http://localhost and
    /// 127.0.0.1, so turn it off only for plain HTTP on another host, in
    /// development (warned about at start).
    #[arg(long, env = "PASSCARD_COOKIE_SECURE", default_value_t = defaults::COOKIE_SECURE,
          action = ArgAction::Set)]
    cookie_secure: bool,
    /// Send `Strict-Transport-Security: max-age=<this>` on every answer,
    /// e.g. 365d or 31536000 (seconds): only once the server is reached
    /// over HTTPS alone, at a host of its own [default: off].
    #[arg(long, env = "PASSCARD_HSTS", value_parser = hsts_max_age)]
    hsts: Option<HumanDuration>,
    /// Refuse (400) a cookie-authenticated GET /v1/verify that does not say
    /// the method of the request it asks about (X-Original-Method or
    /// X-Forwarded-Method), so a cross-site POST cannot pass as a GET.
    /// Turn it off only for a proxy that cannot send either header.
    #[arg(long, env = "PASSCARD_VERIFY_REQUIRE_METHOD", default_value_t = defaults::VERIFY_REQUIRES_METHOD,
          action = ArgAction::Set)]
    verify_require_method: bool,
    /// Serve /metrics only on this address, on a listener of its own, and
    /// not on --listen [default: on --listen].
    #[arg(long, env = "PASSCARD_METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
    /// A Bearer token /metrics requires (at least 32 characters; make one
    /// with `passcard keygen`). Read from the environment only
    /// (PASSCARD_METRICS_TOKEN) [default: none].
    #[arg(skip = secret_from_env(&["PASSCARD_METRICS_TOKEN"]))]
    metrics_token: Option<Secret>,
    /// Logins (refresh families, or sessions) one user may hold at once; a
    /// new login past it ends the oldest.
    #[arg(long, env = "PASSCARD_MAX_LOGINS_PER_USER", default_value_t = defaults::MAX_LOGINS_PER_USER)]
    max_logins_per_user: u32,
    /// Refresh rotations one login (a refresh family) may make per minute,
    /// and as many revocations of its tokens through /oauth/revoke, counted
    /// apart; past it, 429 with Retry-After (the token stays good).
    #[arg(long, env = "PASSCARD_LOGIN_WRITES_PER_MINUTE", default_value_t = defaults::LOGIN_WRITES_PER_MINUTE)]
    login_writes_per_minute: u32,
    /// Log filter (tracing env-filter syntax).
    #[arg(long, env = "PASSCARD_LOG", default_value = "info")]
    log: String,
    /// Log format.
    #[arg(long, env = "PASSCARD_LOG_FORMAT", value_enum, default_value = "text")]
    log_format: LogFormat,
}

/// The first of these environment variables that is set and not empty
/// (`PASSCARD_SERVICE_TOKEN`, or the name it had first,
/// `PASSCARD_FEED_TOKEN`).
fn secret_from_env(names: &[&str]) -> Option<Secret> {
    names
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|t| !t.is_empty()))
        .map(Secret)
}

/// `--hsts`: a duration (`365d`) or whole seconds (`31536000`), as
/// `max-age` is usually written.
fn hsts_max_age(s: &str) -> Result<HumanDuration, String> {
    match s.trim().parse::<u64>() {
        Ok(secs) => Ok(HumanDuration(std::time::Duration::from_secs(secs))),
        Err(_) => s.parse(),
    }
}

/// Authentication model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ModeArg {
    /// Stateless access tokens and rotating refresh tokens.
    Token,
    /// Server-side sessions in a cookie.
    Session,
}

/// The header trusted proxies set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ForwardedArg {
    /// `X-Forwarded-For`.
    #[value(name = "x-forwarded-for")]
    XForwardedFor,
    /// `Forwarded` (RFC 7239).
    Forwarded,
}

/// A parsed `--trusted-proxies` list.
#[derive(Clone, Debug)]
struct TrustedProxies(Vec<IpNet>);

fn trusted_proxies(s: &str) -> Result<TrustedProxies, String> {
    parse_list(s)
        .map(TrustedProxies)
        .map_err(|e| format!("{e}; list addresses or ranges separated by commas"))
}

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl ServeArgs {
    /// The configuration these flags describe, checked.
    fn config(&self) -> anyhow::Result<Config> {
        let sessions = SessionSettings {
            store: self.session_store.clone(),
            prefix: self.session_prefix.clone(),
            redis_connections: usize::from(self.redis_connections),
            idle: self.session_idle.0,
            ttl: self.session_ttl.0,
        };
        // Refused in either mode: a flag given is a flag meant.
        sessions.check()?;
        let mode = match self.mode {
            ModeArg::Token => Mode::Token,
            ModeArg::Session => Mode::Session(sessions),
        };
        let mut config = Config::with_data_dir(self.data.data_dir.clone());
        config.listen = self.listen;
        config.keys = KeyConfig {
            source: KeySource::from_env_if_set(self.key.key_file.as_deref())?,
            signing_kid: self.signing_kid.clone(),
        };
        config.tokens = TokenPolicy {
            issuer: self.issuer.clone(),
            audience: self.audience.clone(),
            access_ttl: self.access_ttl.0,
            refresh_ttl: self.refresh_ttl.0,
            refresh_reuse_interval: self.refresh_reuse_interval.0,
            leeway: self.leeway.0,
        };
        let hash_concurrency = self
            .hash_concurrency
            .unwrap_or_else(defaults::hash_concurrency)
            .max(1);
        config.accounts = AccountPolicy {
            open_registration: self.open_registration,
            login_max_failures: self.login_max_failures,
            login_failure_window: self.login_failure_window.0,
            hash_concurrency,
            registrations_per_address: self.registrations_per_address,
            registration_window: self.registration_window.0,
            registration_hash_concurrency: self
                .registration_hash_concurrency
                .unwrap_or_else(|| defaults::registration_hash_concurrency(hash_concurrency))
                .max(1),
            password_grant: self.password_grant,
            max_logins_per_user: self.max_logins_per_user,
            login_writes_per_minute: self.login_writes_per_minute,
        };
        config.revocation = RevocationSettings {
            poll: self.revocation_poll.0,
            max_lag: self.revocation_max_lag.map(|d| d.0),
        };
        config.services = ServiceAccess {
            token: self.service_token.clone(),
            client_id: self.service_client_id.clone(),
        };
        config.metrics = MetricsAccess {
            listen: self.metrics_listen,
            token: self.metrics_token.clone(),
        };
        config.mode = mode;
        config.http = HttpSettings {
            header_timeout: self.header_timeout.0,
            body_timeout: self.body_timeout.0,
            request_timeout: self.request_timeout.0,
            max_connections: self
                .max_connections
                .unwrap_or_else(defaults::max_connections),
            shutdown_timeout: self.shutdown_timeout.0,
            trusted_proxies: self.trusted_proxies.0.clone(),
            forwarded_header: match self.forwarded_header {
                ForwardedArg::XForwardedFor => ForwardedHeader::XForwardedFor,
                ForwardedArg::Forwarded => ForwardedHeader::Forwarded,
            },
            public_url: self.public_url.clone(),
            cookie_secure: self.cookie_secure,
            hsts: self.hsts.map(|d| d.0),
            verify_requires_method: self.verify_require_method,
        };
        config.verify_cache = self.verify_cache.min(defaults::MAX_VERIFY_CACHE);
        config.check()?;
        // Only once the settings are good: this creates the data folder.
        config.storage.database_url = self.data.url()?;
        Ok(config)
    }
}

pub(crate) fn run(args: &ServeArgs) -> anyhow::Result<ExitCode> {
    init_tracing(&args.log, args.log_format)?;
    let config = args.config()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let clock = Arc::new(passcard_jwt::SystemClock::new());
        let state = crate::http::AppState::build(config, clock).await?;
        let listener = tokio::net::TcpListener::bind(state.config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", state.config.listen))?;
        let signing = state.auth.signing_key();
        tracing::info!(
            addr = %listener.local_addr()?,
            database = %redact_url(&state.config.storage.database_url),
            kid = signing.kid(),
            alg = %signing.algorithm(),
            "passcard listening"
        );
        let store = state.auth.store().clone();
        let served = crate::http::serve_on(listener, state, crate::http::shutdown_signal()).await;
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
    // Colour only on a terminal, and not when NO_COLOR asks otherwise
    // (no-color.org): a file or a pipe gets plain text.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stdout())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour);
    let result = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    result.map_err(|e| anyhow::anyhow!("cannot set up logging: {e}"))
}
