//! The store-outage row: stop the store under a running instance and see
//! which requests keep working, what the others answer, and how soon they
//! work again. Network stores are stopped through their
//! [`Proxy`](crate::proxy::Proxy); SQLite has no server to stop, so its
//! outage is the instance's connection pool closed.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::Running;
use crate::load::{Cred, login_full, password, until};
use crate::plan::Mode;
use crate::proxy::Proxy;

/// One request tried while the store was down.
#[derive(Debug, Serialize)]
pub(crate) struct Tried {
    /// It succeeded (2xx).
    pub(crate) works: bool,
    /// The status it got (None: no answer within the probe's timeout).
    pub(crate) status: Option<u16>,
    /// How long the answer took.
    pub(crate) ms: f64,
}

/// What kept working while the store was down.
#[derive(Debug, Serialize)]
pub(crate) struct Outage {
    /// How the store was stopped.
    pub(crate) how: &'static str,
    /// `GET /v1/me` with a credential issued before.
    pub(crate) me: Tried,
    /// A new `POST /v1/login`.
    pub(crate) login: Tried,
    /// `POST /v1/refresh` (token mode only).
    pub(crate) refresh: Option<Tried>,
    /// `POST /v1/logout`.
    pub(crate) logout: Tried,
    /// Whether the store came back (SQLite's closed pool does not).
    pub(crate) restored: bool,
    /// From the store's return until a request that needs it succeeds
    /// (None: not restored, or not within 10 s).
    pub(crate) recovered_ms: Option<f64>,
}

/// How a store goes down for [`probe`].
pub(crate) enum Stop<'a> {
    /// Cut the proxy in front of the store, then restore it.
    Proxy(&'a Proxy),
    /// Close the instance's own pool (SQLite): it stays down.
    ClosePool(&'a dyn Running),
}

/// The longest a probe waits for an answer: the instance's pool gives up
/// after 5 s.
const PROBE_TIMEOUT: Duration = Duration::from_secs(7);

async fn tried(request: reqwest::RequestBuilder) -> Tried {
    let t0 = Instant::now();
    let status = request.send().await.ok().map(|r| r.status());
    Tried {
        works: status.is_some_and(|s| s.is_success()),
        status: status.map(|s| s.as_u16()),
        ms: t0.elapsed().as_secs_f64() * 1000.0,
    }
}

/// Logs `user` in twice on `base`, stops the store, tries each request
/// (at once, so the whole probe takes one timeout at most), and restores.
pub(crate) async fn probe(
    base: &str,
    user: &str,
    mode: Mode,
    stop: Stop<'_>,
) -> anyhow::Result<Outage> {
    let client = reqwest::Client::builder().timeout(PROBE_TIMEOUT).build()?;
    let (cred, refresh) = login_full(&client, base, user, mode).await?;
    let (other, _) = login_full(&client, base, user, mode).await?;
    match stop {
        Stop::Proxy(p) => p.cut().await,
        Stop::ClosePool(instance) => instance.close_store().await,
    }
    let refresh_request = |token: &str| {
        client
            .post(format!("{base}/v1/refresh"))
            .json(&serde_json::json!({"refresh_token": token}))
    };
    let me_request = |cred: &Cred| cred.apply(client.get(format!("{base}/v1/me")));
    let (me, login, refresh_tried, logout) = tokio::join!(
        tried(me_request(&cred)),
        tried(
            client
                .post(format!("{base}/v1/login"))
                .json(&serde_json::json!({"username": user, "password": password(user)}))
        ),
        async {
            match &refresh {
                Some(token) => Some(tried(refresh_request(token)).await),
                None => None,
            }
        },
        tried(other.apply(client.post(format!("{base}/v1/logout")))),
    );

    let (how, restored, recovered_ms) = match stop {
        Stop::Proxy(p) => {
            p.restore().await?;
            let t0 = Instant::now();
            // The first request that needs the store: the refresh in token
            // mode (refused ones did not use the token up), the session
            // lookup in session mode.
            let back = match (&refresh, &refresh_tried) {
                // It worked with the store down: there is nothing to time.
                (_, Some(r)) if r.works => None,
                (Some(token), _) => {
                    until(|| async { tried(refresh_request(token)).await.works }, t0).await
                }
                (None, _) => until(|| async { tried(me_request(&cred)).await.works }, t0).await,
            };
            (
                "the proxy in front of the store stopped listening and closed its connections",
                true,
                back,
            )
        }
        Stop::ClosePool(_) => (
            "the instance's SQLite connection pool closed (an embedded store has no server to stop)",
            false,
            None,
        ),
    };
    Ok(Outage {
        how,
        me,
        login,
        refresh: refresh_tried,
        logout,
        restored,
        recovered_ms,
    })
}
