//! A soak (issue 14): mixed traffic for a bounded time against `passcard
//! serve` processes on loopback: one on SQLite, and two sharing one
//! PostgreSQL database (revocations reach the other by push). Every
//! answer is checked as it comes (see [`traffic`]): no 5xx, no revoked
//! token accepted (by the instance that revoked it, ever; by the other,
//! not once its safety poll has passed), no family forked, nobody logged
//! out; at the end every user is as its last command left it. Each
//! process's resident memory and open descriptors are sampled every
//! second: after a warm-up (the first quarter) memory must stay flat (the
//! least-squares slope of resident bytes against requests served, at most
//! 64 bytes a request) and so must the descriptors.
//!
//! `PASSCARD_SOAK_SECS` sets the length (default 120, as in CI);
//! `scripts/soak.sh` runs the long form. The two deployments run at once.

mod traffic;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use passcard_jwt::{Algorithm, SigningKey};
use passcard_testkit::{PASSWORD, TempDir, TempSchema, env};
use serde_json::json;

use crate::process::Serving;
use traffic::{Policy, Run, User, Worker};

/// The servers' settings: short lifetimes, so expiry and replays after
/// the reuse interval happen within the run.
const ACCESS_TTL: Duration = Duration::from_secs(10);
const LEEWAY: Duration = Duration::from_secs(1);
const REUSE: Duration = Duration::from_secs(2);
/// The safety poll of the revocation log: the bound on a revocation
/// reaching the other instance (the push is faster, best effort).
const POLL: Duration = Duration::from_secs(1);

const WORKERS: usize = 20;
const USERS_PER_WORKER: usize = 5;
/// Mean pause between one worker's commands.
const THINK: Duration = Duration::from_millis(40);

/// The share of the run before memory and descriptors count.
const WARM_UP: f64 = 0.25;
/// What resident memory may grow by per request served after the
/// warm-up (the least-squares slope of bytes against requests): a leak of
/// a few hundred bytes a request, which a bound on the whole run let
/// through (issue 19), shows over the run's tens of thousands of requests.
const RSS_BYTES_PER_REQUEST_LIMIT: f64 = 64.0;
/// Descriptors the end may hold beyond the warm-up's.
const FD_SLACK: usize = 16;

