//! Three instances on loopback ports sharing one PostgreSQL database.
//! Skipped (loudly) when PASSCARD_TEST_DATABASE_URL is unset.

use std::time::{Duration, Instant};

use passcard_jwt::{Algorithm, SigningKey};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{TempDir, TestServer, key_file, until_status};

/// A database of its own on the test server, dropped at the end.
struct TempDatabase {
    admin: sqlx::PgPool,
    name: String,
    url: String,
}

impl TempDatabase {
    async fn create() -> Option<Self> {
        let Ok(base) = std::env::var("PASSCARD_TEST_DATABASE_URL") else {
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr(),
                "\n*** SKIPPED: cluster tests (set PASSCARD_TEST_DATABASE_URL, e.g. postgres://postgres@127.0.0.1:5432/test) ***\n"
            );
            return None;
        };
        let admin = sqlx::PgPool::connect(&base)
            .await
            .expect("PASSCARD_TEST_DATABASE_URL is set but unreachable");
        let name = format!(
            "passcard_cluster_{}_{}",
            std::process::id(),
            passcard_jwt::new_jti()
                .unwrap()
                .to_lowercase()
                .replace(['-', '_'], "")
        );
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await
            .unwrap();
        let (prefix, _) = base.rsplit_once('/').unwrap();
        let url = format!("{prefix}/{name}");
        Some(Self { admin, name, url })
    }

    async fn drop(self) {
        sqlx::query(&format!("DROP DATABASE {} WITH (FORCE)", self.name))
            .execute(&self.admin)
            .await
            .unwrap();
    }
}

async fn instance(db: &TempDatabase, key_file: &std::path::Path) -> TestServer {
    let url = db.url.clone();
    let key = key_file.to_owned();
    TestServer::start_with(move |c| {
        c.database_url = url;
        c.key_file = Some(key);
    })
    .await
}

