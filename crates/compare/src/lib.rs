//! `passcard compare`: stateless tokens against server-side sessions,
//! measured side by side on this machine.
//!
//! Each mode runs two instances sharing a store (plus one with a store of
//! its own, for "works across servers without a shared store"), all on
//! loopback ports, driven by a built-in load generator. A fourth instance
//! reaches network stores through a loopback proxy, so the store-outage row
//! can cut them.
//!
//! The passcard server is not a dependency: the caller (the `passcard`
//! CLI) starts instances through a [`Launcher`].
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command: the table goes to stdout, progress to stderr"
)]
#![allow(
    clippy::disallowed_methods,
    reason = "measures real elapsed time (latency, propagation) with Instant::now"
)]

mod load;
mod outage;
mod plan;
mod progress;
mod proxy;
mod report;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use async_trait::async_trait;
use serde::Serialize;

use load::{login, password, register, store_queries, until};
pub use plan::Mode;
use plan::{Place, Plan, Stores, Uses, instance};
use progress::Progress;

/// What a run measures.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Options {
    /// How long to load each mode's `GET /v1/me`.
    pub duration: Duration,
    /// Concurrent requests during the load.
    pub concurrency: usize,
    /// Also measure on this PostgreSQL database (passcard creates its
    /// tables there: a scratch database).
    pub postgres: Option<String>,
    /// Also measure sessions kept in this Redis.
    pub redis: Option<String>,
    /// Folder for compare.md, compare.json and compare.svg.
    pub out: PathBuf,
}

impl Options {
    /// The defaults: 5 s of load per mode at 16 concurrent requests, SQLite
    /// only, results in `out`.
    pub fn new(out: impl Into<PathBuf>) -> Self {
        Self {
            duration: Duration::from_secs(5),
            concurrency: 16,
            postgres: None,
            redis: None,
            out: out.into(),
        }
    }
}

/// An instance of the passcard server to start.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Instance {
    /// Tokens or sessions.
    pub mode: Mode,
    /// Its data folder.
    pub data_dir: PathBuf,
    /// Its database (`None`: SQLite in the data folder).
    pub database_url: Option<String>,
    /// Where its sessions live (`None`: the database).
    pub session_store: Option<String>,
    /// The prefix of its session keys in Redis.
    pub session_prefix: String,
    /// Its key file (every instance of a run shares one key).
    pub key_file: PathBuf,
}

/// Starts passcard server instances for a run.
#[async_trait]
pub trait Launcher: Send + Sync {
    /// Starts an instance listening on a free loopback port.
    async fn start(&self, instance: Instance) -> anyhow::Result<Box<dyn Running>>;
}

/// A running instance.
#[async_trait]
pub trait Running: Send + Sync {
    /// Where it listens.
    fn addr(&self) -> SocketAddr;
    /// Creates an admin in its store (as `passcard user add` would).
    async fn create_admin(&self, name: &str, password: &str) -> anyhow::Result<()>;
    /// Closes its store's connections (the SQLite outage).
    async fn close_store(&self);
    /// Stops it.
    async fn stop(self: Box<Self>) -> anyhow::Result<()>;
}

/// One mode's figures.
#[derive(Debug, Serialize)]
struct Row {
    mode: String,
    store_queries_per_request: f64,
    /// How long the 500 counted requests took: the instance's background
    /// poll of the revocation log (one query a second) falls in it too.
    store_queries_window_ms: f64,
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

/// Measures every mode, prints the table and writes compare.md,
/// compare.json and compare.svg into `options.out`.
pub async fn run(options: &Options, launcher: &dyn Launcher) -> anyhow::Result<()> {
    anyhow::ensure!(options.concurrency > 0, "--concurrency must be at least 1");
    let stores = Stores::open(options).await?;
    let plans = stores.plans();
    std::fs::create_dir_all(&options.out)
        .with_context(|| format!("cannot create {}", options.out.display()))?;
    let work = options.out.join(format!("work-{}", std::process::id()));
    let key = passcard_jwt::SigningKey::generate(passcard_jwt::Algorithm::HS256)?;
    let mut rows = Vec::new();
    let mut progress = Progress::new(plans.len());
    let run = Run {
        options,
        launcher,
        stores: &stores,
    };
    let measured = run.all(&plans, &work, &key, &mut progress, &mut rows).await;
    progress.finish();
    measured?;
    let _ = std::fs::remove_dir_all(&work);
    let table = report::markdown(&rows, options);
    println!("{table}");
    let out = &options.out;
    std::fs::write(out.join("compare.md"), &table)?;
    std::fs::write(
        out.join("compare.json"),
        serde_json::to_string_pretty(&rows)?,
    )?;
    std::fs::write(out.join("compare.svg"), report::svg(&rows))?;
    eprintln!("written: {}/compare.{{md,json,svg}}", out.display());
    Ok(())
}

/// One run: what to measure, and how to start instances.
struct Run<'a> {
    options: &'a Options,
    launcher: &'a dyn Launcher,
    stores: &'a Stores,
}

/// Writes a private JWK to a new file readable only by its owner.
fn write_key(path: &std::path::Path, key: &passcard_jwt::SigningKey) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(serde_json::to_string(&key.to_private_jwk())?.as_bytes())?;
    Ok(())
}

async fn stop(instances: Vec<Box<dyn Running>>) {
    for s in instances {
        let _ = s.stop().await;
    }
}

impl Run<'_> {
    /// Measures every plan in turn, each in a folder of its own under `work`.
    async fn all(
        &self,
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
            write_key(&key_file, key)?;
            let place = Place {
                dir: &dir,
                key_file: &key_file,
                tag: format!("{}-{i}", std::process::id()),
            };
            let row = self.measure(plan, &place, i, progress).await;
            let _ = std::fs::remove_dir_all(&dir);
            rows.push(row.with_context(|| format!("measuring {}", plan.label))?);
        }
        Ok(())
    }

    #[allow(
        clippy::too_many_lines,
        reason = "one measurement after another, in the table's order"
    )]
    async fn measure(
        &self,
        plan: &Plan,
        place: &Place<'_>,
        index: usize,
        progress: &Progress,
    ) -> anyhow::Result<Row> {
        let (args, stores) = (self.options, self.stores);
        progress.step(0);
        let start = |name: &str, uses: Uses| {
            self.launcher
                .start(instance(stores, plan, place, name, uses))
        };
        let a = start("a", Uses::Shared).await?;
        let b = start("b", Uses::Shared).await?;
        let alone = start("alone", Uses::Own).await?;
        let (base_a, base_b, base_alone) = (
            format!("http://{}", a.addr()),
            format!("http://{}", b.addr()),
            format!("http://{}", alone.addr()),
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
        a.create_admin(&admin, &password(&admin)).await?;
        progress.done_step();

        // Store queries per authenticated request, from A's own counters.
        progress.step(1);
        let cred = login(&client, &base_a, &user("load"), plan.mode).await?;
        let before = store_queries(&client, &base_a).await?;
        let window = Instant::now();
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
        let window_ms = window.elapsed().as_secs_f64() * 1000.0;
        progress.done_step();

        progress.step(2);
        let (rps, p50, p99, errors) =
            load::load(&client, &base_a, &cred, args.concurrency, args.duration).await;
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
                        _ => outage::Stop::ClosePool(&*down),
                    };
                    let base_down = format!("http://{}", down.addr());
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
            store_queries_window_ms: window_ms,
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
}
