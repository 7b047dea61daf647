//! PASSCARD_MODE=session: the stateful opponent, over HTTP.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Answer, TestServer, password};

async fn session_server() -> TestServer {
    TestServer::start_with(|c| c.mode = passcard::config::Mode::Session).await
}

/// A session-mode server keeping sessions in Redis under a prefix of its
/// own, or `None` (said loudly) without PASSCARD_TEST_REDIS_URL.
async fn redis_session_server() -> Option<TestServer> {
    let Ok(url) = std::env::var("PASSCARD_TEST_REDIS_URL") else {
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPED: session mode on Redis (set PASSCARD_TEST_REDIS_URL, e.g. redis://127.0.0.1:6379) ***\n"
        );
        return None;
    };
    let prefix = format!("passcard-it-{}", passcard_jwt::new_jti().unwrap());
    Some(
        TestServer::start_with(move |c| {
            c.mode = passcard::config::Mode::Session;
            c.session_store = Some(url);
            c.session_prefix = prefix;
        })
        .await,
    )
}

/// Logs in and returns the session cookie (`passcard_session=…`).
async fn login(s: &TestServer, name: &str) -> (String, Answer) {
    let a = s
        .post(
            "/v1/login",
            json!({"username": name, "password": password(name)}),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let set = a.header("set-cookie").to_owned();
    let cookie = set.split(';').next().unwrap().to_owned();
    (cookie, a)
}

async fn with_cookie(s: &TestServer, req: reqwest::RequestBuilder, cookie: &str) -> Answer {
    s.send(req.header("cookie", cookie)).await
}

/// With the store gone, a session cannot be checked: 503 (retry), not 401
/// (log in again) nor 500; a token is still verified without it.
#[tokio::test]
async fn a_store_outage_is_503_for_sessions_and_invisible_to_tokens() {
    let s = session_server().await;
    s.register("outage").await;
    let (cookie, _) = login(&s, "outage").await;
    s.state().store.close().await;
    let me = with_cookie(&s, s.client.get(format!("{}/v1/me", s.base)), &cookie).await;
    assert_eq!(me.status, StatusCode::SERVICE_UNAVAILABLE, "{}", me.text);
    assert!(
        me.text.contains("urn:passcard:problem:unavailable"),
        "{}",
        me.text
    );

    let t = TestServer::start().await;
    t.register("outage").await;
    let (access, _) = t.login("outage").await;
    t.state().store.close().await;
    assert_eq!(t.get("/v1/me", Some(&access)).await.status, StatusCode::OK);
    let login = t
        .post(
            "/v1/login",
            json!({"username": "outage", "password": password("outage")}),
            None,
        )
        .await;
    assert_eq!(
        login.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        login.text
    );
}

#[tokio::test]
async fn login_sets_a_safe_cookie_and_me_reads_the_session() {
    let s = session_server().await;
    let id = s.register("alice").await;
    let (cookie, a) = login(&s, "alice").await;
    let set = a.header("set-cookie");
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="] {
        assert!(set.contains(attr), "{set}");
    }
    assert!(!set.contains("Secure"), "Secure only when configured");
    assert!(
        a.body.get("access_token").is_none(),
        "no tokens in session mode"
    );
    assert_eq!(a.body["user"]["id"], id);
    assert_eq!(cookie.len(), "passcard_session=".len() + 43);

    let before = s.metric("passcard_store_queries_total").await;
    for _ in 0..20 {
        let me = with_cookie(&s, s.client.get(format!("{}/v1/me", s.base)), &cookie).await;
        assert_eq!(me.status, StatusCode::OK, "{}", me.text);
        assert_eq!(me.body["sub"], id.to_string());
    }
    let after = s.metric("passcard_store_queries_total").await;
    assert!(
        after - before >= 20.0,
        "a session costs a store lookup per request"
    );

    assert_eq!(s.get("/v1/me", None).await.status, StatusCode::UNAUTHORIZED);
    let forged = with_cookie(
        &s,
        s.client.get(format!("{}/v1/me", s.base)),
        "passcard_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    )
    .await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
    for bad in [
        "passcard_session=short",
        "passcard_session=",
        "other=1",
        &format!("{cookie}x"),
    ] {
        let a = with_cookie(&s, s.client.get(format!("{}/v1/me", s.base)), bad).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{bad}");
    }
    assert_eq!(
        s.refresh("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
            .await
            .status,
        StatusCode::NOT_FOUND,
        "no refresh tokens in session mode"
    );

    let secure = TestServer::start_with(|c| {
        c.mode = passcard::config::Mode::Session;
        c.cookie_secure = true;
    })
    .await;
    secure.register("bob").await;
    let (_, a) = login(&secure, "bob").await;
    assert!(a.header("set-cookie").contains("; Secure"));
}

#[tokio::test]
async fn logout_role_change_and_ban_apply_at_the_next_request() {
    let s = session_server().await;
    let alice = s.register("alice").await;
    s.admin("root").await;
    let (cookie, _) = login(&s, "alice").await;
    let (root, _) = login(&s, "root").await;
    let s = &s;
    let me = |cookie: String| async move {
        with_cookie(s, s.client.get(format!("{}/v1/me", s.base)), &cookie).await
    };
    assert_eq!(me(cookie.clone()).await.body["role"], "user");

    // Role change: the very next request sees it (the session reads the user).
    let put = s
        .client
        .put(format!("{}/v1/users/{alice}/role", s.base))
        .header("x-passcard-csrf", "1")
        .json(&json!({"role": "admin"}));
    assert_eq!(with_cookie(s, put, &root).await.status, StatusCode::OK);
    assert_eq!(me(cookie.clone()).await.body["role"], "admin");

    // Logout ends this session and clears the cookie.
    let (second, _) = login(s, "alice").await;
    let out = with_cookie(
        s,
        s.client
            .post(format!("{}/v1/logout", s.base))
            .header("x-passcard-csrf", "1"),
        &second,
    )
    .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert!(out.header("set-cookie").contains("Max-Age=0"));
    assert_eq!(me(second).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        me(cookie.clone()).await.status,
        StatusCode::OK,
        "the other session lives"
    );

    // Ban: the next request is refused, and login too.
    let ban = s
        .client
        .post(format!("{}/v1/users/{alice}/ban", s.base))
        .header("x-passcard-csrf", "1");
    assert_eq!(
        with_cookie(s, ban, &root).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(me(cookie).await.status, StatusCode::UNAUTHORIZED);
    let again = s
        .post(
            "/v1/login",
            json!({"username": "alice", "password": password("alice")}),
            None,
        )
        .await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn cookie_authenticated_unsafe_requests_need_csrf_proof() {
    let s = session_server().await;
    s.register("alice").await;
    let (cookie, _) = login(&s, "alice").await;
    let url = format!("{}/v1/logout-all", s.base);
    // Cross-site: no header, foreign Origin.
    for req in [
        s.client.post(&url),
        s.client.post(&url).header("origin", "https://evil.example"),
    ] {
        let a = with_cookie(&s, req, &cookie).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.text);
        assert_eq!(a.body["type"], "urn:passcard:problem:cross-site");
    }
    // Same origin passes.
    let host = s.base.trim_start_matches("http://").to_owned();
    let same = s
        .client
        .post(&url)
        .header("origin", format!("http://{host}"));
    assert_eq!(
        with_cookie(&s, same, &cookie).await.status,
        StatusCode::NO_CONTENT
    );
    // logout-all ended the session.
    let me = with_cookie(&s, s.client.get(format!("{}/v1/me", s.base)), &cookie).await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn sessions_in_redis_behave_the_same() {
    let Some(s) = redis_session_server().await else {
        return;
    };
    let alice = s.register("alice").await;
    s.admin("root").await;
    let (cookie, _) = login(&s, "alice").await;
    let (root, _) = login(&s, "root").await;
    let me = |c: String| {
        let req = s.client.get(format!("{}/v1/me", s.base));
        let s = &s;
        async move { with_cookie(s, req, &c).await }
    };
    assert_eq!(me(cookie.clone()).await.body["role"], "user");
    let put = s
        .client
        .put(format!("{}/v1/users/{alice}/role", s.base))
        .header("x-passcard-csrf", "1")
        .json(&json!({"role": "admin"}));
    assert_eq!(with_cookie(&s, put, &root).await.status, StatusCode::OK);
    assert_eq!(me(cookie.clone()).await.body["role"], "admin");
    let out = with_cookie(
        &s,
        s.client
            .post(format!("{}/v1/logout-all", s.base))
            .header("x-passcard-csrf", "1"),
        &cookie,
    )
    .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert_eq!(me(cookie).await.status, StatusCode::UNAUTHORIZED);
    // Redis commands count as store queries too.
    let before = s.metric("passcard_store_queries_total").await;
    assert_eq!(me(root.clone()).await.status, StatusCode::OK);
    assert!(s.metric("passcard_store_queries_total").await > before);
}
