//! `passcard compare`: stateless tokens against server-side sessions,
//! measured side by side on this machine.
//!
//! Each mode runs two instances sharing a store (plus one with a store of
//! its own, for "works across servers without a shared store"), all on
//! loopback ports, driven by a built-in load generator. A fourth instance
//! reaches network stores through a loopback proxy, so the store-outage row
//! can cut them.

mod outage;
mod report;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::app::{RunningServer, spawn};
use crate::config::{Config, Mode};
use crate::human::parse_duration;

/// `passcard compare` flags.
#[derive(Debug, Args)]
pub(crate) struct CompareArgs {
    /// How long to load each mode's `GET /v1/me`.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    duration: Duration,
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

/// One mode's figures.
#[derive(Debug, Serialize)]
struct Row {
    mode: String,
    store_queries_per_request: f64,
    requests_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
    works_across_servers_shared_store: bool,
    works_across_servers_no_shared_store: bool,
    logout_seen_by_other_instance_ms: Option<f64>,
    role_change_ms: Option<f64>,
    role_change_how: &'static str,
    /// None when the store's URL cannot go through a proxy (see
    /// `store_outage_not_measured`).
    store_outage: Option<outage::Outage>,
    store_outage_not_measured: Option<String>,
}

#[derive(Clone)]
enum Cred {
    Bearer(String),
    Cookie(String),
}

impl Cred {
    fn apply(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Self::Bearer(t) => req.bearer_auth(t),
            Self::Cookie(c) => req.header("cookie", c).header("x-passcard-csrf", "1"),
        }
    }
}

/// Where a mode keeps its data.
#[derive(Clone, Copy)]
enum Backend {
    Sqlite,
    Postgres,
    Redis,
}

struct Plan {
    label: String,
    mode: Mode,
    backend: Backend,
}

/// The steps of one mode, for the progress bar.
const STEPS: [&str; 7] = [
    "starting instances",
    "counting store queries",
    "load",
    "across servers",
    "logout propagation",
    "role change",
    "store outage",
];

/// A progress bar on a terminal; one line per step elsewhere (CI logs).
struct Progress {
    bar: ProgressBar,
    mode: String,
}

