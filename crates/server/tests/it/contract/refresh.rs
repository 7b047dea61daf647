use std::time::Duration;

use axum::http::StatusCode;
use passcard_testkit::{Answer, Setup};

crate::contract::contract!(
    every: [],
    tokens: [
        a_retry_within_the_reuse_interval_gets_the_same_successor,
        reuse_at_the_interval_revokes_the_family,
        malformed_refresh_tokens_are_refused,
        a_revoked_family_or_an_expired_token_does_not_rotate,
        a_rotated_token_replayed_after_logout_is_refused_within_the_interval,
        concurrent_refreshes_of_one_token_all_get_the_same_successor,
        a_login_rotates_a_bounded_number_of_times_a_minute,
        a_login_revokes_a_bounded_number_of_access_tokens_a_minute,
    ],
    sessions: [],
);

#[track_caller]
fn assert_refused(a: &Answer) {
    a.assert_problem(StatusCode::UNAUTHORIZED, "invalid-refresh-token");
}

async fn a_retry_within_the_reuse_interval_gets_the_same_successor(setup: Setup) {
    // The default interval: 10 s.
    let app = setup.start().await;
    app.seed("alice", "user").await;
    let r0 = app.login("alice").await.refresh_token().to_owned();
    let first = app.refresh(&r0).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let r1 = first.str("refresh_token");
    assert_ne!(r1, r0);
    // The same old token again (a lost response, a second tab): the same
    // successor and a fresh access token, no logout; right away and at
    // the last second of the interval.
    for wait in [0, 9] {
        app.clock.advance(Duration::from_secs(wait));
        let retry = app.refresh(&r0).await;
        assert_eq!(
            retry.status,
            StatusCode::OK,
            "after {wait} s: {}",
            retry.text
        );
        assert_eq!(retry.str("refresh_token"), r1);
        assert_ne!(retry.str("access_token"), first.str("access_token"));
        let me = app
            .get("/v1/me")
            .bearer(&retry.str("access_token"))
            .send()
            .await;
        assert_eq!(me.status, StatusCode::OK);
    }
    // The chain goes on.
    let second = app.refresh(&r1).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.text);
    assert_eq!(
        app.metric("passcard_refreshes_total{outcome=\"success\"}")
            .await,
        4.0
    );
}

async fn reuse_at_the_interval_revokes_the_family(setup: Setup) {
    let app = setup.start().await;
    app.seed("alice", "user").await;
    let r0 = app.login("alice").await.refresh_token().to_owned();
    let r1 = app.refresh(&r0).await.str("refresh_token");
    let r2 = app.refresh(&r1).await.str("refresh_token");
    assert_eq!(r2.len(), 43);
    // Presented again once the interval has passed: theft. The family
    // dies, its live token included.
    app.clock.advance(Duration::from_secs(10));
    assert_refused(&app.refresh(&r0).await);
    assert_refused(&app.refresh(&r2).await);
    assert_eq!(
        app.metric("passcard_refreshes_total{outcome=\"refused\"}")
            .await,
        2.0
    );
}

async fn malformed_refresh_tokens_are_refused(setup: Setup) {
    let app = setup.start().await;
    app.seed("alice", "user").await;
    let r0 = app.login("alice").await.refresh_token().to_owned();
    for bad in [
        String::new(),
        "short".into(),
        "A".repeat(43),
        format!("{r0}x"),
        format!("{}=", &r0[..42]),
    ] {
        assert_refused(&app.refresh(&bad).await);
    }
    assert_eq!(app.refresh(&r0).await.status, StatusCode::OK);
}

async fn a_revoked_family_or_an_expired_token_does_not_rotate(setup: Setup) {
    let app = setup.start().await;
    app.seed("alice", "user").await;
    // Revoked: logged out.
    let out = app.login("alice").await;
    assert_eq!(app.logout(&out.cred).await.status, StatusCode::NO_CONTENT);
    assert_refused(&app.refresh(out.refresh_token()).await);
    // Expired: 14 days after it was issued.
    let old = app.login("alice").await;
    let young = app.login("alice").await;
    app.clock.advance(Duration::from_secs(14 * 86_400 - 1));
    let fresh = app.refresh(young.refresh_token()).await;
    assert_eq!(
        fresh.status,
        StatusCode::OK,
        "a second before: {}",
        fresh.text
    );
    app.clock.advance(Duration::from_secs(1));
    assert_refused(&app.refresh(old.refresh_token()).await);
    // Each rotation starts a new lifetime.
    let next = app.refresh(&fresh.str("refresh_token")).await;
    assert_eq!(next.status, StatusCode::OK, "{}", next.text);
    assert_eq!(next.body["refresh_expires_in"], 14 * 86_400);
}

