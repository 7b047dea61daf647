//! passcard-axum integration tests: the layer on a Router (no socket), and
//! remote JWKS and the revocation feed against in-process HTTP servers.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::routing::get;
use passcard_axum::feed::{FeedPage, Revocation, RevocationEvent};
use passcard_axum::{
    Authenticated, PasscardLayer, RemoteJwks, RevocationFeed, RevocationList, Verifier,
    access_policy,
};
use passcard_jwt::{Algorithm, Clock as _, Header, JwkSet, KeySet, SigningKey, Validator};
use passcard_testkit::{ManualClock, poll_until};
use tower::ServiceExt as _;

fn policy() -> Validator {
    access_policy("passcard", "passcard", Duration::from_secs(30))
}

fn token(clock: &ManualClock, key: &SigningKey, sub: i64, jti: &str, ver: i64, ttl: i64) -> String {
    let now = i64::try_from(clock.now().as_secs()).unwrap();
    let claims = serde_json::json!({"iss": "passcard", "aud": "passcard", "sub": sub.to_string(),
        "role": "user", "iat": now, "exp": now + ttl, "jti": jti, "ver": ver, "sid": "1"});
    passcard_jwt::encode(&Header::new().typ("at+jwt"), &claims, key).unwrap()
}

async fn whoami(claims: Authenticated) -> String {
    claims.sub.to_string()
}

fn app(verifier: Verifier) -> Router {
    Router::new()
        .route("/whoami", get(whoami))
        .layer(PasscardLayer::new(verifier))
}