impl Progress {
    fn new(modes: usize) -> Self {
        let bar = ProgressBar::new((modes * STEPS.len()) as u64);
        bar.set_style(
            ProgressStyle::with_template("{elapsed:>4} [{bar:32}] {pos}/{len} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        Self {
            bar,
            mode: String::new(),
        }
    }

    fn mode(&mut self, label: &str) {
        label.clone_into(&mut self.mode);
    }

    fn step(&self, index: usize) {
        let msg = format!("{}: {}", self.mode, STEPS[index]);
        if self.bar.is_hidden() {
            eprintln!("{msg}");
        }
        self.bar.set_message(msg);
    }

    fn done_step(&self) {
        self.bar.inc(1);
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

pub(crate) fn run(args: &CompareArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(compare(args))
}

/// A network store: its URL, and a proxy in front of it for the outage, or
/// why there cannot be one.
struct NetStore {
    url: String,
    proxy: Result<(outage::Proxy, String), String>,
}

/// The network stores given.
struct Stores {
    postgres: Option<NetStore>,
    redis: Option<NetStore>,
}

impl Stores {
    /// The network store a backend uses (None for SQLite).
    fn of(&self, backend: Backend) -> Option<&NetStore> {
        match backend {
            Backend::Sqlite => None,
            Backend::Postgres => self.postgres.as_ref(),
            Backend::Redis => self.redis.as_ref(),
        }
    }
}

/// The store at `url`, which must answer; a proxy in front of it where
/// the URL allows one.
async fn proxied(url: &str, default_port: u16) -> anyhow::Result<NetStore> {
    let parsed = reqwest::Url::parse(url).context("not a URL")?;
    let proxy = match outage::unproxyable(&parsed) {
        Some(why) => Err(why.to_owned()),
        None => {
            let proxy = outage::Proxy::start(outage::target(&parsed, default_port).await?).await?;
            let through = outage::through(url, proxy.addr)?;
            Ok((proxy, through))
        }
    };
    Ok(NetStore {
        url: url.to_owned(),
        proxy,
    })
}

async fn compare(args: &CompareArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.concurrency > 0, "--concurrency must be at least 1");
    let stores = Stores {
        postgres: match &args.postgres {
            Some(url) => Some(proxied(url, 5432).await.context("--postgres")?),
            None => None,
        },
        redis: match &args.redis {
            Some(url) => Some(proxied(url, 6379).await.context("--redis")?),
            None => None,
        },
    };
    let mut plans = vec![
        Plan {
            label: "tokens · SQLite".into(),
            mode: Mode::Token,
            backend: Backend::Sqlite,
        },
        Plan {
            label: "sessions · SQLite".into(),
            mode: Mode::Session,
            backend: Backend::Sqlite,
        },
    ];
    if stores.postgres.is_some() {
        plans.push(Plan {
            label: "tokens · PostgreSQL".into(),
            mode: Mode::Token,
            backend: Backend::Postgres,
        });
        plans.push(Plan {
            label: "sessions · PostgreSQL".into(),
            mode: Mode::Session,
            backend: Backend::Postgres,
        });
    }
    if stores.redis.is_some() {
        plans.push(Plan {
            label: "sessions · Redis".into(),
            mode: Mode::Session,
            backend: Backend::Redis,
        });
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let work = args.out.join(format!("work-{}", std::process::id()));
    let key = passcard_jwt::SigningKey::generate(passcard_jwt::Algorithm::HS256)?;
    let mut rows = Vec::new();
    let mut progress = Progress::new(plans.len());
    let measured = measure_all(args, &stores, &plans, &work, &key, &mut progress, &mut rows).await;
    progress.finish();
    measured?;
    let _ = std::fs::remove_dir_all(&work);
    let table = report::markdown(&rows, args);
    println!("{table}");
    std::fs::write(args.out.join("compare.md"), &table)?;
    std::fs::write(
        args.out.join("compare.json"),
        serde_json::to_string_pretty(&rows)?,
    )?;
    std::fs::write(args.out.join("compare.svg"), report::svg(&rows))?;
    eprintln!("written: {}/compare.{{md,json,svg}}", args.out.display());
    Ok(ExitCode::SUCCESS)
}

/// Measures every plan in turn, each in a folder of its own under `work`.
async fn measure_all(
    args: &CompareArgs,
    stores: &Stores,
    plans: &[Plan],
    work: &std::path::Path,
    key: &passcard_jwt::SigningKey,
    progress: &mut Progress,
    rows: &mut Vec<Row>,
) -> anyhow::Result<()> {
    for (i, plan) in plans.iter().enumerate() {
        progress.mode(&plan.label);
        let dir = work.join(format!("mode-{i}"));
        std::fs::create_dir_all(&dir)?;
        let key_file = dir.join("key.json");
        crate::state::write_private(
            &key_file,
            serde_json::to_string(&key.to_private_jwk())?.as_bytes(),
        )?;
        let row = measure(args, stores, plan, &dir, &key_file, i, progress).await;
        let _ = std::fs::remove_dir_all(&dir);
        rows.push(row.with_context(|| format!("measuring {}", plan.label))?);
    }
    Ok(())
}

/// Which store an instance uses.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Uses {
    /// The mode's store, directly (the measured instances).
    Shared,
    /// The mode's store through its proxy (the instance the outage hits).
    SharedViaProxy,
    /// A SQLite file of its own.
    Own,
}

/// An instance's configuration.
fn config(
    stores: &Stores,
    plan: &Plan,
    dir: &std::path::Path,
    name: &str,
    key_file: &std::path::Path,
    uses: Uses,
    index: usize,
) -> Config {
    let mut c = Config::with_data_dir(dir.join(name));
    c.key_file = Some(key_file.to_owned());
    c.mode = plan.mode;
    if uses != Uses::Own {
        let url = stores.of(plan.backend).map(|s| match (uses, &s.proxy) {
            (Uses::SharedViaProxy, Ok((_, through))) => through.clone(),
            _ => s.url.clone(),
        });
        let (database, sessions) = match plan.backend {
            Backend::Postgres => (url, None),
            Backend::Sqlite | Backend::Redis => (None, url),
        };
        c.database_url =
            database.unwrap_or_else(|| format!("sqlite://{}/shared.db", dir.display()));
        c.session_store = sessions;
        c.session_prefix = format!("passcard-compare-{}-{index}", std::process::id());
    }
    c
}

async fn stop(servers: Vec<RunningServer>) {
    for s in servers {
        let _ = s.stop().await;
    }
}

#[allow(
    clippy::too_many_lines,
    reason = "one measurement after another, in the table's order"
)]
async fn measure(
    args: &CompareArgs,
    stores: &Stores,
    plan: &Plan,
    dir: &std::path::Path,
    key_file: &std::path::Path,
    index: usize,
    progress: &Progress,
) -> anyhow::Result<Row> {
    progress.step(0);
    let start =
        |name: &str, uses: Uses| spawn(config(stores, plan, dir, name, key_file, uses, index));
    let a = start("a", Uses::Shared).await?;
    let b = start("b", Uses::Shared).await?;
    let alone = start("alone", Uses::Own).await?;
    let (base_a, base_b, base_alone) = (
        format!("http://{}", a.addr),
        format!("http://{}", b.addr),
        format!("http://{}", alone.addr),
    );
    let client = reqwest::Client::new();
    // Unique per run and mode: a PostgreSQL database is shared by modes.
    let run = format!("{}x{index}", std::process::id());
    let user = |n: &str| format!("cmp{n}{run}");

    // Users: one for load, one to log out, one whose role changes, one for
    // the outage, an admin.
    for n in ["load", "out", "stale", "down"] {
        register(&client, &base_a, &user(n)).await?;
    }
    let admin = user("admin");
    let hash = tokio::task::spawn_blocking({
        let p = password(&admin);
        move || crate::password::hash_now(&p)
    })
    .await??;
    a.state
        .store
        .create_user(&admin, &hash, "admin", crate::state::now_secs())
        .await?;
    progress.done_step();

    // Store queries per authenticated request, from A's own counters.
    progress.step(1);
    let cred = login(&client, &base_a, &user("load"), plan.mode).await?;
    let before = store_queries(&client, &base_a).await?;
    // 500 requests, so the instance's background poll of the revocation log
    // (one query a second) stays below the second decimal.
    for _ in 0..500 {
        let r = cred
            .apply(client.get(format!("{base_a}/v1/me")))
            .send()
            .await?;
        anyhow::ensure!(r.status() == 200, "GET /v1/me answered {}", r.status());
    }
    let queries = (store_queries(&client, &base_a).await? - before) / 500.0;
    progress.done_step();

    progress.step(2);
    let (rps, p50, p99, errors) =
        load(&client, &base_a, &cred, args.concurrency, args.duration).await;
    progress.done_step();

    progress.step(3);
    let me = |base: &str| cred.apply(client.get(format!("{base}/v1/me"))).send();
    let across_shared = me(&base_b).await?.status() == 200;
    let across_alone = me(&base_alone).await?.status() == 200;
    progress.done_step();

    // Logout on A, until B refuses.
    progress.step(4);
    let out = login(&client, &base_a, &user("out"), plan.mode).await?;
    let _ = out
        .apply(client.get(format!("{base_b}/v1/me")))
        .send()
        .await?;
    let r = out
        .apply(client.post(format!("{base_a}/v1/logout")))
        .send()
        .await?;
    anyhow::ensure!(r.status() == 204, "logout answered {}", r.status());
    let t0 = Instant::now();
    let logout_ms = until(
        || async {
            out.apply(client.get(format!("{base_b}/v1/me")))
                .send()
                .await
                .map(|r| r.status() == 401)
                .unwrap_or(false)
        },
        t0,
    )
    .await;
    progress.done_step();

    // Role change on A, until B refuses the stale token or shows the new role.
    progress.step(5);
    let stale = login(&client, &base_a, &user("stale"), plan.mode).await?;
    let me: serde_json::Value = stale
        .apply(client.get(format!("{base_b}/v1/me")))
        .send()
        .await?
        .json()
        .await?;
    let id: i64 = me["sub"]
        .as_str()
        .unwrap_or_default()
        .parse()
        .unwrap_or_default();
    let root = login(&client, &base_a, &admin, plan.mode).await?;
    let r = root
        .apply(client.put(format!("{base_a}/v1/users/{id}/role")))
        .json(&serde_json::json!({"role": "admin"}))
        .send()
        .await?;
    anyhow::ensure!(r.status() == 200, "role change answered {}", r.status());
    let t0 = Instant::now();
    let role_ms = until(
        || async {
            match stale
                .apply(client.get(format!("{base_b}/v1/me")))
                .send()
                .await
            {
                Ok(r) if r.status() == 401 => true,
                Ok(r) => r
                    .json::<serde_json::Value>()
                    .await
                    .is_ok_and(|v| v["role"] == "admin"),
                Err(_) => false,
            }
        },
        t0,
    )
    .await;
    progress.done_step();

    // The outage hits an instance of its own, reaching the store through
    // the proxy (which the measured ones did not pay for).
    progress.step(6);
    let (store_outage, store_outage_not_measured, down) =
        match stores.of(plan.backend).map(|s| &s.proxy) {
            Some(Err(why)) => (None, Some(why.clone()), None),
            proxy => {
                let down = start("down", Uses::SharedViaProxy).await?;
                let stop_store = match proxy {
                    Some(Ok((proxy, _))) => outage::Stop::Proxy(proxy),
                    _ => outage::Stop::ClosePool(&down.state),
                };
                let base_down = format!("http://{}", down.addr);
                let outage =
                    outage::probe(&base_down, &user("down"), plan.mode, stop_store).await?;
                (Some(outage), None, Some(down))
            }
        };
    progress.done_step();

    stop([a, b, alone].into_iter().chain(down).collect()).await;
    Ok(Row {
        mode: plan.label.clone(),
        store_queries_per_request: queries,
        requests_per_second: rps,
        p50_ms: p50,
        p99_ms: p99,
        errors,
        works_across_servers_shared_store: across_shared,
        works_across_servers_no_shared_store: across_alone,
        logout_seen_by_other_instance_ms: logout_ms,
        role_change_ms: role_ms,
        role_change_how: match plan.mode {
            Mode::Token => "old token refused; a refresh brings the new role",
            Mode::Session => "next request sees the new role",
        },
        store_outage,
        store_outage_not_measured,
    })
}

