//! Faults of the stores, on servers the test owns and signals by PID: a
//! PostgreSQL cluster (PASSCARD_TEST_PG_BIN) shared by three instances in
//! token mode, another holding the sessions of two instances in session
//! mode, and a redis-server (PASSCARD_TEST_REDIS_SERVER) holding the
//! sessions of two. Each store is stopped mid-traffic and started again,
//! restarted, paused past the store timeout, and has its connections cut.
//! After each fault: tokens kept verifying, every revocation that was
//! answered is enforced on every instance, no request outlived the store
//! timeout, the instances recovered by themselves, and `/healthz` said what
//! was wrong while it was. Skipped (loudly) without the binaries.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use passcard::config::{Mode, SessionSettings};
use passcard_jwt::{Algorithm, SigningKey};
use passcard_testkit::{
    Answer, Cred, Kind, ManualClock, PASSWORD, PgServer, RedisServer, Setup, TempDir, TestApp,
    poll_until,
};
use serde_json::json;

/// How long one store call may take before it fails as unavailable: the
/// documented 5 s, written here (not taken from the code under test, so
/// raising the code's bound fails these tests).
const STORE_TIMEOUT: Duration = Duration::from_secs(5);
/// What a request may take beyond it: its other work (a password hash),
/// and scheduling on a loaded two-core machine.
const SLACK: Duration = Duration::from_secs(3);
/// The safety poll of the revocation log.
const POLL: Duration = Duration::from_secs(1);
/// The fail-closed bound of the strict instance.
const MAX_LAG: Duration = Duration::from_secs(10);
/// A revocation reaching the other instances by push: a bound that holds
/// on a loaded two-core machine (Chromium and Schemathesis run beside
/// this); the measured p99 is in the report.
const PUSHED_WITHIN: Duration = Duration::from_secs(1);
/// A revocation answered around a fault reaching the other instances once
/// the store is back: a reconnection of the listener (tried every second)
/// or a safety poll, and slack.
const CAUGHT_UP_WITHIN: Duration = Duration::from_secs(4);
/// The instances serving writes again once the store is back.
const RECOVERED_WITHIN: Duration = Duration::from_secs(15);

/// One request of the background traffic.
#[derive(Debug)]
struct Sample {
    what: &'static str,
    instance: usize,
    status: StatusCode,
    took: Duration,
}

/// What the traffic and the test revoked, and had answered: each must be
/// refused by every instance.
#[derive(Default)]
struct Ledger {
    revoked: Mutex<Vec<(String, Cred)>>,
    /// How long each pushed revocation took to reach each instance.
    pushes: Mutex<Vec<Duration>>,
}

impl Ledger {
    fn add(&self, what: String, cred: Cred) {
        self.revoked.lock().unwrap().push((what, cred));
    }

    fn all(&self) -> Vec<(String, Cred)> {
        self.revoked.lock().unwrap().clone()
    }

    /// p50, p99 and the largest push, and how many were measured.
    fn push_figures(&self) -> String {
        let mut p = self.pushes.lock().unwrap().clone();
        p.sort();
        let at = |q: f64| {
            p.get(((p.len() as f64 * q).ceil() as usize).clamp(1, p.len().max(1)) - 1)
                .copied()
                .unwrap_or_default()
        };
        format!(
            "pushes p50 {:.1?}, p99 {:.1?}, max {:.1?} (n={}, bound {PUSHED_WITHIN:?})",
            at(0.5),
            at(0.99),
            p.last().copied().unwrap_or_default(),
            p.len()
        )
    }
}

/// Requests on every instance until stopped: `/v1/me` with a live
/// credential, an admin read of the store, and login-then-logout cycles
/// whose answered logouts go to the ledger.
struct Traffic {
    stop: Arc<AtomicBool>,
    samples: Arc<Mutex<Vec<Sample>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    ledger: Arc<Ledger>,
}

async fn timed(
    samples: &Mutex<Vec<Sample>>,
    what: &'static str,
    instance: usize,
    call: impl std::future::Future<Output = Answer>,
) -> Answer {
    let started = Instant::now();
    let a = call.await;
    samples.lock().unwrap().push(Sample {
        what,
        instance,
        status: a.status,
        took: started.elapsed(),
    });
    a
}

