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
use passcard_axum::{
    Authenticated, PasscardClaims, PasscardLayer, RemoteJwks, RevocationFeed, Verifier,
};
use passcard_jwt::{Algorithm, Header, JwkSet, KeySet, SigningKey, Validator};
use tower::ServiceExt as _;

fn policy() -> Validator {
    Validator::builder()
        .issuer("passcard")
        .audience("passcard")
        .typ("at+jwt")
        .build()
}

fn token(key: &SigningKey, sub: &str, jti: &str, ver: i64, ttl: i64) -> String {
    let now = i64::try_from(passcard_jwt::Clock::now(&passcard_jwt::SystemClock::new()).as_secs())
        .unwrap();
    let claims = serde_json::json!({"iss": "passcard", "aud": "passcard", "sub": sub, "role": "user",
        "iat": now, "exp": now + ttl, "jti": jti, "ver": ver});
    passcard_jwt::encode(&Header::new().typ("at+jwt"), &claims, key).unwrap()
}

async fn whoami(Authenticated(c): Authenticated<PasscardClaims>) -> String {
    c.sub
}

fn app(verifier: Verifier) -> Router {
    Router::new()
        .route("/whoami", get(whoami))
        .layer(PasscardLayer::<PasscardClaims>::new(verifier))
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
    let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let app = app(Verifier::new(KeySet::from(key.verifying_key()), policy()));

    let (status, _, body) = call(&app, Some(&token(&key, "42", "j1", 0, 60))).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "42"));

    let (status, challenge, _) = call(&app, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(challenge, "Bearer", "no error code when no token was sent");

    let other = SigningKey::generate(Algorithm::EdDSA).unwrap();
    for bad in [token(&other, "42", "j2", 0, 60), "garbage".to_owned()] {
        let (status, challenge, body) = call(&app, Some(&bad)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(
            challenge.contains(r#"error="invalid_token""#),
            "{challenge}"
        );
        assert!(
            !body.contains("unknown key"),
            "the reason stays in the logs: {body}"
        );
    }
    let (status, challenge, _) = call(&app, Some(&token(&key, "42", "j3", 0, -100))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(challenge.contains("expired"), "{challenge}");
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
    let k1 = SigningKey::generate(Algorithm::ES256).unwrap();
    let k2 = SigningKey::generate(Algorithm::ES256).unwrap();
    let set = Arc::new(RwLock::new(jwks_of(&[&k1])));
    let hits = Arc::new(AtomicU64::new(0));
    let url = jwks_server(set.clone(), hits.clone()).await;
    let jwks = RemoteJwks::fetch_with(&url, Duration::from_millis(300), Duration::from_secs(600))
        .await
        .unwrap();
    let app = app(Verifier::new(jwks.clone(), policy()));
    assert_eq!(
        call(&app, Some(&token(&k1, "1", "a", 0, 60))).await.0,
        StatusCode::OK
    );
    assert_eq!(hits.load(Ordering::Relaxed), 1);

    // The server rotates in k2: its first token triggers one refetch (once
    // the floor has passed).
    *set.write().unwrap() = jwks_of(&[&k1, &k2]);
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(
        call(&app, Some(&token(&k2, "2", "b", 0, 60))).await.0,
        StatusCode::OK
    );
    assert_eq!(hits.load(Ordering::Relaxed), 2);

    // A flood of unknown kids costs at most one fetch per floor.
    let stranger = SigningKey::generate(Algorithm::ES256).unwrap();
    tokio::time::sleep(Duration::from_millis(350)).await;
    for i in 0..50 {
        let t = token(&stranger, "3", &format!("c{i}"), 0, 60);
        assert_eq!(call(&app, Some(&t)).await.0, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        hits.load(Ordering::Relaxed),
        3,
        "one refetch for fifty unknown kids"
    );
    assert_eq!(jwks.fetches(), 3);
}

#[tokio::test]
async fn the_revocation_feed_is_enforced() {
    // A feed endpoint serving two events, checking the feed token.
    let events = serde_json::json!({"events": [
        {"id": 1, "kind": "jti", "user_id": 7, "jti": "logged-out", "expires_at": 4_000_000_000_i64, "created_at": 1},
        {"id": 2, "kind": "version", "user_id": 8, "version": 5, "created_at": i64::try_from(passcard_jwt::Clock::now(&passcard_jwt::SystemClock::new()).as_secs()).unwrap()},
    ], "last_id": 2});
    let empty = serde_json::json!({"events": [], "last_id": 2});
    let feed = Router::new().route(
        "/v1/revocations",
        get(
            move |headers: axum::http::HeaderMap,
                  q: axum::extract::Query<std::collections::HashMap<String, String>>| {
                let (events, empty) = (events.clone(), empty.clone());
                async move {
                    if headers
                        .get(header::AUTHORIZATION)
                        .map(|v| v.to_str().unwrap())
                        != Some("Bearer feed-secret")
                    {
                        return (StatusCode::UNAUTHORIZED, String::new());
                    }
                    let page = if q.get("after").map(String::as_str) == Some("0") {
                        events
                    } else {
                        empty
                    };
                    (StatusCode::OK, page.to_string())
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, feed).await.unwrap() });

    let (view, task) = RevocationFeed::spawn(
        format!("http://{addr}"),
        "feed-secret",
        Duration::from_millis(50),
        Duration::from_secs(390),
        Duration::from_secs(30),
    );
    for _ in 0..100 {
        if view.last_id() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(view.last_id(), 2);
    let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let app =
        app(Verifier::new(KeySet::from(key.verifying_key()), policy()).with_revocations(view));
    assert_eq!(
        call(&app, Some(&token(&key, "7", "logged-out", 0, 60)))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(&app, Some(&token(&key, "7", "still-in", 0, 60)))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        call(&app, Some(&token(&key, "8", "old-ver", 4, 60)))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(&app, Some(&token(&key, "8", "new-ver", 5, 60)))
            .await
            .0,
        StatusCode::OK
    );
    task.abort();
}

#[tokio::test]
async fn a_stale_revocation_view_fails_closed_when_asked_to() {
    let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let view = Arc::new(passcard_axum::RevocationView::new());
    let app = app(Verifier::new(KeySet::from(key.verifying_key()), policy())
        .with_revocations(view.clone())
        .with_max_lag(Duration::from_millis(200)));
    let t = token(&key, "1", "a", 0, 60);
    // Never synced: nothing is known about revocations.
    assert_eq!(
        call(&app, Some(&t)).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    view.mark_synced(std::time::Instant::now());
    assert_eq!(call(&app, Some(&t)).await.0, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(
        call(&app, Some(&t)).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert!(view.lag().unwrap() >= Duration::from_millis(200));
}