async fn call(app: &Router, bearer: Option<&str>) -> (StatusCode, String, String) {
    let mut req = Request::get("/whoami");
    if let Some(t) = bearer {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let resp = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let challenge = resp
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = axum::body::to_bytes(resp.into_body(), 1 << 16)
        .await
        .unwrap();
    (status, challenge, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn static_keys_and_rfc_6750_answers() {
    let clock = ManualClock::new();
    let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let verifier =
        Verifier::new(KeySet::from(key.verifying_key()), policy()).with_clock(clock.shared());
    let app = app(verifier);

    let (status, _, body) = call(&app, Some(&token(&clock, &key, 42, "j1", 0, 60))).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "42"));

    let (status, challenge, body) = call(&app, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        challenge, r#"Bearer realm="passcard""#,
        "no error code when no token was sent"
    );
    assert!(
        body.contains("urn:passcard:problem:authentication-required"),
        "{body}"
    );

    let other = SigningKey::generate(Algorithm::EdDSA).unwrap();
    for bad in [token(&clock, &other, 42, "j2", 0, 60), "garbage".to_owned()] {
        let (status, challenge, body) = call(&app, Some(&bad)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(
            challenge.contains(r#"error="invalid_token""#),
            "{challenge}"
        );
        assert!(
            body.contains("urn:passcard:problem:invalid-token"),
            "{body}"
        );
        assert!(
            !body.contains("unknown key"),
            "the reason stays in the logs: {body}"
        );
    }
    // Expired, by the verifier's clock: exp + leeway reached.
    let t = token(&clock, &key, 42, "j3", 0, 60);
    assert_eq!(call(&app, Some(&t)).await.0, StatusCode::OK);
    clock.advance(Duration::from_secs(90));
    let (status, challenge, body) = call(&app, Some(&t)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(challenge.contains("expired"), "{challenge}");
    assert!(
        body.contains("urn:passcard:problem:token-expired"),
        "{body}"
    );
}

/// A JWKS endpoint whose content can change, counting its requests.
async fn jwks_server(set: Arc<RwLock<String>>, hits: Arc<AtomicU64>) -> String {
    let app = Router::new().route(
        "/jwks.json",
        get(move || {
            let set = set.clone();
            let hits = hits.clone();
            async move {
                hits.fetch_add(1, Ordering::Relaxed);
                let body = set.read().unwrap().clone();
                ([(header::CONTENT_TYPE, "application/json")], body)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/jwks.json")
}

fn jwks_of(keys: &[&SigningKey]) -> String {
    serde_json::to_string(&JwkSet::new(
        keys.iter().map(|k| k.public_jwk().unwrap()).collect(),
    ))
    .unwrap()
}

#[tokio::test]
async fn remote_jwks_refetches_on_an_unknown_kid_with_a_floor() {
    let clock = ManualClock::new();
    let k1 = SigningKey::generate(Algorithm::ES256).unwrap();
    let k2 = SigningKey::generate(Algorithm::ES256).unwrap();
    let set = Arc::new(RwLock::new(jwks_of(&[&k1])));
    let hits = Arc::new(AtomicU64::new(0));
    let url = jwks_server(set.clone(), hits.clone()).await;
    let jwks = RemoteJwks::builder(&url)
        .min_refetch(Duration::from_secs(30))
        .max_age(Duration::from_secs(600))
        .clock(clock.shared())
        .fetch()
        .await
        .unwrap();
    let app = app(Verifier::new(jwks.clone(), policy()).with_clock(clock.shared()));
    assert_eq!(
        call(&app, Some(&token(&clock, &k1, 1, "a", 0, 60))).await.0,
        StatusCode::OK
    );
    assert_eq!(hits.load(Ordering::Relaxed), 1);

    // The server rotates in k2: its first token triggers one refetch, once
    // the floor has passed (not a moment before).
    *set.write().unwrap() = jwks_of(&[&k1, &k2]);
    clock.advance(Duration::from_secs(29));
    let early = token(&clock, &k2, 2, "b", 0, 60);
    assert_eq!(call(&app, Some(&early)).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(hits.load(Ordering::Relaxed), 1, "within the floor");
    clock.advance(Duration::from_secs(1));
    assert_eq!(call(&app, Some(&early)).await.0, StatusCode::OK);
    assert_eq!(hits.load(Ordering::Relaxed), 2);

    // A flood of unknown kids costs at most one fetch per floor.
    let stranger = SigningKey::generate(Algorithm::ES256).unwrap();
    clock.advance(Duration::from_secs(30));
    for i in 0..50 {
        let t = token(&clock, &stranger, 3, &format!("c{i}"), 0, 60);
        assert_eq!(call(&app, Some(&t)).await.0, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        hits.load(Ordering::Relaxed),
        3,
        "one refetch for fifty unknown kids"
    );
    assert_eq!(jwks.fetches(), 3);

    // Keys older than the maximum age are fetched again on use; a key the
    // server dropped stops verifying, cached verifications included.
    let t1 = token(&clock, &k1, 1, "d", 0, 3600);
    assert_eq!(call(&app, Some(&t1)).await.0, StatusCode::OK);
    *set.write().unwrap() = jwks_of(&[&k2]);
    clock.advance(Duration::from_secs(600));
    assert_eq!(call(&app, Some(&t1)).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(jwks.fetches(), 4);
}

/// A feed endpoint serving `page` to `after=0` and an empty page after,
/// checking the feed token.
async fn feed_server(page: serde_json::Value) -> String {
    let last = page["last_id"].clone();
    let feed = Router::new().route(
        "/v1/revocations",
        get(
            move |headers: axum::http::HeaderMap,
                  q: axum::extract::Query<std::collections::HashMap<String, String>>| {
                let page = page.clone();
                let empty = serde_json::json!({"events": [], "last_id": last});
                async move {
                    if headers
                        .get(header::AUTHORIZATION)
                        .map(|v| v.to_str().unwrap())
                        != Some("Bearer feed-secret")
                    {
                        return (StatusCode::UNAUTHORIZED, String::new());
                    }
                    let body = if q.get("after").map(String::as_str) == Some("0") {
                        page
                    } else {
                        empty
                    };
                    (StatusCode::OK, body.to_string())
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, feed).await.unwrap() });
    format!("http://{addr}")
}

#[tokio::test]
async fn the_revocation_feed_is_enforced_until_each_event_expires() {
    let clock = ManualClock::new();
    let now = i64::try_from(clock.now().as_secs()).unwrap();
    let page = FeedPage {
        events: vec![
            RevocationEvent {
                id: 1,
                user_id: 7,
                revocation: Revocation::Jti {
                    jti: "logged-out".into(),
                    expires_at: now + 60,
                },
                created_at: now,
            },
            RevocationEvent {
                id: 2,
                user_id: 8,
                revocation: Revocation::Version {
                    version: 5,
                    expires_at: now + 360,
                },
                created_at: now,
            },
        ],
        last_id: 3,
    };
    let mut page = serde_json::to_value(&page).unwrap();
    // An event of a kind this version does not know is skipped, not fatal.
    page["events"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"id": 3, "user_id": 9, "kind": "future", "created_at": now}));
    let server = feed_server(page).await;

    let list = Arc::new(RevocationList::new(Duration::from_secs(30), clock.shared()));
    let task = RevocationFeed::new(server, "feed-secret")
        .interval(Duration::from_millis(20))
        .spawn(list.clone());
    let synced = poll_until(Duration::from_secs(10), || async { list.last_id() == 3 }).await;
    assert!(synced.is_some(), "the feed was never read");
    let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let app = app(Verifier::new(KeySet::from(key.verifying_key()), policy())
        .with_clock(clock.shared())
        .with_revocations(list.clone()));
    let status = |sub, jti: &str, ver| {
        let t = token(&clock, &key, sub, jti, ver, 3600);
        let app = app.clone();
        async move { call(&app, Some(&t)).await.0 }
    };
    assert_eq!(status(7, "logged-out", 0).await, StatusCode::UNAUTHORIZED);
    assert_eq!(status(7, "still-in", 0).await, StatusCode::OK);
    assert_eq!(status(8, "old-ver", 4).await, StatusCode::UNAUTHORIZED);
    assert_eq!(status(8, "new-ver", 5).await, StatusCode::OK);

    // Entries go once they cannot matter: expires_at plus the leeway.
    clock.advance(Duration::from_secs(90));
    let pruned = poll_until(Duration::from_secs(10), || async {
        list.denylist_len() == 0
    })
    .await;
    assert!(pruned.is_some(), "the denied jti outlived its expiry");
    assert_eq!(list.versions_len(), 1);
    clock.advance(Duration::from_secs(300));
    let pruned = poll_until(Duration::from_secs(10), || async {
        list.versions_len() == 0
    })
    .await;
    assert!(pruned.is_some(), "the version bump outlived its expiry");
    task.abort();
}

#[tokio::test]
async fn a_stale_revocation_list_fails_closed_when_asked_to() {
    let clock = ManualClock::new();
    let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let list = Arc::new(RevocationList::new(Duration::from_secs(30), clock.shared()));
    let app = app(Verifier::new(KeySet::from(key.verifying_key()), policy())
        .with_clock(clock.shared())
        .with_revocations(list.clone())
        .with_max_lag(Duration::from_secs(5)));
    let t = token(&clock, &key, 1, "a", 0, 60);
    // Never synced: nothing is known about revocations.
    let (status, _, body) = call(&app, Some(&t)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        body.contains("urn:passcard:problem:revocation-view-stale"),
        "{body}"
    );
    list.mark_synced(list.sync_started());
    assert_eq!(call(&app, Some(&t)).await.0, StatusCode::OK);
    clock.advance(Duration::from_secs(5));
    assert_eq!(call(&app, Some(&t)).await.0, StatusCode::OK, "at the bound");
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        call(&app, Some(&t)).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
}

#[tokio::test]
async fn the_cache_skips_the_signature_never_expiry_or_revocation() {
    let clock = ManualClock::new();
    let key = SigningKey::generate(Algorithm::HS256).unwrap();
    let list = Arc::new(RevocationList::new(Duration::ZERO, clock.shared()));
    let verifier = Arc::new(
        Verifier::new(
            KeySet::from(key.verifying_key()),
            access_policy("passcard", "passcard", Duration::ZERO),
        )
        .with_clock(clock.shared())
        .with_revocations(list.clone()),
    );
    let t = token(&clock, &key, 1, "cached", 0, 10);
    for _ in 0..5 {
        verifier.verify(&t).await.unwrap();
    }
    let stats = verifier.cache_stats();
    assert_eq!((stats.hits, stats.misses), (4, 1));
    list.apply(&RevocationEvent {
        id: 1,
        user_id: 1,
        revocation: Revocation::Jti {
            jti: "cached".into(),
            expires_at: 4_000_000_000,
        },
        created_at: 0,
    });
    assert!(matches!(
        verifier.verify(&t).await,
        Err(passcard_axum::Rejection::Revoked(_))
    ));
    let fresh = token(&clock, &key, 1, "other", 0, 10);
    verifier.verify(&fresh).await.unwrap();
    clock.advance(Duration::from_secs(10));
    let expired = verifier.verify(&fresh).await.unwrap_err();
    assert_eq!(expired.reason(), Some("expired"));
}