fn soak_length() -> Duration {
    let secs = std::env::var("PASSCARD_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    Duration::from_secs(secs)
}

/// One process's sample: seconds since the traffic started, resident KiB,
/// open descriptors, CPU time used so far (clock ticks), requests it
/// served so far (its own count, from /metrics).
#[derive(Clone, Copy, Debug)]
struct Sample {
    t: f64,
    rss_kib: u64,
    fds: usize,
    cpu_ticks: u64,
    requests: f64,
}

/// Requests `base` says it served (the sum of its request counters).
async fn requests_served(http: &reqwest::Client, base: &str) -> Option<f64> {
    let text = http
        .get(format!("{base}/metrics"))
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    Some(
        text.lines()
            .filter(|l| l.starts_with("passcard_http_requests_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum(),
    )
}

fn sample(pid: u32, t: f64, requests: f64) -> Option<Sample> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kib = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count();
    // utime and stime: fields 14 and 15, counted after the command name
    // (which may hold spaces) closes.
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    let mut fields = after_name.split_whitespace().skip(11);
    let cpu_ticks = fields.next()?.parse::<u64>().ok()? + fields.next()?.parse::<u64>().ok()?;
    Some(Sample {
        t,
        rss_kib,
        fds,
        cpu_ticks,
        requests,
    })
}

/// The least-squares slope of `(x, y)`.
fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    let (sx, sy) = points
        .iter()
        .fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
    let (mx, my) = (sx / n, sy / n);
    let (num, den) = points.iter().fold((0.0, 0.0), |(a, b), (x, y)| {
        (a + (x - mx) * (y - my), b + (x - mx) * (x - mx))
    });
    if den == 0.0 { 0.0 } else { num / den }
}

/// The `serve` flags of every soak instance.
fn serve_args() -> Vec<String> {
    let secs = |d: Duration| format!("{}s", d.as_secs());
    [
        "--access-ttl",
        &secs(ACCESS_TTL),
        "--leeway",
        &secs(LEEWAY),
        "--refresh-reuse-interval",
        &secs(REUSE),
        "--revocation-poll",
        &secs(POLL),
        // Banned users try to log in; the soak comes from one address.
        "--login-max-failures",
        "1000000",
        "--registrations-per-address",
        "1000000",
        // Workers rotate one login many times a minute.
        "--login-writes-per-minute",
        "1000000",
        // Bounded structures sized to fill within the warm-up, so that
        // growth after it means a leak (the default cache, 4096 tokens,
        // takes minutes at this rate).
        "--verify-cache",
        "256",
        // Warnings and errors, and the line that says where it listens.
        "--log",
        "warn,passcard::cli::serve=info",
    ]
    .map(str::to_owned)
    .to_vec()
}

/// Servers sharing one store, and what they live in.
struct Deployment {
    name: &'static str,
    servers: Vec<Serving>,
    store_url: String,
    _dirs: TempDir,
    _schema: Option<TempSchema>,
}

async fn start(dirs: &TempDir, n: usize, extra: Vec<String>) -> Vec<Serving> {
    let mut servers = Vec::new();
    for i in 0..n {
        let data = dirs.join(format!("data{i}"));
        let mut args = serve_args();
        args.extend(extra.iter().cloned());
        servers.push(
            tokio::task::spawn_blocking(move || {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                Serving::start(&data, &args, &[])
            })
            .await
            .unwrap(),
        );
    }
    servers
}

async fn sqlite() -> Deployment {
    let dirs = TempDir::new("soak-sqlite");
    let servers = start(&dirs, 1, Vec::new()).await;
    Deployment {
        name: "SQLite, one instance",
        servers,
        store_url: passcard::config::sqlite_url(&dirs.join("data0")),
        _dirs: dirs,
        _schema: None,
    }
}

async fn postgres(base: &str) -> Deployment {
    let dirs = TempDir::new("soak-postgres");
    let schema = TempSchema::create(base).await;
    let key = crate::contract::key_file(&dirs, &SigningKey::generate(Algorithm::EdDSA).unwrap());
    let extra = vec![
        "--database-url".to_owned(),
        schema.url().to_owned(),
        "--key-file".to_owned(),
        key.to_str().unwrap().to_owned(),
    ];
    let servers = start(&dirs, 2, extra).await;
    Deployment {
        name: "PostgreSQL, two instances",
        servers,
        store_url: schema.url().to_owned(),
        _dirs: dirs,
        _schema: Some(schema),
    }
}

/// What a soak found, for the summary and the assertions.
struct Report {
    name: &'static str,
    secs: f64,
    run: Arc<Run>,
    samples: Vec<Vec<Sample>>,
    outputs: Vec<String>,
    final_errors: Vec<String>,
}

/// Creates the soak's users in the store (one hash for all): per worker a
/// few users and an admin, and an auditor admin for the final check.
async fn seed(url: &str, hash: &str) -> (Vec<(Vec<User>, User)>, String) {
    let store = passcard_store::open(url).await.unwrap();
    let mut teams = Vec::new();
    for w in 0..WORKERS {
        let mut users = Vec::new();
        for i in 0..USERS_PER_WORKER {
            let name = format!("w{w}-u{i}");
            let u = store.create_user(&name, hash, "user", 0).await.unwrap();
            users.push(User::new(u.id, name, "user"));
        }
        let name = format!("w{w}-admin");
        let a = store.create_user(&name, hash, "admin", 0).await.unwrap();
        teams.push((users, User::new(a.id, name, "admin")));
    }
    store
        .create_user("auditor", hash, "admin", 0)
        .await
        .unwrap();
    store.close().await;
    (teams, "auditor".to_owned())
}

async fn soak(d: &Deployment, length: Duration, hash: &str) -> Report {
    let (teams, auditor) = seed(&d.store_url, hash).await;
    let bases: Vec<String> = d
        .servers
        .iter()
        .map(|s| format!("http://{}", s.addr))
        .collect();
    let policy = Policy {
        access_ttl: ACCESS_TTL,
        leeway: LEEWAY,
        reuse: REUSE,
        other_instance_bound: if d.servers.len() > 1 {
            POLL
        } else {
            Duration::ZERO
        },
    };
    // Warm-up: every hashing slot (login, registration) in use once, on
    // every instance, so their working memory is in the first sample.
    let http = reqwest::Client::new();
    for (i, base) in bases.iter().enumerate() {
        let name = format!("warm-up-{i}");
        let body = json!({"username": name, "password": PASSWORD});
        for path in ["/v1/users", "/v1/login"] {
            let r = http
                .post(format!("{base}{path}"))
                .json(&body)
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "{path}: {}", r.status());
        }
    }
    let started = Instant::now();
    let run = Arc::new(Run::new(bases.clone(), policy, started + length));

    // Sampling, every second, until the traffic ends.
    let pids: Vec<u32> = d.servers.iter().map(|s| s.child.id()).collect();
    let sampling = {
        let (run, bases) = (run.clone(), bases.clone());
        tokio::spawn(async move {
            let mut samples = vec![Vec::new(); pids.len()];
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                let t = started.elapsed().as_secs_f64();
                for (i, pid) in pids.iter().enumerate() {
                    if let Some(served) = requests_served(&http, &bases[i]).await {
                        samples[i].extend(sample(*pid, t, served));
                    }
                }
                if Instant::now() >= run.deadline || run.failed() {
                    return samples;
                }
            }
        })
    };

    let mut workers = Vec::new();
    for (w, (users, admin)) in teams.into_iter().enumerate() {
        let run = run.clone();
        workers.push(tokio::spawn(async move {
            let mut worker = Worker::new(&run, w, users, admin);
            worker.drive(THINK).await;
            if !run.failed() {
                worker.finish().await;
            }
            worker
                .expected()
                .map(|(id, role, banned)| (id, (role, banned)))
                .collect::<Vec<_>>()
        }));
    }
    let mut expected = BTreeMap::new();
    for w in workers {
        expected.extend(w.await.unwrap());
    }
    let samples = sampling.await.unwrap();
    let secs = started.elapsed().as_secs_f64();
    let final_errors = if run.failed() {
        Vec::new()
    } else {
        audit(&bases, &auditor, &expected).await
    };
    Report {
        name: d.name,
        secs,
        run,
        samples,
        outputs: d.servers.iter().map(Serving::output).collect(),
        final_errors,
    }
}

