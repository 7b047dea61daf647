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
