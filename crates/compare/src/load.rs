//! The load generator and the HTTP calls a run makes: register, log in,
//! read the metrics, poll until a condition holds.

use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::plan::Mode;

#[derive(Clone)]
pub(crate) enum Cred {
    Bearer(String),
    Cookie(String),
}

impl Cred {
    pub(crate) fn apply(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Self::Bearer(t) => req.bearer_auth(t),
            Self::Cookie(c) => req.header("cookie", c).header("x-passcard-csrf", "1"),
        }
    }
}

pub(crate) fn password(name: &str) -> String {
    format!("{name}-compare-password")
}

pub(crate) async fn register(
    client: &reqwest::Client,
    base: &str,
    name: &str,
) -> anyhow::Result<()> {
    let r = client
        .post(format!("{base}/v1/users"))
        .json(&serde_json::json!({"username": name, "password": password(name)}))
        .send()
        .await?;
    anyhow::ensure!(r.status() == 201, "registration answered {}", r.status());
    Ok(())
}

pub(crate) async fn login(
    client: &reqwest::Client,
    base: &str,
    name: &str,
    mode: Mode,
) -> anyhow::Result<Cred> {
    Ok(login_full(client, base, name, mode).await?.0)
}

/// A login: the credential, and in token mode the refresh token.
pub(crate) async fn login_full(
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

pub(crate) async fn store_queries(client: &reqwest::Client, base: &str) -> anyhow::Result<f64> {
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
pub(crate) async fn until<F, Fut>(check: F, t0: Instant) -> Option<f64>
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
pub(crate) async fn load(
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