fn password(name: &str) -> String {
    format!("{name}-compare-password")
}

async fn register(client: &reqwest::Client, base: &str, name: &str) -> anyhow::Result<()> {
    let r = client
        .post(format!("{base}/v1/users"))
        .json(&serde_json::json!({"username": name, "password": password(name)}))
        .send()
        .await?;
    anyhow::ensure!(r.status() == 201, "registration answered {}", r.status());
    Ok(())
}

async fn login(
    client: &reqwest::Client,
    base: &str,
    name: &str,
    mode: Mode,
) -> anyhow::Result<Cred> {
    Ok(login_full(client, base, name, mode).await?.0)
}

/// A login: the credential, and in token mode the refresh token.
async fn login_full(
    client: &reqwest::Client,
    base: &str,
    name: &str,
    mode: Mode,
) -> anyhow::Result<(Cred, Option<String>)> {
    let r = client
        .post(format!("{base}/v1/login"))
        .json(&serde_json::json!({"username": name, "password": password(name)}))
        .send()
        .await?;
    anyhow::ensure!(r.status() == 200, "login answered {}", r.status());
    Ok(match mode {
        Mode::Session => {
            let cookie = r
                .headers()
                .get("set-cookie")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(';').next())
                .context("no session cookie")?
                .to_owned();
            (Cred::Cookie(cookie), None)
        }
        Mode::Token => {
            let v: serde_json::Value = r.json().await?;
            let token = |name: &str| {
                v[name]
                    .as_str()
                    .map(str::to_owned)
                    .with_context(|| format!("no {name}"))
            };
            (
                Cred::Bearer(token("access_token")?),
                Some(token("refresh_token")?),
            )
        }
    })
}

