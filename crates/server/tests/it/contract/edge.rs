use axum::http::{Method, StatusCode};
use passcard::config::Secret;
use passcard_testkit::{Answer, Cred, Setup};
use serde_json::json;

crate::contract::contract!(
    every: [
        every_answer_says_nosniff_and_identity_answers_are_not_stored,
        no_answer_under_the_api_or_oauth_may_be_stored,
        hsts_is_sent_only_when_configured,
        a_wrong_method_is_a_405_problem,
        bad_input_is_named_never_echoed,
    ],
    tokens: [the_feed_checks_who_asks_before_what_is_asked],
    sessions: [],
);

#[track_caller]
fn assert_not_stored(a: &Answer, what: &str) {
    assert_eq!(a.header("cache-control"), "no-store", "{what}: {a:?}");
    assert_eq!(a.header("pragma"), "no-cache", "{what}: {a:?}");
}

async fn every_answer_says_nosniff_and_identity_answers_are_not_stored(setup: Setup) {
    let app = setup.start().await;
    app.seed("alice", "user").await;
    let login = app.login("alice").await;
    let mut identity = vec![
        ("login", login.answer),
        ("me", app.me(&login.cred).await),
        (
            "verify",
            app.get("/v1/verify").auth(&login.cred).send().await,
        ),
        ("me refused", app.get("/v1/me").send().await),
        ("verify refused", app.get("/v1/verify").send().await),
        (
            "login refused",
            app.post("/v1/login")
                .json(&json!({"username": "alice", "password": "wrong password"}))
                .send()
                .await,
        ),
    ];
    if let Some(refresh) = &app.login("alice").await.refresh {
        identity.push(("refresh", app.refresh(refresh).await));
    }
    for (what, a) in &identity {
        assert_not_stored(a, what);
        assert_eq!(a.header("x-content-type-options"), "nosniff", "{what}");
    }
    for path in [
        "/healthz",
        "/metrics",
        "/openapi.json",
        "/.well-known/jwks.json",
        "/nope",
    ] {
        let a = app.get(path).send().await;
        assert_eq!(a.header("x-content-type-options"), "nosniff", "{path}");
    }
}

/// Issue 19: `GET /v1/users` (which lists user names) was cacheable; every
/// answer under `/v1/` and `/oauth/`, errors and unknown paths included,
/// must say no-store.
async fn no_answer_under_the_api_or_oauth_may_be_stored(setup: Setup) {
    let app = setup.start().await;
    app.seed("root", "admin").await;
    let alice = app.seed("alice", "user").await;
    let root = app.login("root").await.cred;
    let form = |path: &str| {
        app.post(path)
            .body("application/x-www-form-urlencoded", "token=x")
    };
    let answers = vec![
        ("user list", app.get("/v1/users").auth(&root).send().await),
        ("user list refused", app.get("/v1/users").send().await),
        (
            "register",
            app.post("/v1/users")
                .json(&json!({"username": "carol", "password": passcard_testkit::PASSWORD}))
                .send()
                .await,
        ),
        (
            "set role",
            app.put(&format!("/v1/users/{alice}/role"))
                .auth(&root)
                .json(&json!({"role": "user"}))
                .send()
                .await,
        ),
        ("revocations", app.get("/v1/revocations").send().await),
        ("unknown api path", app.get("/v1/nothing-here").send().await),
        ("oauth token", form("/oauth/token").send().await),
        ("oauth revoke", form("/oauth/revoke").send().await),
        ("oauth introspect", form("/oauth/introspect").send().await),
        ("unknown oauth path", app.get("/oauth/nothing").send().await),
        ("logout", app.logout(&root).await),
    ];
    for (what, a) in &answers {
        assert_not_stored(a, what);
    }
    // What is public stays cacheable.
    let jwks = app.get("/.well-known/jwks.json").send().await;
    assert_eq!(jwks.header("cache-control"), "public, max-age=300");
}

async fn hsts_is_sent_only_when_configured(setup: Setup) {
    let kind = setup.kind();
    let plain = Setup::new(kind).start().await;
    for path in ["/healthz", "/v1/me", "/"] {
        let a = plain.get(path).send().await;
        assert!(
            a.headers.get("strict-transport-security").is_none(),
            "{path}: HSTS is off by default"
        );
    }
    let app = setup
        .config(|c| c.http.hsts = Some(std::time::Duration::from_secs(31_536_000)))
        .start()
        .await;
    for path in ["/healthz", "/v1/me", "/", "/nope"] {
        let a = app.get(path).send().await;
        assert_eq!(
            a.header("strict-transport-security"),
            "max-age=31536000",
            "{path}"
        );
    }
}

