//! Zero-downtime key rotation, under traffic: add the new key as
//! verify-only, promote it, retire the old one once the access lifetime
//! has passed. Time is a shared manual clock that the traffic moves one
//! second per round, so "the access lifetime has passed" is a number of
//! rounds, not a guess at wall time.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::http::StatusCode;
use passcard::config::KeySource;
use passcard_jwt::{Algorithm, Clock as _, JwkSet, SigningKey};
use passcard_testkit::{Cred, Kind, ManualClock, Setup, TempDir, TestApp, poll_until};
use serde_json::json;

#[derive(Default)]
struct Traffic {
    rounds: AtomicU64,
    ok: AtomicU64,
    unauthorized: AtomicU64,
    other: AtomicU64,
}

type Live = Arc<RwLock<Vec<Arc<TestApp>>>>;

/// An instance on the shared database, holding the keys of `key_file`,
/// signing with `signing_kid`; access tokens live 10 s.
async fn start(
    dir: &TempDir,
    clock: &ManualClock,
    key_file: &std::path::Path,
    signing_kid: &str,
) -> Arc<TestApp> {
    let db = format!("sqlite://{}/shared.db", dir.display());
    let (key_file, kid) = (key_file.to_owned(), signing_kid.to_owned());
    Arc::new(
        Setup::new(Kind::SqliteToken)
            .clock(clock)
            .config(move |c| {
                c.storage.database_url = db;
                c.keys.source = Some(KeySource::File(key_file));
                c.keys.signing_kid = Some(kid);
                c.tokens.access_ttl = Duration::from_secs(10);
                c.tokens.leeway = Duration::ZERO;
            })
            .start()
            .await,
    )
}

/// Takes `old` out of the rotation and puts `new` in.
fn replace(live: &Live, old: &Arc<TestApp>, new: Arc<TestApp>) -> Arc<TestApp> {
    let mut live = live.write().unwrap();
    live.retain(|a| !Arc::ptr_eq(a, old));
    live.push(new.clone());
    new
}

/// Waits until the traffic has run `n` more rounds (seconds of its clock).
async fn rounds(traffic: &Traffic, n: u64) {
    let target = traffic.rounds.load(Ordering::Relaxed) + n;
    let done = poll_until(Duration::from_secs(30), || async {
        traffic.rounds.load(Ordering::Relaxed) >= target
    })
    .await;
    assert!(done.is_some(), "the traffic stalled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_under_traffic_has_no_401() {
    let dir = TempDir::new("rotation");
    let clock = ManualClock::new();
    let old = SigningKey::generate(Algorithm::EdDSA)
        .unwrap()
        .with_kid("2026-old")
        .unwrap();
    let new = SigningKey::generate(Algorithm::EdDSA)
        .unwrap()
        .with_kid("2026-new")
        .unwrap();
    let both = dir.join("both.json");
    let only_new = dir.join("new.json");
    let set = |keys: &[&SigningKey]| {
        serde_json::to_string(&JwkSet::new(
            keys.iter().map(|k| k.to_private_jwk()).collect(),
        ))
        .unwrap()
    };
    std::fs::write(&both, set(&[&old, &new])).unwrap();
    std::fs::write(&only_new, set(&[&new])).unwrap();

    // Step 1: every instance holds both keys; the old one signs.
    let a = start(&dir, &clock, &both, "2026-old").await;
    let b = start(&dir, &clock, &both, "2026-old").await;
    a.seed("alice", "user").await;
    let live: Live = Arc::new(RwLock::new(vec![a.clone(), b.clone()]));
    let traffic = Arc::new(Traffic::default());
    let stop = Arc::new(AtomicBool::new(false));

    // Traffic: one client that logs in, then each round (one second of
    // the clock) calls /v1/me on every live instance, and refreshes every
    // fifth round on alternating instances.
    let task = {
        let (live, traffic, stop, clock) =
            (live.clone(), traffic.clone(), stop.clone(), clock.clone());
        let first = a.login("alice").await;
        tokio::spawn(async move {
            let mut refresh = first.refresh_token().to_owned();
            let mut cred = first.cred;
            let mut round = 0u64;
            while !stop.load(Ordering::Relaxed) {
                round += 1;
                clock.advance(Duration::from_secs(1));
                let instances = live.read().unwrap().clone();
                for app in &instances {
                    let counter = match app.me(&cred).await.status {
                        StatusCode::OK => &traffic.ok,
                        StatusCode::UNAUTHORIZED => &traffic.unauthorized,
                        _ => &traffic.other,
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                }
                if round % 5 == 0 {
                    let app = &instances[usize::try_from(round / 5).unwrap() % instances.len()];
                    let r = app.refresh(&refresh).await;
                    if r.status == StatusCode::OK {
                        cred = Cred::Bearer(r.str("access_token"));
                        refresh = r.str("refresh_token");
                    } else {
                        traffic.other.fetch_add(1, Ordering::Relaxed);
                    }
                }
                traffic.rounds.fetch_add(1, Ordering::Relaxed);
                tokio::task::yield_now().await;
            }
        })
    };
    rounds(&traffic, 10).await;

    // Step 2: promote the new key, one instance at a time.
    let a = replace(&live, &a, start(&dir, &clock, &both, "2026-new").await);
    rounds(&traffic, 10).await;
    let b = replace(&live, &b, start(&dir, &clock, &both, "2026-new").await);
    // Step 3: once the access lifetime has passed, no token signed by the
    // old key can still be valid; retire it.
    rounds(&traffic, 11).await;
    let a = replace(&live, &a, start(&dir, &clock, &only_new, "2026-new").await);
    rounds(&traffic, 10).await;
    let b = replace(&live, &b, start(&dir, &clock, &only_new, "2026-new").await);
    rounds(&traffic, 10).await;

    stop.store(true, Ordering::Relaxed);
    task.await.unwrap();
    let (ok, unauthorized, other) = (
        traffic.ok.load(Ordering::Relaxed),
        traffic.unauthorized.load(Ordering::Relaxed),
        traffic.other.load(Ordering::Relaxed),
    );
    assert_eq!(unauthorized, 0, "401s during rotation ({ok} ok)");
    assert_eq!(other, 0, "other failures during rotation ({ok} ok)");
    assert!(ok >= 100, "too little traffic to mean anything: {ok}");

    // The retired key's tokens are refused now, even unexpired ones; the
    // JWKS shows the new key only.
    let now = clock.now().as_secs();
    let claims = json!({"iss": "passcard", "aud": "passcard", "sub": "1", "role": "admin",
                        "iat": now, "exp": now + 60, "jti": "old-key", "ver": 0, "sid": "1"});
    let sign = |key: &SigningKey| {
        Cred::Bearer(
            passcard_jwt::encode(&passcard_jwt::Header::new().typ("at+jwt"), &claims, key).unwrap(),
        )
    };
    assert_eq!(a.me(&sign(&new)).await.status, StatusCode::OK);
    a.me(&sign(&old)).await.assert_invalid_token();
    let jwks = b.get("/.well-known/jwks.json").send().await;
    let kids: Vec<_> = jwks.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].clone())
        .collect();
    assert_eq!(kids, vec![json!("2026-new")]);
}