async fn until_refused(s: &TestServer, token: &str, since: Instant) -> Option<Duration> {
    until_status(s, "/v1/me", token, StatusCode::UNAUTHORIZED, since).await
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

#[tokio::test]
async fn three_instances_share_revocations() {
    let Some(db) = TempDatabase::create().await else {
        return;
    };
    let keys = TempDir::new("cluster-keys");
    let key_file = key_file(&keys, &SigningKey::generate(Algorithm::EdDSA).unwrap());

    let a = instance(&db, &key_file).await;
    let b = instance(&db, &key_file).await;
    let mut c = instance(&db, &key_file).await;

    // Log in on the first; the token works on the second and the third.
    let alice = a.register("alice").await;
    a.admin("root").await;
    let (token, refresh) = a.login("alice").await;
    for s in [&a, &b, &c] {
        assert_eq!(s.get("/v1/me", Some(&token)).await.status, StatusCode::OK);
    }

    // Logout on the second is enforced on the first and the third.
    let t0 = Instant::now();
    assert_eq!(
        b.post("/v1/logout", json!({}), Some(&token)).await.status,
        StatusCode::NO_CONTENT
    );
    for s in [&a, &c] {
        assert!(
            until_refused(s, &token, t0).await.is_some(),
            "logout not enforced"
        );
    }

    // A role change on the third rejects the old token everywhere; the
    // refreshed token carries the new role.
    let (token, refresh2) = a.login("alice").await;
    let _ = refresh;
    let (root, _) = c.login("root").await;
    let r = c
        .put(
            &format!("/v1/users/{alice}/role"),
            json!({"role": "admin"}),
            Some(&root),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let t0 = Instant::now();
    for s in [&a, &b, &c] {
        assert!(
            until_refused(s, &token, t0).await.is_some(),
            "role change not enforced"
        );
    }
    let fresh = b.refresh(&refresh2).await;
    assert_eq!(fresh.status, StatusCode::OK, "{}", fresh.text);
    for s in [&a, &b, &c] {
        assert_eq!(
            s.get("/v1/me", Some(&fresh.str("access_token"))).await.body["role"],
            "admin"
        );
    }

    // Measure: a logout on one instance, until the two others refuse.
    let mut lags = Vec::new();
    for i in 0..20 {
        let (token, _) = [&a, &b][i % 2].login("alice").await;
        for s in [&a, &b, &c] {
            assert_eq!(s.get("/v1/me", Some(&token)).await.status, StatusCode::OK);
        }
        let (origin, others) = match i % 3 {
            0 => (&a, [&b, &c]),
            1 => (&b, [&a, &c]),
            _ => (&c, [&a, &b]),
        };
        let t0 = Instant::now();
        assert_eq!(
            origin
                .post("/v1/logout", json!({}), Some(&token))
                .await
                .status,
            StatusCode::NO_CONTENT
        );
        let issued = t0.elapsed();
        for s in others {
            let lag = until_refused(s, &token, t0)
                .await
                .expect("logout never propagated");
            lags.push(lag.saturating_sub(issued));
        }
    }
    lags.sort();
    {
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "\n*** cluster: logout on one instance enforced by the others after p50 {:?}, p99 {:?}, max {:?} (n={}) ***\n",
            percentile(&lags, 0.5),
            percentile(&lags, 0.99),
            lags[lags.len() - 1],
            lags.len()
        );
    }

    // One instance stops; the others are unaffected.
    c.server.take().unwrap().stop().await.unwrap();
    let (token, _) = a.login("alice").await;
    assert_eq!(b.get("/v1/me", Some(&token)).await.status, StatusCode::OK);

    // Cut the push channels (every LISTEN connection of this database) while
    // revocations are made: after reconnecting, all are enforced.
    let cut: i64 = sqlx::query_scalar(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1 AND query ILIKE 'LISTEN%'",
    )
    .bind(&db.name)
    .fetch_one(&db.admin)
    .await
    .unwrap();
    assert!(
        cut >= 2,
        "expected the listeners of both live instances, cut {cut}"
    );
    let (t1, _) = a.login("alice").await;
    let (t2, _) = a.login("alice").await;
    assert_eq!(
        b.post("/v1/logout", json!({}), Some(&t1)).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        b.post("/v1/logout", json!({}), Some(&t2)).await.status,
        StatusCode::NO_CONTENT
    );
    let t0 = Instant::now();
    assert!(until_refused(&a, &t1, t0).await.is_some());
    assert!(until_refused(&a, &t2, t0).await.is_some());
    assert_eq!(a.get("/healthz", None).await.body["status"], "ok");

    drop(a);
    drop(b);
    db.drop().await;
}

/// One instance on `db` that reads the revocation log every 100 ms.
async fn polling_instance(
    db: &TempDatabase,
    keys: &TempDir,
    max_lag: Option<Duration>,
) -> TestServer {
    let key_file = key_file(keys, &SigningKey::generate(Algorithm::HS256).unwrap());
    let url = db.url.clone();
    TestServer::start_with(move |c| {
        c.database_url = url;
        c.key_file = Some(key_file);
        c.revocation_poll = Duration::from_millis(100);
        c.revocation_max_lag = max_lag;
    })
    .await
}

#[tokio::test]
async fn fail_closed_when_the_view_is_too_old() {
    let Some(db) = TempDatabase::create().await else {
        return;
    };
    let keys = TempDir::new("cluster-keys");
    let s = polling_instance(&db, &keys, Some(Duration::from_millis(500))).await;
    s.register("alice").await;
    let (token, _) = s.login("alice").await;
    assert_eq!(s.get("/v1/me", Some(&token)).await.status, StatusCode::OK);
    // The store goes away: the view ages past the bound, and tokens are
    // refused with 503 rather than trusted blindly.
    db.drop().await;
    let mut refused = None;
    for _ in 0..100 {
        let a = s.get("/v1/me", Some(&token)).await;
        if a.status == StatusCode::SERVICE_UNAVAILABLE {
            refused = Some(a);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let a = refused.expect("never failed closed");
    assert_eq!(a.body["type"], "urn:passcard:problem:revocation-view-stale");
    assert_eq!(a.header("retry-after"), "1");
    let h = s.get("/healthz", None).await;
    assert_eq!(h.body["status"], "stale", "{}", h.text);
    assert!(h.body["revocation_lag_ms"].as_u64().unwrap() >= 500);
}

#[tokio::test]
async fn without_the_store_tokens_still_verify_and_the_lag_shows() {
    let Some(db) = TempDatabase::create().await else {
        return;
    };
    let keys = TempDir::new("cluster-keys");
    let s = polling_instance(&db, &keys, None).await;
    s.register("alice").await;
    let (token, _) = s.login("alice").await;
    db.drop().await;
    // The store is gone: verification goes on (that is the point of
    // stateless tokens) and /healthz reports the growing lag.
    let mut lagging = None;
    for _ in 0..100 {
        assert_eq!(s.get("/v1/me", Some(&token)).await.status, StatusCode::OK);
        let h = s.get("/healthz", None).await;
        if h.body["status"] == "lagging" {
            lagging = Some(h);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let h = lagging.expect("/healthz never reported the lag");
    assert!(h.body["revocation_lag_ms"].as_u64().unwrap() >= 300);
    assert!(s.metric("passcard_revocation_lag_seconds").await >= 0.3);
}
