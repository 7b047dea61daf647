use axum::http::StatusCode;
use passcard_testkit::{PASSWORD, Setup, TestApp};
use serde_json::json;

crate::contract::contract!(
    every: [
        logout_ends_this_login_only,
        logout_all_ends_every_login,
        a_role_change_reaches_the_next_request,
        a_ban_stops_requests_and_logins,
        admin_routes_check_the_role_and_their_input,
        a_login_past_the_most_per_user_ends_the_oldest,
    ],
    tokens: [
        a_logout_ends_every_token_of_the_login,
        a_detected_theft_ends_every_token_of_the_login,
    ],
    sessions: [],
);

async fn logout_ends_this_login_only(setup: Setup) {
    let app = setup.start().await;
    app.seed("alice", "user").await;
    let first = app.login("alice").await;
    let second = app.login("alice").await;
    let out = app.logout(&first.cred).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{}", out.text);
    assert_eq!(app.me(&first.cred).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.me(&second.cred).await.status,
        StatusCode::OK,
        "the other login lives on"
    );
    if app.is_session() {
        assert!(out.header("set-cookie").contains("Max-Age=0"), "{out:?}");
    } else {
        app.me(&first.cred).await.assert_invalid_token();
        app.refresh(first.refresh_token())
            .await
            .assert_problem(StatusCode::UNAUTHORIZED, "invalid-refresh-token");
        assert_eq!(
            app.refresh(second.refresh_token()).await.status,
            StatusCode::OK
        );
        assert_eq!(app.metric("passcard_denylist_entries").await, 1.0);
    }
}

async fn logout_all_ends_every_login(setup: Setup) {
    let app = setup.start().await;
    app.seed("alice", "user").await;
    app.seed("bob", "user").await;
    let a1 = app.login("alice").await;
    let a2 = app.login("alice").await;
    let b = app.login("bob").await;
    assert_eq!(
        app.logout_all(&a2.cred).await.status,
        StatusCode::NO_CONTENT
    );
    for login in [&a1, &a2] {
        assert_eq!(app.me(&login.cred).await.status, StatusCode::UNAUTHORIZED);
        if let Some(refresh) = &login.refresh {
            app.refresh(refresh)
                .await
                .assert_problem(StatusCode::UNAUTHORIZED, "invalid-refresh-token");
        }
    }
    assert_eq!(
        app.me(&b.cred).await.status,
        StatusCode::OK,
        "bob is untouched"
    );
    // A new login works (with a token of the new version).
    let fresh = app.login("alice").await;
    assert_eq!(app.me(&fresh.cred).await.status, StatusCode::OK);
    if !app.is_session() {
        assert_eq!(app.metric("passcard_user_version_entries").await, 1.0);
    }
}

async fn set_role(
    app: &TestApp,
    admin: &passcard_testkit::Cred,
    id: i64,
    role: &str,
) -> passcard_testkit::Answer {
    app.put(&format!("/v1/users/{id}/role"))
        .auth(admin)
        .json(&json!({"role": role}))
        .send()
        .await
}

async fn a_role_change_reaches_the_next_request(setup: Setup) {
    let app = setup.start().await;
    let alice = app.seed("alice", "user").await;
    app.seed("root", "admin").await;
    let login = app.login("alice").await;
    let root = app.login("root").await;
    assert_eq!(app.me(&login.cred).await.body["role"], "user");

    let a = set_role(&app, &root.cred, alice, "admin").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["role"], "admin");
    assert_eq!(a.body["id"], alice);

    if app.is_session() {
        // The session reads the user: the very next request sees it.
        assert_eq!(app.me(&login.cred).await.body["role"], "admin");
    } else {
        // The stale token stops working at once, and a refresh gives the
        // new role.
        app.me(&login.cred).await.assert_invalid_token();
        let r = app.refresh(login.refresh_token()).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let me = app
            .get("/v1/me")
            .bearer(&r.str("access_token"))
            .send()
            .await;
        assert_eq!(me.body["role"], "admin", "{}", me.text);
    }
}

async fn a_ban_stops_requests_and_logins(setup: Setup) {
    let app = setup.start().await;
    let alice = app.seed("alice", "user").await;
    app.seed("root", "admin").await;
    let login = app.login("alice").await;
    let root = app.login("root").await;
    let ban = |id: i64, cred: &passcard_testkit::Cred| {
        app.post(&format!("/v1/users/{id}/ban")).auth(cred).send()
    };
    ban(alice, &login.cred)
        .await
        .assert_problem(StatusCode::FORBIDDEN, "insufficient-scope");
    let a = ban(alice, &root.cred).await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{}", a.text);
    assert_eq!(app.me(&login.cred).await.status, StatusCode::UNAUTHORIZED);
    if let Some(refresh) = &login.refresh {
        app.refresh(refresh)
            .await
            .assert_problem(StatusCode::UNAUTHORIZED, "invalid-refresh-token");
    }
    let again = app
        .post("/v1/login")
        .json(&json!({"username": "alice", "password": PASSWORD}))
        .send()
        .await;
    again.assert_problem(StatusCode::UNAUTHORIZED, "invalid-credentials");
    ban(424_242, &root.cred)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not-found");
}