async fn a_wrong_method_is_a_405_problem(setup: Setup) {
    let app = setup.start().await;
    for (method, path) in [
        (Method::GET, "/v1/login"),
        (Method::DELETE, "/v1/me"),
        (Method::POST, "/healthz"),
        (Method::GET, "/v1/users/1/ban"),
    ] {
        let a = app.call(method.clone(), path).send().await;
        a.assert_problem(StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed");
        assert!(!a.header("allow").is_empty(), "{method} {path}: {a:?}");
    }
}

async fn bad_input_is_named_never_echoed(setup: Setup) {
    let app = setup.start().await;
    app.seed("root", "admin").await;
    let root = app.login("root").await.cred;
    let secret = "hunter2-do-not-echo";
    let cases = [
        (
            app.post("/v1/users")
                .json(&json!({"username": "bob", "password": 1_234_567_890_123_u64})),
            "`password` must be a string",
        ),
        (
            app.post("/v1/login")
                .json(&json!({"username": ["bob"], "password": secret})),
            "`username` must be a string",
        ),
        (
            app.post("/v1/login")
                .json(&json!({"username": "bob", "password": secret, "otp": secret})),
            "unknown field",
        ),
        (
            app.post("/v1/login").json(&json!({"password": secret})),
            "missing field `username`",
        ),
        (
            app.post("/v1/login").json(&json!([secret])),
            "the body must be a JSON object",
        ),
        (
            app.put("/v1/users/1/role")
                .auth(&root)
                .json(&json!({"role": {"name": secret}})),
            "`role` must be a string",
        ),
        (
            app.put(&format!("/v1/users/{secret}/role"))
                .auth(&root)
                .json(&json!({"role": "user"})),
            "must be an integer",
        ),
        (
            app.post("/v1/users").body(
                "application/json",
                format!(r#"{{"username":"{secret}","password":}}"#),
            ),
            "not valid JSON",
        ),
    ];
    for (call, says) in cases {
        let a = call.send().await;
        a.assert_problem(StatusCode::BAD_REQUEST, "bad-request");
        assert!(a.str("detail").contains(says), "{says}: {}", a.text);
        assert!(!a.text.contains(secret), "echoed: {}", a.text);
        assert!(!a.text.contains("1234567890123"), "echoed: {}", a.text);
    }
}

async fn the_feed_checks_who_asks_before_what_is_asked(setup: Setup) {
    let off = Setup::new(setup.kind()).start().await;
    for query in ["", "?after=abc", "?limit=null", "?after=-1"] {
        for path in ["/v1/revocations", "/v1/revocations/stream"] {
            let a = off
                .get(&format!("{path}{query}"))
                .bearer(super::FEED_TOKEN)
                .send()
                .await;
            a.assert_problem(StatusCode::NOT_FOUND, "not-found");
        }
    }
    let app = setup
        .config(|c| c.services.token = Some(Secret(super::FEED_TOKEN.into())))
        .start()
        .await;
    app.seed("alice", "user").await;
    let Cred::Bearer(access) = app.login("alice").await.cred else {
        panic!("token mode")
    };
    for path in ["/v1/revocations", "/v1/revocations/stream"] {
        let none = app.get(&format!("{path}?after=abc")).send().await;
        none.assert_problem(StatusCode::UNAUTHORIZED, "service-credential-required");
        assert_eq!(
            none.header("www-authenticate"),
            r#"Bearer realm="passcard-service""#
        );
        for wrong in ["wrong", access.as_str()] {
            let a = app
                .get(&format!("{path}?limit=null"))
                .bearer(wrong)
                .send()
                .await;
            a.assert_problem(StatusCode::UNAUTHORIZED, "invalid-service-credential");
            let challenge = a.header("www-authenticate");
            assert!(
                challenge.starts_with(r#"Bearer realm="passcard-service""#),
                "{challenge}"
            );
            assert!(!challenge.contains("access token"), "{challenge}");
        }
    }
    for query in [
        "?after=abc",
        "?limit=null",
        "?after=-1",
        "?limit=0",
        "?limit=1001",
        "?after=",
    ] {
        let a = app
            .get(&format!("/v1/revocations{query}"))
            .bearer(super::FEED_TOKEN)
            .send()
            .await;
        a.assert_problem(StatusCode::BAD_REQUEST, "bad-request");
        assert!(
            !a.text.contains("abc") && !a.text.contains("null"),
            "{}",
            a.text
        );
    }
    let stream = app
        .get("/v1/revocations/stream")
        .bearer(super::FEED_TOKEN)
        .header("last-event-id", "-5")
        .send()
        .await;
    stream.assert_problem(StatusCode::BAD_REQUEST, "bad-request");
    let ok = app
        .get("/v1/revocations?after=0&limit=1")
        .bearer(super::FEED_TOKEN)
        .send()
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
}