/// Every instance's admin list shows every user as its last accepted
/// command left it.
async fn audit(
    bases: &[String],
    auditor: &str,
    expected: &BTreeMap<i64, (&'static str, bool)>,
) -> Vec<String> {
    let http = reqwest::Client::new();
    let mut errors = Vec::new();
    for base in bases {
        let login: serde_json::Value = http
            .post(format!("{base}/v1/login"))
            .json(&json!({"username": auditor, "password": PASSWORD}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = login["access_token"].as_str().unwrap().to_owned();
        let mut listed = BTreeMap::new();
        let mut after = 0;
        loop {
            let page: serde_json::Value = http
                .get(format!("{base}/v1/users?limit=100&after={after}"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            for u in page["users"].as_array().unwrap() {
                let role = u["role"].as_str().unwrap().to_owned();
                listed.insert(u["id"].as_i64().unwrap(), (role, u["disabled"] == true));
            }
            match page["next_after"].as_i64() {
                Some(next) => after = next,
                None => break,
            }
        }
        for (id, (role, banned)) in expected {
            match listed.get(id) {
                Some((r, b)) if r == role && b == banned => {}
                other => errors.push(format!(
                    "{base}: user {id} should be role {role}, banned {banned}; listed as {other:?}"
                )),
            }
        }
    }
    errors
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

/// Memory and descriptors of one process over the run.
struct Flatness {
    rss_start: u64,
    rss_warm: u64,
    rss_end: u64,
    rss_max: u64,
    /// KiB per minute, after the warm-up.
    slope: f64,
    /// Resident bytes per request served, after the warm-up.
    bytes_per_request: f64,
    /// Requests served after the warm-up.
    requests: f64,
    fds_start: usize,
    fds_warm: usize,
    fds_end: usize,
    fds_max: usize,
    /// The share of one core used, on average.
    cpu: f64,
}

fn flatness(samples: &[Sample], secs: f64) -> Flatness {
    let warm_at = secs * WARM_UP;
    let after: Vec<&Sample> = samples.iter().filter(|s| s.t >= warm_at).collect();
    let warm = after.first().copied().unwrap_or(&samples[0]);
    let last = samples[samples.len() - 1];
    let points: Vec<(f64, f64)> = after
        .iter()
        .map(|s| (s.t / 60.0, s.rss_kib as f64))
        .collect();
    let per_request: Vec<(f64, f64)> = after
        .iter()
        .map(|s| (s.requests, s.rss_kib as f64 * 1024.0))
        .collect();
    Flatness {
        rss_start: samples[0].rss_kib,
        rss_warm: warm.rss_kib,
        rss_end: last.rss_kib,
        rss_max: samples.iter().map(|s| s.rss_kib).max().unwrap_or(0),
        slope: slope(&points),
        bytes_per_request: slope(&per_request),
        requests: last.requests - warm.requests,
        fds_start: samples[0].fds,
        fds_warm: warm.fds,
        fds_end: last.fds,
        fds_max: samples.iter().map(|s| s.fds).max().unwrap_or(0),
        // Linux counts CPU time in 1/100 s.
        cpu: (last.cpu_ticks - samples[0].cpu_ticks) as f64
            / 100.0
            / (last.t - samples[0].t).max(1.0),
    }
}

/// The summary of a soak, and what broke (empty if nothing did).
fn judge(r: &Report) -> (String, Vec<String>) {
    let mut out = String::new();
    let mut broken = r.run.violations.lock().unwrap().clone();
    broken.extend(r.final_errors.iter().cloned());
    let stats = r.run.stats.lock().unwrap();
    let total: u64 = stats.values().flat_map(|s| s.values()).sum();
    let _ = writeln!(
        out,
        "*** soak: {}, {:.0} s, {total} requests ({:.0}/s) ***",
        r.name,
        r.secs,
        total as f64 / r.secs
    );
    for (kind, statuses) in stats.iter() {
        let _ = writeln!(out, "  {kind:<32} {statuses:?}");
    }
    let mut lags = r.run.lags.lock().unwrap().clone();
    lags.sort();
    let _ = writeln!(
        out,
        "  revocations checked at once on every instance: {}; a revoked token still accepted by the other instance: {} times, lag p50 {:?}, p99 {:?}, max {:?} (bound {:?})",
        r.run.checked.lock().unwrap(),
        lags.len(),
        percentile(&lags, 0.5),
        percentile(&lags, 0.99),
        lags.last().copied().unwrap_or_default(),
        r.run.policy.other_instance_bound
    );
    let minutes = r.secs / 60.0;
    for (i, samples) in r.samples.iter().enumerate() {
        if samples.len() < 4 {
            broken.push(format!("instance {i}: only {} samples", samples.len()));
            continue;
        }
        let f = flatness(samples, r.secs);
        let growth_mib = f.slope * minutes / 1024.0;
        let _ = writeln!(
            out,
            "  instance {i}: RSS start {} KiB, after warm-up {} KiB, end {} KiB, max {} KiB; slope after warm-up {:.1} KiB/min ({growth_mib:.2} MiB over the run), {:.1} bytes per request over {:.0} requests (limit {RSS_BYTES_PER_REQUEST_LIMIT}); fds start {}, after warm-up {}, end {}, max {}; CPU {:.0}% of a core",
            f.rss_start,
            f.rss_warm,
            f.rss_end,
            f.rss_max,
            f.slope,
            f.bytes_per_request,
            f.requests,
            f.fds_start,
            f.fds_warm,
            f.fds_end,
            f.fds_max,
            f.cpu * 100.0
        );
        let timeline: Vec<String> = (0..=10)
            .map(|k| {
                let at = samples[(samples.len() - 1) * k / 10];
                format!("{:.1}", at.rss_kib as f64 / 1024.0)
            })
            .collect();
        let _ = writeln!(
            out,
            "    RSS MiB at every tenth of the run: {}",
            timeline.join(" ")
        );
        if f.bytes_per_request > RSS_BYTES_PER_REQUEST_LIMIT {
            broken.push(format!(
                "instance {i}: memory grows {:.1} bytes per request after the warm-up ({:.1} KiB/min, {growth_mib:.1} MiB over the run; limit {RSS_BYTES_PER_REQUEST_LIMIT} bytes a request)",
                f.bytes_per_request, f.slope
            ));
        }
        if f.fds_end > f.fds_warm + FD_SLACK {
            broken.push(format!(
                "instance {i}: {} descriptors open at the end, {} after the warm-up",
                f.fds_end, f.fds_warm
            ));
        }
    }
    for (i, output) in r.outputs.iter().enumerate() {
        if let Some(line) = output
            .lines()
            .find(|l| l.contains("ERROR") || l.contains("panicked"))
        {
            broken.push(format!("instance {i} logged: {line}"));
        }
    }
    (out, broken)
}

/// Ignored in the plain test run: a soak measures the servers under its
/// own load, so it runs with the machine to itself, after the suite
/// (`.ci/run`, `scripts/soak.sh`: `-- --ignored soak::`). In CI, the rest
/// of the suite running beside it (fault tests pausing their stores,
/// Schemathesis) starved it into a store timeout.
#[ignore = "a load test: .ci/run and scripts/soak.sh run it on its own"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_mixed_traffic_on_sqlite_and_two_postgres_instances() {
    if !std::path::Path::new("/proc/self/status").exists() {
        env::skipped("the soak", "it reads memory and descriptors from /proc");
        return;
    }
    let length = soak_length();
    let hash = passcard::domain::hash_password(PASSWORD).unwrap();
    let mut deployments = vec![sqlite().await];
    if let Some(base) = env::postgres("the PostgreSQL soak") {
        deployments.push(postgres(&base).await);
    }
    let reports =
        futures_util::future::join_all(deployments.iter().map(|d| soak(d, length, &hash))).await;
    let mut broken = Vec::new();
    for r in &reports {
        let (summary, b) = judge(r);
        {
            use std::io::Write as _;
            let _ = writeln!(std::io::stderr(), "\n{summary}");
        }
        broken.extend(b.into_iter().map(|b| format!("{}: {b}", r.name)));
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}