async fn admin_routes_check_the_role_and_their_input(setup: Setup) {
    let app = setup.start().await;
    let alice = app.seed("alice", "user").await;
    app.seed("root", "admin").await;
    let user = app.login("alice").await;
    let root = app.login("root").await;

    let a = set_role(&app, &user.cred, alice, "admin").await;
    a.assert_problem(StatusCode::FORBIDDEN, "insufficient-scope");
    assert_eq!(
        a.header("www-authenticate"),
        r#"Bearer realm="passcard", error="insufficient_scope", scope="admin""#
    );
    set_role(&app, &root.cred, alice, "superuser")
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "bad-request");
    let unknown_field = app
        .put(&format!("/v1/users/{alice}/role"))
        .auth(&root.cred)
        .json(&json!({"rol": "admin"}))
        .send()
        .await;
    unknown_field.assert_problem(StatusCode::BAD_REQUEST, "bad-request");
    set_role(&app, &root.cred, 99_999, "user")
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not-found");
    app.put("/v1/users/abc/role")
        .auth(&root.cred)
        .json(&json!({"role": "user"}))
        .send()
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "bad-request");
    assert_eq!(
        app.me(&user.cred).await.body["role"],
        "user",
        "nothing changed"
    );
}

async fn a_logout_ends_every_token_of_the_login(setup: Setup) {
    let app = setup.start().await;
    app.seed("alice", "user").await;
    let login = app.login("alice").await;
    let other = app.login("alice").await;
    // The login goes on: a refresh mints a second access token.
    let refreshed = app.refresh(login.refresh_token()).await;
    assert_eq!(refreshed.status, StatusCode::OK);
    let sibling = passcard_testkit::Cred::Bearer(refreshed.str("access_token"));
    assert_eq!(app.me(&sibling).await.status, StatusCode::OK);
    // A logout with the first ends them all, refresh token included.
    assert_eq!(app.logout(&login.cred).await.status, StatusCode::NO_CONTENT);
    app.me(&login.cred).await.assert_invalid_token();
    app.me(&sibling).await.assert_invalid_token();
    app.refresh(&refreshed.str("refresh_token"))
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "invalid-refresh-token");
    assert_eq!(
        app.me(&other.cred).await.status,
        StatusCode::OK,
        "another login"
    );
    assert_eq!(app.metric("passcard_revoked_family_entries").await, 1.0);
    // Entries go once no token of the login can pass: the access lifetime,
    // the issuance margin and the leeway.
    app.clock
        .advance(std::time::Duration::from_secs(300 + 60 + 30));
    let _ = app.logout(&other.cred).await;
    assert_eq!(
        app.metric("passcard_revoked_family_entries").await,
        1.0,
        "only the new one"
    );
}

async fn a_detected_theft_ends_every_token_of_the_login(setup: Setup) {
    let app = setup.start().await;
    app.seed("alice", "user").await;
    let login = app.login("alice").await;
    let refreshed = app.refresh(login.refresh_token()).await;
    let newest = passcard_testkit::Cred::Bearer(refreshed.str("access_token"));
    assert_eq!(app.me(&newest).await.status, StatusCode::OK);
    // The rotated token presented again after the reuse interval: someone
    // else holds a copy. The whole login ends, its newest token too.
    app.clock.advance(std::time::Duration::from_secs(10));
    app.refresh(login.refresh_token())
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "invalid-refresh-token");
    app.me(&newest).await.assert_invalid_token();
    app.me(&login.cred).await.assert_invalid_token();
}

/// Issue 19: a user's logins were unbounded. Past
/// PASSCARD_MAX_LOGINS_PER_USER, a new login ends the oldest: its access
/// token (or session) is refused at once, its refresh token too.
async fn a_login_past_the_most_per_user_ends_the_oldest(setup: Setup) {
    let app = setup
        .config(|c| c.accounts.max_logins_per_user = 2)
        .start()
        .await;
    app.seed("alice", "user").await;
    app.seed("bob", "user").await;
    let bob = app.login("bob").await;
    let first = app.login("alice").await;
    // Sessions are ordered by their second of creation.
    app.clock.advance(std::time::Duration::from_secs(1));
    let second = app.login("alice").await;
    app.clock.advance(std::time::Duration::from_secs(1));
    assert_eq!(app.me(&first.cred).await.status, StatusCode::OK);
    let third = app.login("alice").await;
    assert_eq!(
        app.me(&first.cred).await.status,
        StatusCode::UNAUTHORIZED,
        "the oldest login ended"
    );
    if let Some(refresh) = &first.refresh {
        app.refresh(refresh)
            .await
            .assert_problem(StatusCode::UNAUTHORIZED, "invalid-refresh-token");
    }
    for (what, login) in [("second", &second), ("third", &third), ("bob's", &bob)] {
        assert_eq!(app.me(&login.cred).await.status, StatusCode::OK, "{what}");
    }
    let mut config = app.state.config.clone();
    config.accounts.max_logins_per_user = 0;
    assert!(
        config
            .check()
            .unwrap_err()
            .to_string()
            .contains("PASSCARD_MAX_LOGINS_PER_USER")
    );
}
