//! `passcard compare`: stateless tokens against server-side sessions,
//! measured side by side on this machine.
//!
//! Each mode runs two instances sharing a store (plus one with a store of
//! its own, for "works across servers without a shared store"), all on
//! loopback ports, driven by a built-in load generator.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;
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

struct Plan {
    label: String,
    mode: Mode,
    database: Option<String>,
    sessions: Option<String>,
}

pub(crate) fn run(args: &CompareArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(compare(args))
}

async fn compare(args: &CompareArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.concurrency > 0, "--concurrency must be at least 1");
    let mut plans = vec![
        Plan {
            label: "tokens · SQLite".into(),
            mode: Mode::Token,
            database: None,
            sessions: None,
        },
        Plan {
            label: "sessions · SQLite".into(),
            mode: Mode::Session,
            database: None,
            sessions: None,
        },
    ];
    if let Some(pg) = &args.postgres {
        plans.push(Plan {
            label: "tokens · PostgreSQL".into(),
            mode: Mode::Token,
            database: Some(pg.clone()),
            sessions: None,
        });
        plans.push(Plan {
            label: "sessions · PostgreSQL".into(),
            mode: Mode::Session,
            database: Some(pg.clone()),
            sessions: None,
        });
    }
    if let Some(redis) = &args.redis {
        plans.push(Plan {
            label: "sessions · Redis".into(),
            mode: Mode::Session,
            database: None,
            sessions: Some(redis.clone()),
        });
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let work = args.out.join(format!("work-{}", std::process::id()));
    let key = passcard_jwt::SigningKey::generate(passcard_jwt::Algorithm::HS256)?;
    let mut rows = Vec::new();
    let total = plans.len();
    for (i, plan) in plans.iter().enumerate() {
        eprintln!("[{}/{total}] {}", i + 1, plan.label);
        let dir = work.join(format!("mode-{i}"));
        std::fs::create_dir_all(&dir)?;
        let key_file = dir.join("key.json");
        crate::state::write_private(
            &key_file,
            serde_json::to_string(&key.to_private_jwk())?.as_bytes(),
        )?;
        let row = measure(args, plan, &dir, &key_file, i).await;
        let _ = std::fs::remove_dir_all(&dir);
        rows.push(row.with_context(|| format!("measuring {}", plan.label))?);
    }
    let _ = std::fs::remove_dir_all(&work);
    let table = markdown(&rows, args);
    println!("{table}");
    std::fs::write(args.out.join("compare.md"), &table)?;
    std::fs::write(
        args.out.join("compare.json"),
        serde_json::to_string_pretty(&rows)?,
    )?;
    std::fs::write(args.out.join("compare.svg"), svg(&rows))?;
    eprintln!("written: {}/compare.{{md,json,svg}}", args.out.display());
    Ok(ExitCode::SUCCESS)
}

fn config(
    plan: &Plan,
    dir: &std::path::Path,
    name: &str,
    key_file: &std::path::Path,
    shared: bool,
    index: usize,
) -> Config {
    let mut c = Config::with_data_dir(dir.join(name));
    c.key_file = Some(key_file.to_owned());
    c.mode = plan.mode;
    if shared {
        c.database_url = plan
            .database
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}/shared.db", dir.display()));
        c.session_store = plan.sessions.clone();
        c.session_prefix = format!("passcard-compare-{}-{index}", std::process::id());
    }
    c
}

async fn stop(servers: Vec<RunningServer>) {
    for s in servers {
        let _ = s.stop().await;
    }
}

