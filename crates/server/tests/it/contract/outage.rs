use std::time::Duration;

use axum::http::StatusCode;
use passcard_testkit::{Answer, PASSWORD, Setup};
use serde_json::json;

crate::contract::contract!(
    every: [every_write_answers_503_with_retry_after_while_the_store_is_down],
    tokens: [
        fail_closed_when_the_revocation_view_is_too_old,
        without_the_store_tokens_still_verify_and_the_lag_shows,
    ],
    sessions: [],
);

#[track_caller]
fn assert_unavailable(a: &Answer, what: &str) {
    assert_eq!(
        a.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{what}: {}",
        a.text
    );
    a.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    assert_eq!(a.header("retry-after"), "1", "{what}");
}

async fn every_write_answers_503_with_retry_after_while_the_store_is_down(setup: Setup) {
    let app = setup.start().await;
    let alice = app.seed("alice", "user").await;
    app.seed("root", "admin").await;
    let user = app.login("alice").await;
    let other = app.login("alice").await;
    let root = app.login("root").await;
    // With sessions in Redis, the users' store is what goes away: every
    // session lookup reads the user from it too.
    app.state.auth.store().close().await;

    let register = app
        .post("/v1/users")
        .json(&json!({"username": "carol", "password": PASSWORD}))
        .send()
        .await;
    assert_unavailable(&register, "register");
    let login = app
        .post("/v1/login")
        .json(&json!({"username": "alice", "password": PASSWORD}))
        .send()
        .await;
    assert_unavailable(&login, "login");
    if let Some(refresh) = &user.refresh {
        assert_unavailable(&app.refresh(refresh).await, "refresh");
    }
    assert_unavailable(&app.logout(&user.cred).await, "logout");
    assert_unavailable(&app.logout_all(&other.cred).await, "logout-all");
    let role = app
        .put(&format!("/v1/users/{alice}/role"))
        .auth(&root.cred)
        .json(&json!({"role": "admin"}))
        .send()
        .await;
    assert_unavailable(&role, "set-role");
    let ban = app
        .post(&format!("/v1/users/{alice}/ban"))
        .auth(&root.cred)
        .send()
        .await;
    assert_unavailable(&ban, "ban");

    // Reading who you are needs the store only for a session.
    let me = app.me(&user.cred).await;
    if app.is_session() {
        assert_unavailable(&me, "a session lookup");
    } else {
        assert_eq!(me.status, StatusCode::OK, "a token needs no store");
    }
}

async fn fail_closed_when_the_revocation_view_is_too_old(setup: Setup) {
    let app = setup
        .config(|c| c.revocation.max_lag = Some(Duration::from_secs(30)))
        .start()
        .await;
    app.seed("alice", "user").await;
    let cred = app.login("alice").await.cred;
    assert_eq!(app.me(&cred).await.status, StatusCode::OK);
    // The log cannot be read any more; once the view is older than the
    // bound, tokens are refused with 503 rather than trusted blindly.
    app.state.auth.store().close().await;
    app.clock.advance(Duration::from_secs(30));
    assert_eq!(app.me(&cred).await.status, StatusCode::OK, "at the bound");
    app.clock.advance(Duration::from_secs(1));
    let a = app.me(&cred).await;
    a.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "revocation-view-stale");
    assert_eq!(a.header("retry-after"), "1");
    let h = app.get("/healthz").send().await;
    assert_eq!(h.body["status"], "stale", "{}", h.text);
    assert_eq!(h.body["revocation_lag_ms"], 31_000);
}

async fn without_the_store_tokens_still_verify_and_the_lag_shows(setup: Setup) {
    let app = setup.start().await;
    app.seed("alice", "user").await;
    let cred = app.login("alice").await.cred;
    app.state.auth.store().close().await;
    app.clock.advance(Duration::from_secs(4));
    // The store is gone: verification goes on (that is the point of
    // stateless tokens) and /healthz reports the growing lag, past three
    // safety polls.
    assert_eq!(app.me(&cred).await.status, StatusCode::OK);
    let h = app.get("/healthz").send().await;
    assert_eq!(h.body["status"], "lagging", "{}", h.text);
    assert_eq!(h.body["revocation_lag_ms"], 4000);
    assert_eq!(app.metric("passcard_revocation_lag_seconds").await, 4.0);
}
