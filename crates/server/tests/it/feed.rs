use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::support::TestServer;

const FEED_TOKEN: &str = "feed-token-0123456789abcdef0123456789";

#[tokio::test]
async fn verify_answers_reverse_proxies() {
    let s = TestServer::start().await;
    let id = s.register("alice").await;
    let (access, _) = s.login("alice").await;
    let ok = s.get("/v1/verify", Some(&access)).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.header("x-passcard-sub"), id.to_string());
    assert_eq!(ok.header("x-passcard-role"), "user");
    let no = s.get("/v1/verify", None).await;
    assert_eq!(no.status, StatusCode::UNAUTHORIZED);
    assert!(no.header("www-authenticate").starts_with("Bearer"));
    assert_eq!(
        s.get("/v1/verify", Some("x.y.z")).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn the_feed_is_off_without_a_token_and_guarded_with_one() {
    let off = TestServer::start().await;
    assert_eq!(
        off.get("/v1/revocations", Some(FEED_TOKEN)).await.status,
        StatusCode::NOT_FOUND
    );
    let s = TestServer::start_with(|c| {
        c.feed_token = Some(passcard::config::Secret(FEED_TOKEN.into()));
    })
    .await;
    assert_eq!(
        s.get("/v1/revocations", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        s.get("/v1/revocations", Some("wrong")).await.status,
        StatusCode::UNAUTHORIZED
    );
    // A user's access token is not the feed token.
    s.register("alice").await;
    let (access, _) = s.login("alice").await;
    assert_eq!(
        s.get("/v1/revocations", Some(&access)).await.status,
        StatusCode::UNAUTHORIZED
    );

    assert_eq!(
        s.post("/v1/logout", json!({}), Some(&access)).await.status,
        StatusCode::NO_CONTENT
    );
    let page = s.get("/v1/revocations?after=0", Some(FEED_TOKEN)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let events = page.body["events"].as_array().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["kind"], "jti");
    assert!(events[0]["expires_at"].as_i64().is_some());
    let last = page.body["last_id"].as_i64().unwrap();
    let empty = s
        .get(&format!("/v1/revocations?after={last}"), Some(FEED_TOKEN))
        .await;
    assert!(empty.body["events"].as_array().unwrap().is_empty());
    assert_eq!(empty.body["last_id"], last);
}

/// Reads the event stream into `seen` until it holds `n` revocation events.
async fn read_events(resp: &mut reqwest::Response, seen: &mut String, n: usize) {
    while seen.matches("event: revocation").count() < n {
        let chunk = tokio::time::timeout(Duration::from_secs(5), resp.chunk())
            .await
            .expect("no event within 5 s")
            .unwrap()
            .expect("the stream ended");
        seen.push_str(std::str::from_utf8(&chunk).unwrap());
    }
}

#[tokio::test]
async fn the_stream_sends_the_backlog_then_live_events() {
    let s = TestServer::start_with(|c| {
        c.feed_token = Some(passcard::config::Secret(FEED_TOKEN.into()));
    })
    .await;
    s.register("alice").await;
    let (first, _) = s.login("alice").await;
    assert_eq!(
        s.post("/v1/logout", json!({}), Some(&first)).await.status,
        StatusCode::NO_CONTENT
    );

    let mut resp = s
        .client
        .get(format!("{}/v1/revocations/stream?after=0", s.base))
        .bearer_auth(FEED_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut seen = String::new();
    // The backlog: one logout.
    read_events(&mut resp, &mut seen, 1).await;
    // A live one: logout-all on a second session.
    let (second, _) = s.login("alice").await;
    assert_eq!(
        s.post("/v1/logout-all", json!({}), Some(&second))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    read_events(&mut resp, &mut seen, 2).await;
    assert!(seen.contains(r#""kind":"jti""#), "{seen}");
    assert!(seen.contains(r#""kind":"version""#), "{seen}");
}

/// A resource server built with passcard-axum, trusting a real passcard
/// server through its JWKS and revocation feed.
#[tokio::test]
async fn a_resource_server_with_passcard_axum_enforces_logout() {
    use axum::routing::get;
    use passcard_axum::{
        Authenticated, PasscardClaims, PasscardLayer, RemoteJwks, RevocationFeed, Verifier,
    };

    let keys = crate::support::TempDir::new("rs-keys");
    let key = passcard_jwt::SigningKey::generate(passcard_jwt::Algorithm::EdDSA).unwrap();
    let key_file = crate::support::key_file(&keys, &key);
    let s = TestServer::start_with(|c| {
        c.key_file = Some(key_file.clone());
        c.feed_token = Some(passcard::config::Secret(FEED_TOKEN.into()));
    })
    .await;

    let jwks = RemoteJwks::fetch(format!("{}/.well-known/jwks.json", s.base))
        .await
        .unwrap();
    let (view, feed) = RevocationFeed::spawn(
        s.base.clone(),
        FEED_TOKEN,
        Duration::from_millis(100),
        Duration::from_secs(390),
        Duration::from_secs(30),
    );
    let policy = passcard_jwt::Validator::builder()
        .issuer("passcard")
        .audience("passcard")
        .typ("at+jwt")
        .build();
    let app = axum::Router::new()
        .route(
            "/hello",
            get(
                |Authenticated(c): Authenticated<PasscardClaims>| async move {
                    format!("hello {}", c.sub)
                },
            ),
        )
        .layer(PasscardLayer::<PasscardClaims>::new(
            Verifier::new(jwks, policy).with_revocations(view),
        ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let rs = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let id = s.register("alice").await;
    let (access, _) = s.login("alice").await;
    let hello = s
        .client
        .get(format!("{rs}/hello"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(hello.status(), StatusCode::OK);
    assert_eq!(hello.text().await.unwrap(), format!("hello {id}"));

    assert_eq!(
        s.post("/v1/logout", json!({}), Some(&access)).await.status,
        StatusCode::NO_CONTENT
    );
    let mut refused = false;
    for _ in 0..100 {
        let r = s
            .client
            .get(format!("{rs}/hello"))
            .bearer_auth(&access)
            .send()
            .await
            .unwrap();
        if r.status() == StatusCode::UNAUTHORIZED {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(refused, "the resource server never learned of the logout");
    feed.abort();
}
