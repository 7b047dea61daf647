use std::time::Duration;

use axum::http::StatusCode;
use passcard_testkit::{Cred, Setup};

crate::contract::contract!(
    every: [],
    tokens: [],
    sessions: [
        login_sets_a_safe_cookie_and_no_token,
        malformed_and_forged_cookies_get_401,
        there_is_no_refresh_in_session_mode,
        cookie_authenticated_unsafe_requests_need_csrf_proof,
        a_session_ends_when_idle_or_at_its_lifetime,
        verify_applies_the_csrf_rule_to_the_original_method,
    ],
);

async fn login_sets_a_safe_cookie_and_no_token(setup: Setup) {
    let app = setup.start().await;
    let id = app.seed("alice", "user").await;
    let login = app.login("alice").await;
    let a = &login.answer;
    let set = a.header("set-cookie");
    for attr in [
        "HttpOnly",
        "SameSite=Lax",
        "Path=/",
        "Max-Age=43200",
        "; Secure",
    ] {
        assert!(set.contains(attr), "{set}");
    }
    assert!(
        a.body.get("access_token").is_none(),
        "no tokens in session mode"
    );
    assert_eq!(a.body["user"]["id"], id);
    assert_eq!(a.body["expires_in"], 43_200);
    assert_eq!(a.body["idle_expires_in"], 1800);
    let Cred::Cookie(cookie) = &login.cred else {
        panic!("a session login gives a cookie")
    };
    assert_eq!(cookie.len(), "__Host-passcard_session=".len() + 43);

    // Plain-HTTP development only: no Secure.
    let plain = passcard_testkit::Setup::new(app.kind())
        .config(|c| c.http.cookie_secure = false)
        .start()
        .await;
    plain.seed("bob", "user").await;
    let a = plain.login("bob").await.answer;
    assert!(!a.header("set-cookie").contains("Secure"), "{a:?}");
}

async fn malformed_and_forged_cookies_get_401(setup: Setup) {
    let app = setup.start().await;
    app.seed("alice", "user").await;
    let Cred::Cookie(cookie) = app.login("alice").await.cred else {
        panic!("a cookie")
    };
    let forged = format!("__Host-passcard_session={}", "A".repeat(43));
    // The same session under a name a sibling subdomain could plant.
    let (_, id) = cookie.split_once('=').unwrap();
    let unprefixed = format!("passcard_session={id}");
    let secure_prefixed = format!("__Secure-passcard_session={id}");
    for bad in [
        forged.as_str(),
        "__Host-passcard_session=short",
        "__Host-passcard_session=",
        &unprefixed,
        &secure_prefixed,
        "other=1",
        &format!("{cookie}x"),
    ] {
        let a = app.get("/v1/me").cookie(bad).send().await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{bad}: {}", a.text);
    }
    let me = app.get("/v1/me").cookie(&cookie).send().await;
    assert_eq!(me.status, StatusCode::OK, "a GET needs no CSRF proof");
}

async fn there_is_no_refresh_in_session_mode(setup: Setup) {
    let app = setup.start().await;
    app.refresh(&"A".repeat(43))
        .await
        .assert_problem(StatusCode::NOT_FOUND, "wrong-mode");
}

async fn cookie_authenticated_unsafe_requests_need_csrf_proof(setup: Setup) {
    let app = setup.start().await;
    app.seed("alice", "user").await;
    let Cred::Cookie(cookie) = app.login("alice").await.cred else {
        panic!("a cookie")
    };
    let logout_all = || {
        app.post("/v1/logout-all")
            .header("host", "auth.example")
            .cookie(&cookie)
    };
    // Cross-site: no header, a foreign Origin, the right host on another
    // scheme's port.
    for call in [
        logout_all(),
        logout_all().header("origin", "https://evil.example"),
        logout_all().header("origin", "https://auth.example.evil.example"),
    ] {
        let a = call.send().await;
        a.assert_problem(StatusCode::FORBIDDEN, "cross-site");
    }
    // Same origin passes.
    let same = logout_all()
        .header("origin", "https://auth.example")
        .send()
        .await;
    assert_eq!(same.status, StatusCode::NO_CONTENT, "{}", same.text);
    // logout-all ended the session.
    let me = app.get("/v1/me").cookie(&cookie).send().await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);
}

