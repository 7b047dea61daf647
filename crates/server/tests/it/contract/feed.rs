use std::time::Duration;

use axum::http::StatusCode;
use futures_util::StreamExt as _;
use passcard::config::Secret;
use passcard_testkit::Setup;
use serde_json::json;

crate::contract::contract!(
    every: [],
    tokens: [
        the_feed_is_off_without_a_token_and_guarded_with_one,
        feed_events_say_until_when_they_matter,
        the_stream_sends_the_backlog_then_live_events,
    ],
    sessions: [],
);

pub(crate) const FEED_TOKEN: &str = "feed-token-0123456789abcdef0123456789";

fn with_feed(setup: Setup) -> Setup {
    setup.config(|c| c.services.token = Some(Secret(FEED_TOKEN.into())))
}

async fn the_feed_is_off_without_a_token_and_guarded_with_one(setup: Setup) {
    let off = Setup::new(setup.kind()).start().await;
    let a = off.get("/v1/revocations").bearer(FEED_TOKEN).send().await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    let app = with_feed(setup).start().await;
    assert_eq!(
        app.get("/v1/revocations").send().await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get("/v1/revocations")
            .bearer("wrong")
            .send()
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    // A user's access token is not the feed token.
    app.seed("alice", "user").await;
    let cred = app.login("alice").await.cred;
    assert_eq!(
        app.get("/v1/revocations")
            .bearer(cred.token())
            .send()
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );

    assert_eq!(app.logout(&cred).await.status, StatusCode::NO_CONTENT);
    let page = app
        .get("/v1/revocations?after=0")
        .bearer(FEED_TOKEN)
        .send()
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let events = page.body["events"].as_array().unwrap();
    let kinds: Vec<_> = events.iter().map(|e| e["kind"].clone()).collect();
    assert_eq!(kinds, [json!("jti"), json!("family")], "{}", page.text);
    let last = page.body["last_id"].as_i64().unwrap();
    let empty = app
        .get(&format!("/v1/revocations?after={last}"))
        .bearer(FEED_TOKEN)
        .send()
        .await;
    assert!(empty.body["events"].as_array().unwrap().is_empty());
    assert_eq!(empty.body["last_id"], last);
}

async fn feed_events_say_until_when_they_matter(setup: Setup) {
    let app = with_feed(setup).start().await;
    app.seed("alice", "user").await;
    let first = app.login("alice").await.cred;
    let me = app.me(&first).await;
    let exp = me.body["exp"].as_i64().unwrap();
    assert_eq!(app.logout(&first).await.status, StatusCode::NO_CONTENT);
    let second = app.login("alice").await.cred;
    assert_eq!(app.logout_all(&second).await.status, StatusCode::NO_CONTENT);
    let page = app
        .get("/v1/revocations?after=0")
        .bearer(FEED_TOKEN)
        .send()
        .await;
    let events: Vec<passcard_axum::feed::RevocationEvent> =
        serde_json::from_value(page.body["events"].clone()).unwrap();
    assert_eq!(events.len(), 3, "{}", page.text);
    // A denied token matters until its own expiry...
    assert_eq!(events[0].revocation.expires_at(), exp);
    // ...an ended login and a version bump until any token issued before
    // them has expired: the access lifetime plus a margin for a token
    // signed a little after its user was read.
    for e in &events[1..] {
        assert_eq!(e.revocation.expires_at(), e.created_at + 300 + 60, "{e:?}");
    }
    assert!(matches!(
        events[1].revocation,
        passcard_axum::feed::Revocation::Family { .. }
    ));
}

/// Reads the event stream into `seen` until it holds `n` revocation events.
async fn read_events(
    body: &mut (impl futures_util::Stream<Item = Result<axum::body::Bytes, axum::Error>> + Unpin),
    seen: &mut String,
    n: usize,
) {
    while seen.matches("event: revocation").count() < n {
        let chunk = tokio::time::timeout(Duration::from_secs(5), body.next())
            .await
            .expect("no event within 5 s")
            .expect("the stream ended")
            .unwrap();
        seen.push_str(std::str::from_utf8(&chunk).unwrap());
    }
}

async fn the_stream_sends_the_backlog_then_live_events(setup: Setup) {
    let app = with_feed(setup).start().await;
    app.seed("alice", "user").await;
    let first = app.login("alice").await.cred;
    assert_eq!(app.logout(&first).await.status, StatusCode::NO_CONTENT);

    let response = app
        .get("/v1/revocations/stream?after=0")
        .bearer(FEED_TOKEN)
        .response()
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut body = response.into_body().into_data_stream();
    let mut seen = String::new();
    // The backlog: one logout (its token, its login).
    read_events(&mut body, &mut seen, 2).await;
    // A live one: logout-all on a second login.
    let second = app.login("alice").await.cred;
    assert_eq!(app.logout_all(&second).await.status, StatusCode::NO_CONTENT);
    read_events(&mut body, &mut seen, 3).await;
    assert!(seen.contains(r#""kind":"jti""#), "{seen}");
    assert!(seen.contains(r#""kind":"family""#), "{seen}");
    assert!(seen.contains(r#""kind":"version""#), "{seen}");
    assert!(seen.contains("id: 3"), "{seen}");
}
