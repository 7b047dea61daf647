//! Three instances sharing one PostgreSQL schema, with the safety poll
//! turned off: every revocation reaches the others by push (LISTEN/NOTIFY)
//! or not at all, so these tests fail without it. Skipped (loudly) when
//! PASSCARD_TEST_DATABASE_URL is unset.

use std::time::Duration;

use axum::http::StatusCode;
use passcard::config::KeySource;
use passcard_jwt::{Algorithm, SigningKey};
use passcard_testkit::{
    Cred, Kind, ManualClock, Setup, TempDir, TempSchema, TestApp, env, poll_until,
};
use serde_json::json;

/// The bound on a revocation reaching another instance by push: one that
/// holds on a loaded two-core machine (Chromium and Schemathesis run beside
/// this suite); the measured p50 and p99 are printed.
const PUSHED_WITHIN: Duration = Duration::from_secs(1);

/// An instance on `schema` signing with `key_file`, following the log by
/// push only (the safety poll is an hour).
async fn instance(schema: &TempSchema, key_file: &std::path::Path, clock: &ManualClock) -> TestApp {
    follower(
        schema.url(),
        key_file,
        clock,
        Duration::from_secs(3600),
        None,
    )
    .await
}

/// An instance on the PostgreSQL database at `url`, signing with
/// `key_file` and following the revocation log (safety poll every `poll`,
/// optionally failing closed past `max_lag`).
pub(crate) async fn follower(
    url: &str,
    key_file: &std::path::Path,
    clock: &ManualClock,
    poll: Duration,
    max_lag: Option<Duration>,
) -> TestApp {
    let (url, key) = (url.to_owned(), key_file.to_owned());
    // The matrix's SQLite store is replaced by the shared database.
    Setup::new(Kind::SqliteToken)
        .clock(clock)
        .follow()
        .config(move |c| {
            c.storage.database_url = url;
            c.keys.source = Some(KeySource::File(key));
            c.revocation.poll = poll;
            c.revocation.max_lag = max_lag;
        })
        .start()
        .await
}

/// How long until `app` refuses `cred`, within `bound`.
async fn refused_within(app: &TestApp, cred: &Cred, bound: Duration) -> Option<Duration> {
    poll_until(bound, || async {
        app.me(cred).await.status == StatusCode::UNAUTHORIZED
    })
    .await
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

/// Waits until `n` LISTEN connections of the schema are up.
async fn listeners_back(schema: &TempSchema, n: i64) -> bool {
    poll_until(Duration::from_secs(10), || async {
        let up: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND query ILIKE 'LISTEN%'",
        )
        .bind(schema.name())
        .fetch_one(schema.admin())
        .await
        .unwrap();
        up >= n
    })
    .await
    .is_some()
}