/// The default limits: 30 minutes idle, 12 hours in all. Every answer is
/// checked: 200 up to the last second before a limit, 401 right after.
async fn a_session_ends_when_idle_or_at_its_lifetime(setup: Setup) {
    const IDLE: u64 = 30 * 60;
    const LIFETIME: u64 = 12 * 3600;
    let app = setup.start().await;
    app.seed("alice", "user").await;
    let before_idle = app.login("alice").await.cred;
    let at_idle = app.login("alice").await.cred;
    let after_idle = app.login("alice").await.cred;
    let busy = app.login("alice").await.cred;
    let mut now = 0;
    let advance = |now: &mut u64, t: u64| {
        app.clock.advance(Duration::from_secs(t - *now));
        *now = t;
    };
    // Unused: good until the last second of its idle time, gone at it.
    advance(&mut now, IDLE - 1);
    assert_eq!(
        app.me(&before_idle).await.status,
        StatusCode::OK,
        "at {now} s"
    );
    assert_eq!(app.me(&busy).await.status, StatusCode::OK, "at {now} s");
    advance(&mut now, IDLE);
    assert_eq!(
        app.me(&at_idle).await.status,
        StatusCode::UNAUTHORIZED,
        "at {now} s"
    );
    advance(&mut now, IDLE + 1);
    assert_eq!(
        app.me(&after_idle).await.status,
        StatusCode::UNAUTHORIZED,
        "at {now} s"
    );
    // Used every 20 minutes, a session slides past its idle time, every
    // request answered, up to the last second of its lifetime.
    let mut t = IDLE - 1;
    while t + 20 * 60 < LIFETIME {
        t += 20 * 60;
        advance(&mut now, t);
        assert_eq!(app.me(&busy).await.status, StatusCode::OK, "at {now} s");
    }
    advance(&mut now, LIFETIME - 1);
    assert_eq!(app.me(&busy).await.status, StatusCode::OK, "at {now} s");
    // Used or not, it ends at its lifetime.
    advance(&mut now, LIFETIME + 1);
    assert_eq!(
        app.me(&busy).await.status,
        StatusCode::UNAUTHORIZED,
        "at {now} s"
    );
}

async fn verify_applies_the_csrf_rule_to_the_original_method(setup: Setup) {
    let app = setup.start().await;
    app.seed("alice", "user").await;
    let Cred::Cookie(cookie) = app.login("alice").await.cred else {
        panic!("a cookie")
    };
    // nginx auth_request asks with GET, naming the original method.
    let verify = |original: Option<(&'static str, &'static str)>| {
        let mut call = app
            .get("/v1/verify")
            .header("host", "auth.example")
            .cookie(&cookie);
        if let Some((name, method)) = original {
            call = call.header(name, method);
        }
        call
    };
    // Without the original method named: refused (issue 19).
    verify(None)
        .send()
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "original-method-required");
    assert_eq!(
        verify(Some(("x-original-method", "GET")))
            .send()
            .await
            .status,
        StatusCode::OK
    );
    // A cross-site POST behind the proxy is refused as it would be here.
    for original in [
        ("x-original-method", "POST"),
        ("x-forwarded-method", "DELETE"),
    ] {
        let a = verify(Some(original)).send().await;
        a.assert_problem(StatusCode::FORBIDDEN, "cross-site");
        assert!(a.header("x-passcard-sub").is_empty());
        let proven = verify(Some(original)).csrf().send().await;
        assert_eq!(proven.status, StatusCode::OK, "with the CSRF header");
        let same_origin = verify(Some(original))
            .header("origin", "https://auth.example")
            .send()
            .await;
        assert_eq!(same_origin.status, StatusCode::OK, "same origin");
    }
    // The header never lifts the rule from an unsafe request itself.
    let a = app
        .post("/v1/logout")
        .cookie(&cookie)
        .header("x-original-method", "GET")
        .send()
        .await;
    a.assert_problem(StatusCode::FORBIDDEN, "cross-site");
}