async fn measure(
    args: &CompareArgs,
    plan: &Plan,
    dir: &std::path::Path,
    key_file: &std::path::Path,
    index: usize,
) -> anyhow::Result<Row> {
    let a = spawn(config(plan, dir, "a", key_file, true, index)).await?;
    let b = spawn(config(plan, dir, "b", key_file, true, index)).await?;
    let alone = spawn(config(plan, dir, "alone", key_file, false, index)).await?;
    let (base_a, base_b, base_alone) = (
        format!("http://{}", a.addr),
        format!("http://{}", b.addr),
        format!("http://{}", alone.addr),
    );
    let client = reqwest::Client::new();
    // Unique per run and mode: a PostgreSQL database is shared by modes.
    let run = format!("{}x{index}", std::process::id());
    let user = |n: &str| format!("cmp{n}{run}");

    // Users: one for load, one to log out, one whose role changes, an admin.
    for n in ["load", "out", "stale"] {
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

    // Store queries per authenticated request, from A's own counters.
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

    // Load.
    eprintln!(
        "      load: {} concurrent for {:?}",
        args.concurrency, args.duration
    );
    let (rps, p50, p99, errors) =
        load(&client, &base_a, &cred, args.concurrency, args.duration).await;

    // Across servers.
    let across_shared = cred
        .apply(client.get(format!("{base_b}/v1/me")))
        .send()
        .await?
        .status()
        == 200;
    let across_alone = cred
        .apply(client.get(format!("{base_alone}/v1/me")))
        .send()
        .await?
        .status()
        == 200;

    // Logout on A, until B refuses.
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

    // Role change on A, until B refuses the stale token or shows the new role.
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

    stop(vec![a, b, alone]).await;
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
            Cred::Cookie(cookie)
        }
        Mode::Token => {
            let v: serde_json::Value = r.json().await?;
            Cred::Bearer(
                v["access_token"]
                    .as_str()
                    .context("no access token")?
                    .to_owned(),
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

/// Polls `check` until it holds; milliseconds since `t0`, or None after 10 s.
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

fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "not within 10 s".to_owned(), |v| format!("{v:.1} ms"))
}

fn markdown(rows: &[Row], args: &CompareArgs) -> String {
    let mut t = format!(
        "| | {} |\n| --- |{}\n",
        rows.iter()
            .map(|r| r.mode.as_str())
            .collect::<Vec<_>>()
            .join(" | "),
        " --- |".repeat(rows.len())
    );
    let mut line = |name: &str, f: &dyn Fn(&Row) -> String| {
        t.push_str(&format!(
            "| {name} | {} |\n",
            rows.iter().map(f).collect::<Vec<_>>().join(" | ")
        ));
    };
    line("store queries per authenticated request", &|r| {
        format!("{:.2}", r.store_queries_per_request)
    });
    line("GET /v1/me throughput", &|r| {
        format!("{:.0} req/s", r.requests_per_second)
    });
    line("GET /v1/me latency p50 / p99", &|r| {
        format!("{:.2} / {:.2} ms", r.p50_ms, r.p99_ms)
    });
    line(
        "log in on one instance, call another sharing the store",
        &|r| yes(r.works_across_servers_shared_store),
    );
    line("... calling an instance with a store of its own", &|r| {
        yes(r.works_across_servers_no_shared_store)
    });
    line("logout seen by the other instance after", &|r| {
        ms(r.logout_seen_by_other_instance_ms)
    });
    line("role change enforced after", &|r| {
        format!("{} ({})", ms(r.role_change_ms), r.role_change_how)
    });
    t.push_str(&format!(
        "\nLoad: {} concurrent requests for {:?} per mode, loopback, built-in client; two instances per mode share the store.\n",
        args.concurrency, args.duration
    ));
    t
}

fn yes(b: bool) -> String {
    if b { "yes".into() } else { "no".into() }
}

/// Two bar charts: throughput and p99 latency per mode.
fn svg(rows: &[Row]) -> String {
    let (w, bar_h, gap, left) = (720.0, 22.0, 8.0, 190.0);
    let max_rps = rows
        .iter()
        .map(|r| r.requests_per_second)
        .fold(1.0, f64::max);
    let max_p99 = rows.iter().map(|r| r.p99_ms).fold(0.001, f64::max);
    #[allow(clippy::cast_precision_loss)]
    let n = rows.len() as f64;
    let section = n * (bar_h + gap) + 40.0;
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{}" font-family="sans-serif" font-size="12">"#,
        section * 2.0 + 10.0
    );
    for (k, (title, max, value, unit)) in [
        (
            "GET /v1/me throughput (req/s)",
            max_rps,
            (|r: &Row| r.requests_per_second) as fn(&Row) -> f64,
            "req/s",
        ),
        (
            "GET /v1/me p99 latency (ms)",
            max_p99,
            |r: &Row| r.p99_ms,
            "ms",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        #[allow(clippy::cast_precision_loss)]
        let top = k as f64 * section;
        s.push_str(&format!(
            r#"<text x="10" y="{}" font-weight="bold">{title}</text>"#,
            top + 18.0
        ));
        for (i, r) in rows.iter().enumerate() {
            #[allow(clippy::cast_precision_loss)]
            let y = top + 30.0 + i as f64 * (bar_h + gap);
            let len = (w - left - 90.0) * value(r) / max;
            let color = if r.mode.starts_with("tokens") {
                "#2b7bb9"
            } else {
                "#d9822b"
            };
            s.push_str(&format!(
                r#"<text x="10" y="{}">{}</text><rect x="{left}" y="{y}" width="{len:.1}" height="{bar_h}" fill="{color}"/><text x="{:.1}" y="{}">{:.1} {unit}</text>"#,
                y + 15.0,
                r.mode,
                left + len + 6.0,
                y + 15.0,
                value(r)
            ));
        }
    }
    s.push_str("</svg>\n");
    s
}
