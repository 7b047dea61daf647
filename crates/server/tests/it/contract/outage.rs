use std::time::Duration;

use axum::http::StatusCode;
use passcard_testkit::{Answer, PASSWORD, Setup};
use serde_json::json;

crate::contract::contract!(
    every: [every_write_answers_503_with_retry_after_while_the_store_is_down],
    tokens: [
        fail_closed_when_the_revocation_view_is_too_old,
        without_the_store_tokens_still_verify_and_the_lag_shows,
        the_oauth_endpoints_answer_temporarily_unavailable_while_the_store_is_down,
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

/// The store taken away for real (issue 19: closing the pool left Redis
/// up with sessions in Redis): PostgreSQL and Redis cut at a proxy, SQLite
/// closed.
async fn every_write_answers_503_with_retry_after_while_the_store_is_down(setup: Setup) {
    let app = setup.cuttable().start().await;
    let alice = app.seed("alice", "user").await;
    app.seed("root", "admin").await;
    let user = app.login("alice").await;
    let other = app.login("alice").await;
    let root = app.login("root").await;
    app.store_down().await;

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
        .cuttable()
        .config(|c| c.revocation.max_lag = Some(Duration::from_secs(30)))
        .start()
        .await;
    app.seed("alice", "user").await;
    let cred = app.login("alice").await.cred;
    assert_eq!(app.me(&cred).await.status, StatusCode::OK);
    // The log cannot be read any more; once the view is older than the
    // bound, tokens are refused with 503 rather than trusted blindly.
    app.store_down().await;
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
    let app = setup.cuttable().start().await;
    app.seed("alice", "user").await;
    let cred = app.login("alice").await.cred;
    app.store_down().await;
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

#[track_caller]
fn assert_oauth_unavailable(a: &Answer, what: &str) {
    assert_eq!(
        a.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{what}: {}",
        a.text
    );
    assert_eq!(
        a.body["error"], "temporarily_unavailable",
        "{what}: {}",
        a.text
    );
    assert_eq!(a.header("retry-after"), "1", "{what}");
    assert_eq!(a.header("cache-control"), "no-store", "{what}");
}

/// Issue 19: were an outage answered `invalid_grant`, every OAuth client
/// would throw its refresh token away. It is `temporarily_unavailable`,
/// 503, `Retry-After`, never stored.
async fn the_oauth_endpoints_answer_temporarily_unavailable_while_the_store_is_down(setup: Setup) {
    const SERVICE: &str = "service-token-0123456789abcdef0123456789";
    let app = setup
        .cuttable()
        .config(|c| {
            c.accounts.password_grant = true;
            c.services.token = Some(passcard::config::Secret(SERVICE.into()));
        })
        .start()
        .await;
    app.seed("alice", "user").await;
    let login = app.login("alice").await;
    let refresh = login.refresh_token().to_owned();
    let access = login.cred.token().to_owned();
    app.store_down().await;
    let form = |path: &str, body: String| {
        app.post(path)
            .body("application/x-www-form-urlencoded", body)
            .send()
    };
    let grant = form(
        "/oauth/token",
        format!("grant_type=refresh_token&refresh_token={refresh}"),
    )
    .await;
    assert_oauth_unavailable(&grant, "the refresh grant");
    let password = form(
        "/oauth/token",
        format!("grant_type=password&username=alice&password={PASSWORD}"),
    )
    .await;
    assert_oauth_unavailable(&password, "the password grant");
    for token in [&refresh, &access] {
        let revoke = form("/oauth/revoke", format!("token={token}")).await;
        assert_oauth_unavailable(&revoke, "revocation");
    }
    let introspect = app
        .post("/oauth/introspect")
        .bearer(SERVICE)
        .body(
            "application/x-www-form-urlencoded",
            format!("token={refresh}"),
        )
        .send()
        .await;
    assert_oauth_unavailable(&introspect, "introspection of a refresh token");
    // An access token is introspected in memory, store or not.
    let live = app
        .post("/oauth/introspect")
        .bearer(SERVICE)
        .body(
            "application/x-www-form-urlencoded",
            format!("token={access}"),
        )
        .send()
        .await;
    assert_eq!(live.status, StatusCode::OK, "{}", live.text);
    assert_eq!(live.body["active"], true);
}