async fn a_rotated_token_replayed_after_logout_is_refused_within_the_interval(setup: Setup) {
    let app = setup.start().await;
    app.seed("alice", "user").await;
    let r0 = app.login("alice").await.refresh_token().to_owned();
    let first = app.refresh(&r0).await;
    assert_eq!(first.status, StatusCode::OK);
    let a1 = passcard_testkit::Cred::Bearer(first.str("access_token"));
    assert_eq!(app.logout(&a1).await.status, StatusCode::NO_CONTENT);
    // Within the interval a replay would get the successor, but the family
    // was revoked by the logout: nothing.
    assert_refused(&app.refresh(&r0).await);
    assert_refused(&app.refresh(&first.str("refresh_token")).await);
}

async fn concurrent_refreshes_of_one_token_all_get_the_same_successor(setup: Setup) {
    let app = setup.start().await;
    app.seed("alice", "user").await;
    let r0 = app.login("alice").await.refresh_token().to_owned();
    let answers = futures_util::future::join_all((0..4).map(|_| app.refresh(&r0))).await;
    assert!(
        answers.iter().all(|a| a.status == StatusCode::OK),
        "{answers:?}"
    );
    let successors: std::collections::HashSet<_> =
        answers.iter().map(|a| a.str("refresh_token")).collect();
    assert_eq!(successors.len(), 1, "{successors:?}");
}

/// Issue 19: refresh rotation had no rate limit, and each rotation is a
/// store transaction. A login (refresh family) may rotate
/// PASSCARD_LOGIN_WRITES_PER_MINUTE times a minute; past it, 429 with
/// Retry-After, and the refresh token stays good (on /oauth/token too:
/// `temporarily_unavailable`, never `invalid_grant`, which would make a
/// client throw the token away). Retries within the reuse interval write
/// nothing and are not counted.
async fn a_login_rotates_a_bounded_number_of_times_a_minute(setup: Setup) {
    let app = setup
        .config(|c| c.accounts.login_writes_per_minute = 3)
        .start()
        .await;
    app.seed("alice", "user").await;
    let mut token = app.login("alice").await.refresh_token().to_owned();
    for _ in 0..3 {
        let a = app.refresh(&token).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        // A retry of the same rotation: the same successor, not counted.
        let again = app.refresh(&token).await;
        assert_eq!(again.str("refresh_token"), a.str("refresh_token"));
        token = a.str("refresh_token");
        app.clock.advance(Duration::from_secs(5));
    }
    let limited = app.refresh(&token).await;
    limited.assert_problem(StatusCode::TOO_MANY_REQUESTS, "too-many-requests");
    assert_eq!(limited.header("retry-after"), "45");
    let oauth = app
        .post("/oauth/token")
        .body(
            "application/x-www-form-urlencoded",
            format!("grant_type=refresh_token&refresh_token={token}"),
        )
        .send()
        .await;
    assert_eq!(
        oauth.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        oauth.text
    );
    assert_eq!(oauth.body["error"], "temporarily_unavailable");
    assert_eq!(oauth.header("retry-after"), "45");
    // Another login of the same user is not held back.
    let other = app.login("alice").await.refresh_token().to_owned();
    assert_eq!(app.refresh(&other).await.status, StatusCode::OK);
    // A minute on, the same token rotates: it was never used up.
    app.clock.advance(Duration::from_secs(45));
    let later = app.refresh(&token).await;
    assert_eq!(later.status, StatusCode::OK, "{}", later.text);
}

/// Issue 19: /oauth/revoke had no rate limit, and each revoked access
/// token is an event every instance and resource server keeps in memory.
async fn a_login_revokes_a_bounded_number_of_access_tokens_a_minute(setup: Setup) {
    let app = setup
        .config(|c| c.accounts.login_writes_per_minute = 2)
        .start()
        .await;
    app.seed("alice", "user").await;
    let login = app.login("alice").await;
    let mut access = vec![login.cred.token().to_owned()];
    let mut refresh = login.refresh_token().to_owned();
    for _ in 0..2 {
        let a = app.refresh(&refresh).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        refresh = a.str("refresh_token");
        access.push(a.str("access_token"));
    }
    let revoke = |token: &str| {
        app.post("/oauth/revoke")
            .body(
                "application/x-www-form-urlencoded",
                format!("token={token}"),
            )
            .send()
    };
    for token in &access[..2] {
        let a = revoke(token).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    }
    let limited = revoke(&access[2]).await;
    assert_eq!(
        limited.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        limited.text
    );
    assert_eq!(limited.body["error"], "temporarily_unavailable");
    assert!(!limited.header("retry-after").is_empty());
    assert_eq!(
        app.me(&passcard_testkit::Cred::Bearer(access[2].clone()))
            .await
            .status,
        StatusCode::OK
    );
    // Revoking one already revoked writes nothing and is not refused.
    assert_eq!(revoke(&access[0]).await.status, StatusCode::OK);
}
