//! Zero-downtime key rotation, run under traffic: add the new key as
//! verify-only, promote it, retire the old one after the access TTL.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use passcard_jwt::{Algorithm, JwkSet, SigningKey};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{TempDir, TestServer, password};

struct Traffic {
    ok: AtomicU64,
    unauthorized: AtomicU64,
    other: AtomicU64,
}

async fn start(dir: &TempDir, key_file: &std::path::Path, signing_kid: &str) -> TestServer {
    let db = format!("sqlite://{}/shared.db", dir.display());
    let key_file = key_file.to_owned();
    let kid = signing_kid.to_owned();
    TestServer::start_with(move |c| {
        c.database_url = db;
        c.key_file = Some(key_file);
        c.signing_kid = Some(kid);
        c.access_ttl = Duration::from_secs(2);
        c.leeway = Duration::ZERO;
        c.revocation_poll = Duration::from_millis(100);
    })
    .await
}

/// Stops `old` (taken out of the rotation first) and puts `new` in.
async fn replace(live: &RwLock<Vec<String>>, old: TestServer, new: TestServer) -> TestServer {
    live.write().unwrap().retain(|b| *b != old.base);
    let mut old = old;
    old.server.take().unwrap().stop().await.unwrap();
    live.write().unwrap().push(new.base.clone());
    new
}

#[tokio::test]
async fn rotation_under_traffic_has_no_401() {
    let dir = TempDir::new("rotation");
    let old = SigningKey::generate(Algorithm::EdDSA)
        .unwrap()
        .with_kid("2026-old");
    let new = SigningKey::generate(Algorithm::EdDSA)
        .unwrap()
        .with_kid("2026-new");
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
    let a = start(&dir, &both, "2026-old").await;
    let b = start(&dir, &both, "2026-old").await;
    a.register("alice").await;
    let (first_token, _) = a.login("alice").await;
    let live = Arc::new(RwLock::new(vec![a.base.clone(), b.base.clone()]));
    let traffic = Arc::new(Traffic {
        ok: AtomicU64::new(0),
        unauthorized: AtomicU64::new(0),
        other: AtomicU64::new(0),
    });
    let stop = Arc::new(AtomicBool::new(false));

    // Traffic: one client that logs in, calls /v1/me on every live
    // instance, and refreshes every few rounds on alternating instances.
    let task = {
        let (live, traffic, stop) = (live.clone(), traffic.clone(), stop.clone());
        let client = reqwest::Client::new();
        tokio::spawn(async move {
            let first = live.read().unwrap()[0].clone();
            let r: serde_json::Value = client
                .post(format!("{first}/v1/login"))
                .json(&json!({"username": "alice", "password": password("alice")}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let mut access = r["access_token"].as_str().unwrap().to_owned();
            let mut refresh = r["refresh_token"].as_str().unwrap().to_owned();
            let mut round = 0u64;
            while !stop.load(Ordering::Relaxed) {
                round += 1;
                let bases = live.read().unwrap().clone();
                for base in &bases {
                    let Ok(resp) = client
                        .get(format!("{base}/v1/me"))
                        .bearer_auth(&access)
                        .send()
                        .await
                    else {
                        continue; // an instance stopping mid-request
                    };
                    match resp.status() {
                        StatusCode::OK => traffic.ok.fetch_add(1, Ordering::Relaxed),
                        StatusCode::UNAUTHORIZED => {
                            traffic.unauthorized.fetch_add(1, Ordering::Relaxed)
                        }
                        _ => traffic.other.fetch_add(1, Ordering::Relaxed),
                    };
                }
                if round % 5 == 0 {
                    let base = &bases[usize::try_from(round / 5).unwrap() % bases.len()];
                    if let Ok(resp) = client
                        .post(format!("{base}/v1/refresh"))
                        .json(&json!({"refresh_token": refresh}))
                        .send()
                        .await
                    {
                        if resp.status() == StatusCode::OK {
                            let r: serde_json::Value = resp.json().await.unwrap();
                            access = r["access_token"].as_str().unwrap().to_owned();
                            refresh = r["refresh_token"].as_str().unwrap().to_owned();
                        } else {
                            traffic.other.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Step 2: promote the new key, one instance at a time.
    let a = replace(&live, a, start(&dir, &both, "2026-new").await).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let b = replace(&live, b, start(&dir, &both, "2026-new").await).await;

    // Step 3: after the access TTL (+ leeway), no token signed by the old
    // key is still valid; retire it.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let a = replace(&live, a, start(&dir, &only_new, "2026-new").await).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let b = replace(&live, b, start(&dir, &only_new, "2026-new").await).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    stop.store(true, Ordering::Relaxed);
    task.await.unwrap();
    let (ok, unauthorized, other) = (
        traffic.ok.load(Ordering::Relaxed),
        traffic.unauthorized.load(Ordering::Relaxed),
        traffic.other.load(Ordering::Relaxed),
    );
    assert_eq!(unauthorized, 0, "401s during rotation ({ok} ok)");
    assert_eq!(other, 0, "other failures during rotation ({ok} ok)");
    assert!(ok > 100, "too little traffic to mean anything: {ok}");

    // The retired key's tokens are refused now, even unexpired ones; the
    // JWKS shows the new key only.
    let now = passcard_jwt::Clock::now(&passcard_jwt::SystemClock::new()).as_secs();
    let claims = json!({"iss": "passcard", "aud": "passcard", "sub": "1", "role": "admin",
                        "iat": now, "exp": now + 60, "jti": "old-key", "ver": 0, "sid": "1"});
    let by_old =
        passcard_jwt::encode(&passcard_jwt::Header::new().typ("at+jwt"), &claims, &old).unwrap();
    let by_new =
        passcard_jwt::encode(&passcard_jwt::Header::new().typ("at+jwt"), &claims, &new).unwrap();
    assert_eq!(a.get("/v1/me", Some(&by_new)).await.status, StatusCode::OK);
    assert_eq!(
        a.get("/v1/me", Some(&by_old)).await.status,
        StatusCode::UNAUTHORIZED
    );
    drop(first_token);
    let jwks = b.get("/.well-known/jwks.json", None).await;
    let kids: Vec<_> = jwks.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].clone())
        .collect();
    assert_eq!(kids, vec![json!("2026-new")]);
}

#[tokio::test]
async fn a_signing_kid_that_is_not_in_the_file_stops_the_start() {
    let dir = TempDir::new("rotation-bad");
    let key = SigningKey::generate(Algorithm::EdDSA)
        .unwrap()
        .with_kid("only");
    let file = dir.join("k.json");
    std::fs::write(&file, serde_json::to_string(&key.to_private_jwk()).unwrap()).unwrap();
    let mut config = passcard::config::Config::with_data_dir(dir.join("data"));
    config.key_file = Some(file);
    config.signing_kid = Some("missing".into());
    let err = passcard::app::spawn(config).await.err().unwrap();
    assert!(
        format!("{err:#}").contains("no private key with that kid"),
        "{err:#}"
    );
}