#[tokio::test]
async fn revocations_are_pushed_to_every_instance_and_survive_a_cut() {
    let Some(base) = env::postgres("the cluster tests") else {
        return;
    };
    let schema = TempSchema::create(&base).await;
    let keys = TempDir::new("cluster-keys");
    let key_file =
        crate::contract::key_file(&keys, &SigningKey::generate(Algorithm::EdDSA).unwrap());
    let clock = ManualClock::new();
    let a = instance(&schema, &key_file, &clock).await;
    let b = instance(&schema, &key_file, &clock).await;
    let c = instance(&schema, &key_file, &clock).await;
    assert!(listeners_back(&schema, 3).await, "every instance listens");

    // Log in on the first; the token works on the second and the third.
    let alice = a.seed("alice", "user").await;
    a.seed("root", "admin").await;
    let login = a.login("alice").await;
    for s in [&a, &b, &c] {
        assert_eq!(s.me(&login.cred).await.status, StatusCode::OK);
    }

    // A second token of the same login, minted by a refresh on the third.
    let sibling = c.refresh(login.refresh_token()).await;
    assert_eq!(sibling.status, StatusCode::OK, "{}", sibling.text);
    let sibling = Cred::Bearer(sibling.str("access_token"));

    // A logout on the second is pushed to the first and the third, and
    // ends the whole login there: the sibling token too.
    assert_eq!(b.logout(&login.cred).await.status, StatusCode::NO_CONTENT);
    for s in [&a, &c] {
        for cred in [&login.cred, &sibling] {
            assert!(
                refused_within(s, cred, PUSHED_WITHIN).await.is_some(),
                "logout not pushed within {PUSHED_WITHIN:?}"
            );
        }
    }

    // A role change on the third rejects the old token everywhere; the
    // refreshed token carries the new role.
    let login = a.login("alice").await;
    let root = c.login("root").await;
    let r = c
        .put(&format!("/v1/users/{alice}/role"))
        .auth(&root.cred)
        .json(&json!({"role": "admin"}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    for s in [&a, &b] {
        assert!(
            refused_within(s, &login.cred, PUSHED_WITHIN)
                .await
                .is_some(),
            "role change not pushed within {PUSHED_WITHIN:?}"
        );
    }
    let fresh = b.refresh(login.refresh_token()).await;
    assert_eq!(fresh.status, StatusCode::OK, "{}", fresh.text);
    let fresh = Cred::Bearer(fresh.str("access_token"));
    for s in [&a, &b, &c] {
        assert_eq!(s.me(&fresh).await.body["role"], "admin");
    }

    // Measure: a logout on one instance, until the two others refuse.
    let mut lags = Vec::new();
    for i in 0..20 {
        let login = [&a, &b][i % 2].login("alice").await;
        let (origin, others) = match i % 3 {
            0 => (&a, [&b, &c]),
            1 => (&b, [&a, &c]),
            _ => (&c, [&a, &b]),
        };
        for s in others {
            assert_eq!(s.me(&login.cred).await.status, StatusCode::OK);
        }
        assert_eq!(
            origin.logout(&login.cred).await.status,
            StatusCode::NO_CONTENT
        );
        for s in others {
            lags.push(
                refused_within(s, &login.cred, PUSHED_WITHIN)
                    .await
                    .expect("logout not pushed"),
            );
        }
    }
    lags.sort();
    {
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "\n*** cluster: a logout on one instance refused by the others after p50 {:?}, p99 {:?}, max {:?} (n={}) ***\n",
            percentile(&lags, 0.5),
            percentile(&lags, 0.99),
            lags[lags.len() - 1],
            lags.len()
        );
    }

    // Cut the push channels (every LISTEN connection of these instances)
    // and revoke at once: when the channels are back, the revocation made
    // during the cut is enforced, and the next one is pushed again.
    let t1 = a.login("alice").await;
    let t2 = a.login("alice").await;
    let cut = schema.terminate("LISTEN").await;
    assert_eq!(cut, 3, "the listeners of the three instances");
    assert_eq!(b.logout(&t1.cred).await.status, StatusCode::NO_CONTENT);
    assert!(listeners_back(&schema, 3).await, "the listeners reconnect");
    assert!(
        refused_within(&a, &t1.cred, PUSHED_WITHIN).await.is_some(),
        "the revocation made during the cut is enforced once the channel is back"
    );
    assert_eq!(b.logout(&t2.cred).await.status, StatusCode::NO_CONTENT);
    for s in [&a, &c] {
        assert!(
            refused_within(s, &t2.cred, PUSHED_WITHIN).await.is_some(),
            "not pushed after the reconnect"
        );
    }
    let h = a.get("/healthz").send().await;
    assert_eq!(h.body["status"], "ok", "{}", h.text);
    assert_eq!(h.body["revocation_push"], "listening", "{}", h.text);
}

#[tokio::test]
async fn a_logout_right_after_every_connection_was_cut_succeeds_everywhere() {
    let Some(base) = env::postgres("the failover test") else {
        return;
    };
    let schema = TempSchema::create(&base).await;
    let keys = TempDir::new("failover-keys");
    let key_file =
        crate::contract::key_file(&keys, &SigningKey::generate(Algorithm::EdDSA).unwrap());
    let clock = ManualClock::new();
    let a = instance(&schema, &key_file, &clock).await;
    let b = instance(&schema, &key_file, &clock).await;
    assert!(listeners_back(&schema, 2).await);
    a.seed("alice", "user").await;
    // Both instances' pools hold connections that were in use.
    let login = a.login("alice").await;
    let other = b.login("alice").await;
    assert_eq!(b.me(&login.cred).await.status, StatusCode::OK);

    // What a PostgreSQL restart, a failover or a connection proxy does to
    // the instances: every connection they hold is ended.
    let cut = schema.terminate("").await;
    assert!(cut >= 4, "pools and listeners: {cut}");
    // The logout made at once, on a connection that is dead, still lands.
    let out = a.logout(&login.cred).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{}", out.text);
    // And the other instance enforces it (its listener reconnects and
    // catches up).
    let refused = refused_within(&b, &login.cred, Duration::from_secs(10)).await;
    assert!(
        refused.is_some(),
        "the other instance never enforced the logout"
    );
    // Both keep serving what needs the store.
    let again = b.logout(&other.cred).await;
    assert_eq!(again.status, StatusCode::NO_CONTENT, "{}", again.text);
    assert_eq!(a.login("alice").await.answer.status, StatusCode::OK);
}