impl Traffic {
    fn start(apps: &[Arc<TestApp>], live: &[Cred], admin: &Cred, ledger: &Arc<Ledger>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let samples = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (i, app) in apps.iter().enumerate() {
            let (app2, stop2, samples2, cred) =
                (app.clone(), stop.clone(), samples.clone(), live[i].clone());
            tasks.push(tokio::spawn(async move {
                while !stop2.load(Ordering::Relaxed) {
                    timed(&samples2, "me", i, app2.me(&cred)).await;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }));
            let (app2, stop2, samples2, admin) =
                (app.clone(), stop.clone(), samples.clone(), admin.clone());
            tasks.push(tokio::spawn(async move {
                while !stop2.load(Ordering::Relaxed) {
                    let list = app2.get("/v1/users?limit=1").auth(&admin).send();
                    timed(&samples2, "read", i, list).await;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }));
            let (app2, stop2, samples2, ledger) =
                (app.clone(), stop.clone(), samples.clone(), ledger.clone());
            tasks.push(tokio::spawn(async move {
                // A few logins held, so logouts go on when logins fail.
                let mut held: Vec<Cred> = Vec::new();
                while !stop2.load(Ordering::Relaxed) {
                    if held.len() < 3 {
                        let login = app2
                            .post("/v1/login")
                            .json(&json!({"username": "traffic", "password": PASSWORD}))
                            .send();
                        let a = timed(&samples2, "login", i, login).await;
                        if a.status == StatusCode::OK {
                            held.push(cred_of(&app2, &a));
                        }
                    }
                    if let Some(cred) = held.pop() {
                        let a = timed(&samples2, "logout", i, app2.logout(&cred)).await;
                        // Unanswered, it may or may not have happened: the
                        // credential is dropped either way.
                        if a.status == StatusCode::NO_CONTENT {
                            ledger.add(format!("traffic logout on instance {i}"), cred);
                        }
                    }
                    // Each login hashes a password: the other tests of the
                    // run need the CPU too.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }));
        }
        Self {
            stop,
            samples,
            tasks,
            ledger: ledger.clone(),
        }
    }

    fn count(&self) -> usize {
        self.samples.lock().unwrap().len()
    }

    /// Waits until `n` more requests were answered.
    async fn run_for(&self, n: usize) {
        let target = self.count() + n;
        let done = poll_until(Duration::from_secs(60), || async { self.count() >= target }).await;
        assert!(done.is_some(), "the traffic stalled");
    }

    /// Waits until the traffic's logouts added `n` revocations to the
    /// ledger.
    async fn revoked(&self, n: usize) {
        let target = self.ledger.all().len() + n;
        let done = poll_until(Duration::from_secs(60), || async {
            self.ledger.all().len() >= target
        })
        .await;
        assert!(done.is_some(), "the traffic revoked nothing");
    }

    async fn finish(self) -> Vec<Sample> {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            t.await.unwrap();
        }
        std::mem::take(&mut *self.samples.lock().unwrap())
    }
}

/// The credential a login answer carries.
fn cred_of(app: &TestApp, a: &Answer) -> Cred {
    if app.is_session() {
        Cred::Cookie(a.header("set-cookie").split(';').next().unwrap().to_owned())
    } else {
        Cred::Bearer(a.str("access_token"))
    }
}

/// `call`, which must be answered within the store timeout and slack.
async fn bounded(what: &str, call: impl std::future::Future<Output = Answer>) -> Answer {
    let bound = STORE_TIMEOUT + SLACK;
    let started = Instant::now();
    let a = tokio::time::timeout(bound, call)
        .await
        .unwrap_or_else(|_| panic!("{what} hung past {bound:?}"));
    let took = started.elapsed();
    assert!(took <= bound, "{what} took {took:?}");
    a
}

/// What a fault may do to the traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// What needs the store may answer 503; tokens verify throughout.
    TokensVerify,
    /// Every request may answer 503 (each reads its session).
    SessionsDown,
    /// Nothing fails: the fault is absorbed.
    Absorbed,
}

/// Checks the samples of one fault; returns a line for the report.
fn judge(fault: &str, samples: &[Sample], expect: Expect) -> String {
    let bound = STORE_TIMEOUT + SLACK;
    let mut line = format!("{fault}:");
    for what in ["me", "read", "login", "logout"] {
        let of: Vec<&Sample> = samples.iter().filter(|s| s.what == what).collect();
        let ok = if what == "logout" {
            StatusCode::NO_CONTENT
        } else {
            StatusCode::OK
        };
        let may_fail = match expect {
            Expect::TokensVerify => what != "me",
            Expect::SessionsDown => true,
            Expect::Absorbed => false,
        };
        for s in &of {
            assert!(
                s.status == ok || (may_fail && s.status == StatusCode::SERVICE_UNAVAILABLE),
                "{fault}: {what} on instance {} answered {}",
                s.instance,
                s.status
            );
            assert!(
                s.took <= bound,
                "{fault}: {what} on instance {} took {:?}, past {bound:?}",
                s.instance,
                s.took
            );
        }
        let failed = of.iter().filter(|s| s.status != ok).count();
        let max = of.iter().map(|s| s.took).max().unwrap_or_default();
        line.push_str(&format!(
            " {what} n={} 503={failed} max={max:.1?};",
            of.len()
        ));
    }
    line
}

/// Every revocation of the ledger is refused by every instance within
/// `within`; returns how many were checked and the slowest.
async fn enforced(ledger: &Ledger, apps: &[Arc<TestApp>], within: Duration) -> (usize, Duration) {
    let mut lost = Vec::new();
    let mut slowest = Duration::ZERO;
    let all = ledger.all();
    for (what, cred) in &all {
        for (i, app) in apps.iter().enumerate() {
            match refused_within(app, cred, within).await {
                Some(t) => slowest = slowest.max(t),
                None => lost.push(format!("{what}, on instance {i}")),
            }
        }
    }
    assert!(lost.is_empty(), "revocations lost: {lost:#?}");
    (all.len(), slowest)
}

/// How long until `app` refuses `cred`, within `bound`.
async fn refused_within(app: &TestApp, cred: &Cred, bound: Duration) -> Option<Duration> {
    poll_until(bound, || async {
        app.me(cred).await.status == StatusCode::UNAUTHORIZED
    })
    .await
}

/// A login on `origin`, logged out on `origin`: refused by every instance
/// by push; returns the slowest.
async fn pushed(origin: &TestApp, apps: &[Arc<TestApp>], ledger: &Ledger) -> Duration {
    let cred = origin.login("alice").await.cred;
    let out = origin.logout(&cred).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{}", out.text);
    let mut slowest = Duration::ZERO;
    for app in apps {
        let t = refused_within(app, &cred, PUSHED_WITHIN)
            .await
            .expect("a logout was not pushed");
        ledger.pushes.lock().unwrap().push(t);
        slowest = slowest.max(t);
    }
    ledger.add("a pushed logout".into(), cred);
    slowest
}

/// `/healthz` of `app`.
async fn health(app: &TestApp) -> serde_json::Value {
    app.get("/healthz").send().await.body
}

/// Waits until `/healthz` of `app` has `field` = `value`.
async fn health_says(app: &TestApp, field: &str, value: &str, within: Duration) {
    let said = poll_until(within, || async { health(app).await[field] == value }).await;
    assert!(
        said.is_some(),
        "/healthz never said {field} = {value}: {}",
        health(app).await
    );
}

/// Waits until a logout on every instance succeeds again; returns how
/// long that took.
async fn writes_back(apps: &[Arc<TestApp>], ledger: &Ledger) -> Duration {
    let started = Instant::now();
    for (i, app) in apps.iter().enumerate() {
        let back = poll_until(RECOVERED_WITHIN, || async {
            let login = app
                .post("/v1/login")
                .json(&json!({"username": "alice", "password": PASSWORD}))
                .send()
                .await;
            if login.status != StatusCode::OK {
                return false;
            }
            let cred = cred_of(app, &login);
            if app.logout(&cred).await.status != StatusCode::NO_CONTENT {
                return false;
            }
            ledger.add(format!("a logout on instance {i} after the fault"), cred);
            true
        })
        .await;
        assert!(back.is_some(), "instance {i} never served writes again");
    }
    started.elapsed()
}

/// An instance in token mode on the shared PostgreSQL, following the log.
async fn pg_instance(
    url: &str,
    key_file: &std::path::Path,
    clock: &ManualClock,
    max_lag: Option<Duration>,
) -> Arc<TestApp> {
    Arc::new(crate::cluster::follower(url, key_file, clock, POLL, max_lag).await)
}

/// Ends the backends of the instances whose query is a LISTEN; returns
/// how many.
async fn cut_listeners(pg: &PgServer) -> i64 {
    use sqlx::Connection as _;
    let mut admin = sqlx::PgConnection::connect(&pg.url()).await.unwrap();
    let n = sqlx::query_scalar(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE application_name = 'passcard_faults' AND query ILIKE 'LISTEN%'",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap();
    admin.close().await.unwrap();
    n
}

/// The strict instance (fail-closed past MAX_LAG) refuses Bearer requests
/// as documented.
async fn fails_closed(strict: &TestApp, cred: &Cred) {
    let a = strict.me(cred).await;
    a.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "revocation-view-stale");
    assert_eq!(a.header("retry-after"), "1");
    assert_eq!(health(strict).await["status"], "stale");
}

/// While a store fault lasts: tokens verify on the lenient instances, the
/// strict one fails closed once the view is older than MAX_LAG (the
/// shared clock moves past it), and `/healthz` says the view is lagging
/// and the store unreachable.
async fn while_down(
    lenient: &[Arc<TestApp>],
    strict: &TestApp,
    live: &[Cred],
    clock: &ManualClock,
) {
    for (app, cred) in lenient.iter().zip(live) {
        assert_eq!(
            app.me(cred).await.status,
            StatusCode::OK,
            "a token stopped verifying"
        );
    }
    clock.advance(MAX_LAG + Duration::from_secs(1));
    fails_closed(strict, &live[0]).await;
    // The view stays old over several polls: the store is not read.
    let stayed = poll_until(3 * POLL, || async {
        for app in lenient {
            if health(app).await["status"] != "lagging" {
                return true;
            }
        }
        false
    })
    .await;
    assert!(
        stayed.is_none(),
        "/healthz stopped saying lagging during the fault"
    );
    for app in lenient {
        health_says(app, "store", "unreachable", STORE_TIMEOUT + SLACK + POLL).await;
    }
}

/// After a store fault: the instances serve writes again, the strict one
/// verifies again, every instance listens and says ok, every revocation
/// made so far is refused everywhere, and new ones are pushed.
async fn after(
    fault: &str,
    all: &[Arc<TestApp>],
    strict: &TestApp,
    live: &[Cred],
    ledger: &Ledger,
) -> String {
    let recovered = writes_back(&all[..2], ledger).await;
    for app in all {
        health_says(app, "revocation_push", "listening", RECOVERED_WITHIN).await;
        health_says(app, "status", "ok", RECOVERED_WITHIN).await;
        assert_eq!(health(app).await["store"], "ok");
    }
    assert_eq!(strict.me(&live[0]).await.status, StatusCode::OK);
    let (n, caught_up) = enforced(ledger, all, CAUGHT_UP_WITHIN).await;
    let mut push = Duration::ZERO;
    for origin in &all[..2] {
        push = push.max(pushed(origin, all, ledger).await);
    }
    format!(
        "{fault}: writes back after {recovered:.1?}; {n} revocations enforced everywhere \
         (slowest {caught_up:.1?}); pushed again within {push:.1?}"
    )
}

#[tokio::test]
async fn postgres_stopped_restarted_paused_and_cut_loses_no_revocation() {
    let Some(mut pg) = PgServer::start("the PostgreSQL fault tests").await else {
        return;
    };
    let started = Instant::now();
    let url = format!("{}?application_name=passcard_faults", pg.url());
    let keys = TempDir::new("faults-keys");
    let key_file =
        crate::contract::key_file(&keys, &SigningKey::generate(Algorithm::EdDSA).unwrap());
    let clock = ManualClock::new();
    let a = pg_instance(&url, &key_file, &clock, None).await;
    let b = pg_instance(&url, &key_file, &clock, None).await;
    let strict = pg_instance(&url, &key_file, &clock, Some(MAX_LAG)).await;
    let all = [a.clone(), b.clone(), strict.clone()];
    for app in &all {
        health_says(app, "revocation_push", "listening", RECOVERED_WITHIN).await;
    }
    a.seed("alice", "user").await;
    a.seed("traffic", "user").await;
    a.seed("root", "admin").await;
    let admin = a.login("root").await.cred;
    let live = [a.login("alice").await.cred, b.login("alice").await.cred];
    let probe = a.login("alice").await.cred;
    let ledger = Arc::new(Ledger::default());
    let mut report = Vec::new();
    pushed(&a, &all, &ledger).await;

    // 1. Stopped mid-traffic, down for a while, started again.
    let traffic = Traffic::start(&all[..2], &live, &admin, &ledger);
    traffic.revoked(4).await;
    let t = Instant::now();
    pg.stop().await;
    for app in &all[..2] {
        health_says(app, "revocation_push", "polling", RECOVERED_WITHIN).await;
    }
    while_down(&all[..2], &strict, &live, &clock).await;
    let refused = bounded("a logout", a.logout(&probe)).await;
    refused.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    traffic.run_for(20).await;
    pg.restart().await;
    let down = t.elapsed();
    report.push(judge("stop", &traffic.finish().await, Expect::TokensVerify));
    report.push(after("stop", &all, &strict, &live, &ledger).await);
    report.push(format!("stop: down for {down:.1?}"));

    // 2. Restarted under traffic (stopped and started at once).
    let traffic = Traffic::start(&all[..2], &live, &admin, &ledger);
    traffic.revoked(4).await;
    pg.stop().await;
    pg.restart().await;
    traffic.revoked(4).await;
    report.push(judge(
        "restart",
        &traffic.finish().await,
        Expect::TokensVerify,
    ));
    report.push(after("restart", &all, &strict, &live, &ledger).await);

    // 3. Paused past the store timeout, then let go.
    let traffic = Traffic::start(&all[..2], &live, &admin, &ledger);
    traffic.revoked(4).await;
    pg.pause();
    let t = Instant::now();
    // Unanswered, it may still land once the server goes on: not in the
    // ledger, and not a live credential.
    let refused = bounded("a logout", a.logout(&probe)).await;
    refused.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    while_down(&all[..2], &strict, &live, &clock).await;
    traffic.run_for(20).await;
    pg.resume();
    let paused = t.elapsed();
    assert!(paused > STORE_TIMEOUT, "paused for {paused:?} only");
    report.push(judge(
        "pause",
        &traffic.finish().await,
        Expect::TokensVerify,
    ));
    report.push(after("pause", &all, &strict, &live, &ledger).await);
    report.push(format!("pause: paused for {paused:.1?}"));

    // 4. Only the LISTEN connections cut; a logout at once.
    let traffic = Traffic::start(&all[..2], &live, &admin, &ledger);
    traffic.revoked(4).await;
    let t2 = b.login("alice").await.cred;
    assert_eq!(cut_listeners(&pg).await, 3, "a listener per instance");
    let out = bounded("a logout", b.logout(&t2)).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{}", out.text);
    ledger.add("a logout right after the listeners were cut".into(), t2);
    traffic.revoked(4).await;
    report.push(judge(
        "listen-cut",
        &traffic.finish().await,
        Expect::Absorbed,
    ));
    report.push(after("listen-cut", &all, &strict, &live, &ledger).await);

    let (n, _) = enforced(&ledger, &all, Duration::ZERO).await;
    report.push(format!(
        "postgres: {n} revocations, 0 lost; {}; suite {:.1?}",
        ledger.push_figures(),
        started.elapsed()
    ));
    say(&report);
}

/// After a fault of the store sessions live in: the instances serve
/// writes again, `/healthz` says each of `health`, no live session was
/// lost, and every logout of the ledger holds on every instance at once
/// (sessions are read, not pushed). Returns a line for the report.
async fn sessions_back(
    all: &[Arc<TestApp>],
    ledger: &Ledger,
    live: &[Cred],
    health: &[(&str, &str)],
) -> String {
    let recovered = writes_back(all, ledger).await;
    for app in all {
        for (field, value) in health {
            health_says(app, field, value, RECOVERED_WITHIN).await;
        }
    }
    for (app, cred) in all.iter().zip(live) {
        assert_eq!(
            app.me(cred).await.status,
            StatusCode::OK,
            "a session was lost"
        );
    }
    let (n, _) = enforced(ledger, all, Duration::ZERO).await;
    format!("writes back after {recovered:.1?}; {n} logouts enforced on both")
}

/// A session-mode instance with its sessions (and users) in the shared
/// PostgreSQL.
async fn pg_session_instance(url: &str, clock: &ManualClock) -> Arc<TestApp> {
    let url = url.to_owned();
    Arc::new(
        Setup::new(Kind::SqliteSession)
            .clock(clock)
            .follow()
            .config(move |c| {
                c.storage.database_url = url;
                c.mode = Mode::session();
                c.revocation.poll = POLL;
            })
            .start()
            .await,
    )
}

/// Issue 19: PostgreSQL was faulted in token mode only. With sessions in
/// it, every request reads the store: while it is gone every request may
/// answer 503 (never hang past the store timeout), and once it is back no
/// session is lost and every answered logout holds on both instances.
#[tokio::test]
async fn postgres_sessions_stopped_restarted_and_paused_lose_no_logout() {
    let Some(mut pg) = PgServer::start("the PostgreSQL fault tests").await else {
        return;
    };
    let started = Instant::now();
    let url = format!("{}?application_name=passcard_faults", pg.url());
    let clock = ManualClock::new();
    let a = pg_session_instance(&url, &clock).await;
    let b = pg_session_instance(&url, &clock).await;
    let all = [a.clone(), b.clone()];
    a.seed("alice", "user").await;
    a.seed("traffic", "user").await;
    a.seed("root", "admin").await;
    let admin = a.login("root").await.cred;
    let live = [a.login("alice").await.cred, b.login("alice").await.cred];
    let ledger = Arc::new(Ledger::default());
    let mut report = Vec::new();
    // Sessions are read from the store: a logout holds at once.
    let back = |fault: &'static str| {
        let (all, ledger, live) = (all.clone(), ledger.clone(), live.clone());
        async move {
            let line = sessions_back(&all, &ledger, &live, &[("store", "ok")]).await;
            format!("pg sessions, {fault}: {line}")
        }
    };
    let down = |what: &'static str| {
        let all = all.clone();
        let live = live.clone();
        async move {
            for (app, cred) in all.iter().zip(&live) {
                let me = bounded("a session lookup", app.me(cred)).await;
                me.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "unavailable");
                health_says(app, "store", "unreachable", STORE_TIMEOUT + SLACK + POLL).await;
                let _ = what;
            }
        }
    };

    // 1. Stopped mid-traffic, down, started again.
    let traffic = Traffic::start(&all, &live, &admin, &ledger);
    traffic.revoked(4).await;
    pg.stop().await;
    down("stop").await;
    traffic.run_for(20).await;
    pg.restart().await;
    report.push(judge(
        "pg sessions, stop",
        &traffic.finish().await,
        Expect::SessionsDown,
    ));
    report.push(back("stop").await);

    // 2. Restarted under traffic.
    let traffic = Traffic::start(&all, &live, &admin, &ledger);
    traffic.revoked(4).await;
    pg.stop().await;
    pg.restart().await;
    traffic.revoked(4).await;
    report.push(judge(
        "pg sessions, restart",
        &traffic.finish().await,
        Expect::SessionsDown,
    ));
    report.push(back("restart").await);

    // 3. Paused past the store timeout, then let go.
    let traffic = Traffic::start(&all, &live, &admin, &ledger);
    traffic.revoked(4).await;
    pg.pause();
    let t = Instant::now();
    down("pause").await;
    traffic.run_for(20).await;
    pg.resume();
    let paused = t.elapsed();
    assert!(paused > STORE_TIMEOUT, "paused for {paused:?} only");
    report.push(judge(
        "pg sessions, pause",
        &traffic.finish().await,
        Expect::SessionsDown,
    ));
    report.push(back("pause").await);

    let (n, _) = enforced(&ledger, &all, Duration::ZERO).await;
    report.push(format!(
        "postgres sessions: {n} logouts, 0 lost; suite {:.1?}",
        started.elapsed()
    ));
    say(&report);
}

/// A session-mode instance: users in the shared SQLite file, sessions in
/// the test's Redis.
async fn redis_instance(db: &str, redis: &str, prefix: &str, clock: &ManualClock) -> Arc<TestApp> {
    let (db, redis, prefix) = (db.to_owned(), redis.to_owned(), prefix.to_owned());
    Arc::new(
        Setup::new(Kind::SqliteSession)
            .clock(clock)
            .follow()
            .config(move |c| {
                c.storage.database_url = db;
                let mut s = SessionSettings::default();
                s.store = Some(redis);
                s.prefix = prefix;
                c.mode = Mode::Session(s);
                c.revocation.poll = POLL;
            })
            .start()
            .await,
    )
}

#[tokio::test]
async fn redis_sessions_stopped_restarted_paused_and_cut_lose_no_logout() {
    let Some(mut redis) = RedisServer::start("the Redis fault tests").await else {
        return;
    };
    let started = Instant::now();
    let dir = TempDir::new("faults-users");
    let db = format!("sqlite://{}/users.db", dir.display());
    let clock = ManualClock::new();
    let a = redis_instance(&db, &redis.url(), "faults", &clock).await;
    let b = redis_instance(&db, &redis.url(), "faults", &clock).await;
    let all = [a.clone(), b.clone()];
    a.seed("alice", "user").await;
    a.seed("traffic", "user").await;
    a.seed("root", "admin").await;
    let admin = a.login("root").await.cred;
    let live = [a.login("alice").await.cred, b.login("alice").await.cred];
    let ledger = Arc::new(Ledger::default());
    let mut report = Vec::new();

    // A session ended on one instance is refused by the other at once:
    // both read it from Redis.
    let session_after = |fault: &'static str| {
        let (all, ledger, live) = (all.clone(), ledger.clone(), live.clone());
        async move {
            let health = [("sessions", "ok"), ("status", "ok")];
            let line = sessions_back(&all, &ledger, &live, &health).await;
            format!("{fault}: {line}")
        }
    };
    let sessions_down = |what: &'static str| {
        let all = all.clone();
        async move {
            for app in &all {
                health_says(app, "sessions", "unreachable", STORE_TIMEOUT + SLACK + POLL).await;
                let h = health(app).await;
                assert_eq!(h["status"], "unavailable", "{what}: {h}");
                // The main store is fine, and /healthz says which is not.
                assert_eq!(h["store"], "ok", "{what}: {h}");
            }
        }
    };

    // 1. Stopped mid-traffic (it saves the sessions), down, started again.
    let traffic = Traffic::start(&all, &live, &admin, &ledger);
    traffic.revoked(4).await;
    redis.stop().await;
    let me = bounded("a session lookup", a.me(&live[0])).await;
    me.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    sessions_down("stop").await;
    traffic.run_for(20).await;
    redis.restart().await;
    report.push(judge("stop", &traffic.finish().await, Expect::SessionsDown));
    report.push(session_after("stop").await);

    // 2. Restarted under traffic.
    let traffic = Traffic::start(&all, &live, &admin, &ledger);
    traffic.revoked(4).await;
    redis.stop().await;
    redis.restart().await;
    traffic.revoked(4).await;
    report.push(judge(
        "restart",
        &traffic.finish().await,
        Expect::SessionsDown,
    ));
    report.push(session_after("restart").await);

    // 3. Paused past the store timeout.
    let traffic = Traffic::start(&all, &live, &admin, &ledger);
    traffic.revoked(4).await;
    redis.pause();
    let me = bounded("a session lookup", a.me(&live[0])).await;
    me.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    sessions_down("pause").await;
    traffic.run_for(20).await;
    redis.resume();
    report.push(judge(
        "pause",
        &traffic.finish().await,
        Expect::SessionsDown,
    ));
    report.push(session_after("pause").await);

    // 4. The instances' connections killed (there is no pub/sub
    // connection: sessions are read, not pushed); a logout at once.
    let traffic = Traffic::start(&all, &live, &admin, &ledger);
    traffic.revoked(4).await;
    let cred = b.login("alice").await.cred;
    redis
        .command(&["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"])
        .await
        .unwrap();
    let me = bounded("a session lookup", a.me(&live[0])).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    let out = bounded("a logout", b.logout(&cred)).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{}", out.text);
    ledger.add(
        "a logout right after the connections were killed".into(),
        cred,
    );
    traffic.revoked(4).await;
    report.push(judge(
        "client-kill",
        &traffic.finish().await,
        Expect::Absorbed,
    ));
    report.push(session_after("client-kill").await);

    let (n, _) = enforced(&ledger, &all, Duration::ZERO).await;
    report.push(format!(
        "redis: {n} logouts, 0 lost; suite {:.1?}",
        started.elapsed()
    ));
    say(&report);
}

fn say(lines: &[String]) {
    use std::io::Write as _;
    let mut err = std::io::stderr();
    let _ = writeln!(err);
    for l in lines {
        let _ = writeln!(err, "*** faults: {l}");
    }
}