async fn store_queries(client: &reqwest::Client, base: &str) -> anyhow::Result<f64> {
    let text = client
        .get(format!("{base}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    text.lines()
        .find(|l| l.starts_with("passcard_store_queries_total"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .context("no passcard_store_queries_total in /metrics")
}

/// Polls `check` until it holds; milliseconds since `t0`, or None when no
/// check started within 10 s held.
async fn until<F, Fut>(check: F, t0: Instant) -> Option<f64>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    while t0.elapsed() < Duration::from_secs(10) {
        if check().await {
            return Some(t0.elapsed().as_secs_f64() * 1000.0);
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    None
}

/// `concurrency` loops of `GET /v1/me` for `duration`: (req/s, p50 ms, p99 ms, errors).
async fn load(
    client: &reqwest::Client,
    base: &str,
    cred: &Cred,
    concurrency: usize,
    duration: Duration,
) -> (f64, f64, f64, u64) {
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (client, url, cred) = (client.clone(), format!("{base}/v1/me"), cred.clone());
        tasks.spawn(async move {
            let (mut lat, mut errors) = (Vec::new(), 0u64);
            while Instant::now() < deadline {
                let t = Instant::now();
                match cred.apply(client.get(&url)).send().await {
                    Ok(r) if r.status() == 200 => {
                        let _ = r.bytes().await;
                        lat.push(t.elapsed());
                    }
                    _ => errors += 1,
                }
            }
            (lat, errors)
        });
    }
    let (mut all, mut errors) = (Vec::new(), 0);
    while let Some(Ok((lat, e))) = tasks.join_next().await {
        all.extend(lat);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    let pct = |p: f64| {
        if all.is_empty() {
            return 0.0;
        }
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let i = ((all.len() as f64 * p).ceil() as usize).clamp(1, all.len()) - 1;
        all[i].as_secs_f64() * 1000.0
    };
    #[allow(clippy::cast_precision_loss)]
    let rps = all.len() as f64 / elapsed;
    (rps, pct(0.5), pct(0.99), errors)
}
