use std::time::Duration;

use axum::http::StatusCode;
use passcard_testkit::{PASSWORD, Setup};
use serde_json::json;

crate::contract::contract!(
    every: [
        registration_rules,
        login_answers_unknown_user_and_wrong_password_alike,
        repeated_login_failures_get_429_until_the_window_ends,
        bad_requests_get_4xx_problems_never_5xx,
        registrations_are_limited_per_address_and_a_taken_name_costs_no_hash,
        registrations_in_flight_never_delay_a_login,
        behind_a_trusted_proxy_each_client_has_its_own_limit,
        nobody_can_lock_an_owner_out_of_their_account,
        a_known_device_is_limited_on_its_own_counter,
    ],
    tokens: [login_answers_a_token_pair],
    sessions: [],
);

async fn registration_rules(setup: Setup) {
    let app = setup.start().await;
    let a = app
        .post("/v1/users")
        .json(&json!({"username": "Alice", "password": "long enough"}))
        .send()
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    assert_eq!(a.body["username"], "alice");
    assert_eq!(a.body["role"], "user");
    assert!(a.body["id"].as_i64().is_some());
    assert!(a.body.get("password_hash").is_none());

    let dup = app
        .post("/v1/users")
        .json(&json!({"username": "alice", "password": "long enough"}))
        .send()
        .await;
    dup.assert_problem(StatusCode::CONFLICT, "username-taken");
    for (username, password) in [
        ("al", "long enough"),
        ("bad name", "long enough"),
        ("-x-", "long enough"),
        ("bob", "short"),
    ] {
        let a = app
            .post("/v1/users")
            .json(&json!({"username": username, "password": password}))
            .send()
            .await;
        a.assert_problem(StatusCode::BAD_REQUEST, "bad-request");
    }

    let closed = Setup::new(app.kind())
        .config(|c| c.accounts.open_registration = false)
        .start()
        .await;
    let a = closed
        .post("/v1/users")
        .json(&json!({"username": "carol", "password": "long enough"}))
        .send()
        .await;
    a.assert_problem(StatusCode::FORBIDDEN, "registration-closed");
}

async fn login_answers_unknown_user_and_wrong_password_alike(setup: Setup) {
    let app = setup.start().await;
    app.seed("alice", "user").await;
    app.login("alice").await;
    let wrong = app
        .post("/v1/login")
        .json(&json!({"username": "alice", "password": "not her password"}))
        .send()
        .await;
    let unknown = app
        .post("/v1/login")
        .json(&json!({"username": "nobody", "password": "not her password"}))
        .send()
        .await;
    wrong.assert_problem(StatusCode::UNAUTHORIZED, "invalid-credentials");
    assert_eq!(
        wrong.text, unknown.text,
        "same body for unknown user and wrong password"
    );
    assert_eq!(wrong.status, unknown.status);
    assert_eq!(
        app.metric("passcard_logins_total{outcome=\"failure\"}")
            .await,
        2.0
    );
}

async fn login_answers_a_token_pair(setup: Setup) {
    let app = setup.start().await;
    app.seed("alice", "user").await;
    let a = app.login("alice").await.answer;
    assert_eq!(a.body["token_type"], "Bearer");
    assert_eq!(a.body["expires_in"], 300);
    assert_eq!(a.body["refresh_expires_in"], 14 * 86_400);
    assert_eq!(a.str("refresh_token").len(), 43);
    assert_eq!(a.str("access_token").split('.').count(), 3);
}

async fn repeated_login_failures_get_429_until_the_window_ends(setup: Setup) {
    let app = setup
        .config(|c| c.accounts.login_max_failures = 3)
        .start()
        .await;
    app.seed("alice", "user").await;
    let attempt = |password: &'static str| {
        app.post("/v1/login")
            .json(&json!({"username": "alice", "password": password}))
            .send()
    };
    for _ in 0..3 {
        assert_eq!(
            attempt("wrong password").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    // Now even the right password waits, for the rest of the window.
    let a = attempt(PASSWORD).await;
    a.assert_problem(StatusCode::TOO_MANY_REQUESTS, "too-many-requests");
    assert_eq!(a.header("retry-after"), "900", "the whole 15-minute window");
    app.clock.advance(Duration::from_secs(300));
    assert_eq!(attempt(PASSWORD).await.header("retry-after"), "600");
    app.clock.advance(Duration::from_secs(599));
    assert_eq!(attempt(PASSWORD).await.header("retry-after"), "1");
    app.clock.advance(Duration::from_secs(1));
    assert_eq!(attempt(PASSWORD).await.status, StatusCode::OK);
    assert_eq!(
        app.metric("passcard_logins_total{outcome=\"rate_limited\"}")
            .await,
        3.0
    );
}

async fn bad_requests_get_4xx_problems_never_5xx(setup: Setup) {
    let app = setup.start().await;
    let cases = [
        (
            app.post("/v1/users").body("application/json", "{not json"),
            StatusCode::BAD_REQUEST,
        ),
        (
            app.post("/v1/users").body("text/plain", "{}"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            app.post("/v1/users").json(&json!({"username": "x"})),
            StatusCode::BAD_REQUEST,
        ),
        (
            app.post("/v1/users")
                .json(&json!({"username": 1, "password": 2})),
            StatusCode::BAD_REQUEST,
        ),
        (
            app.post("/v1/users")
                .json(&json!({"username": "a".repeat(20_000), "password": "p"})),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            app.post("/v1/login").json(&json!([1, 2])),
            StatusCode::BAD_REQUEST,
        ),
        // I-JSON (RFC 7493): an unpaired surrogate is no string.
        (
            app.post("/v1/users").body(
                "application/json",
                r#"{"username":"ali\ud800ce","password":"long enough"}"#,
            ),
            StatusCode::BAD_REQUEST,
        ),
        (app.get("/nope"), StatusCode::NOT_FOUND),
        (
            app.call(axum::http::Method::DELETE, "/v1/me"),
            StatusCode::METHOD_NOT_ALLOWED,
        ),
    ];
    for (call, status) in cases {
        let a = call.send().await;
        assert_eq!(a.status, status, "{}", a.text);
        assert_eq!(
            a.header("content-type"),
            "application/problem+json",
            "{}",
            a.text
        );
    }
}

async fn registrations_are_limited_per_address_and_a_taken_name_costs_no_hash(setup: Setup) {
    let app = setup.start().await;
    app.seed("alice", "user").await;
    let a: std::net::SocketAddr = "192.0.2.1:5000".parse().unwrap();
    let b: std::net::SocketAddr = "198.51.100.7:5000".parse().unwrap();
    let register = |from, name: &str| {
        app.post("/v1/users")
            .from_addr(from)
            .json(&json!({"username": name, "password": PASSWORD}))
            .send()
    };
    for _ in 0..10 {
        register(a, "alice")
            .await
            .assert_problem(StatusCode::CONFLICT, "username-taken");
    }
    assert_eq!(
        app.metric("passcard_password_hashes_total{purpose=\"register\"}")
            .await,
        0.0,
        "a taken name is answered before any hashing"
    );
    let limited = register(a, "bob").await;
    limited.assert_problem(StatusCode::TOO_MANY_REQUESTS, "too-many-requests");
    assert_eq!(limited.header("retry-after"), "3600");
    assert!(
        limited.str("detail").contains("registrations"),
        "{}",
        limited.text
    );
    // Another address is not limited; this one is again after the window.
    assert_eq!(register(b, "bob").await.status, StatusCode::CREATED);
    app.clock.advance(Duration::from_secs(3600));
    assert_eq!(register(a, "carol").await.status, StatusCode::CREATED);
    assert_eq!(
        app.metric("passcard_password_hashes_total{purpose=\"register\"}")
            .await,
        2.0
    );
}

async fn registrations_in_flight_never_delay_a_login(setup: Setup) {
    // One hash at a time for each: a shared queue would put the login
    // behind every registration.
    let app = std::sync::Arc::new(
        setup
            .config(|c| {
                c.accounts.hash_concurrency = 1;
                c.accounts.registration_hash_concurrency = 1;
            })
            .start()
            .await,
    );
    app.seed("alice", "user").await;
    let finished = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for i in 0..6 {
        let (app, finished) = (app.clone(), finished.clone());
        tasks.push(tokio::spawn(async move {
            let a = app
                .post("/v1/users")
                .from_addr(std::net::SocketAddr::from(([192, 0, 2, i], 1)))
                .json(&json!({"username": format!("user{i}"), "password": PASSWORD}))
                .send()
                .await;
            assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
            finished.lock().unwrap().push(format!("register {i}"));
        }));
    }
    // Every registration is queued or hashing before the login starts.
    let queued = passcard_testkit::poll_until(Duration::from_secs(30), || async {
        app.metric("passcard_password_hashes_total{purpose=\"register\"}")
            .await
            >= 1.0
    })
    .await;
    assert!(queued.is_some());
    let login = app.login("alice").await;
    finished.lock().unwrap().push("login".to_owned());
    assert_eq!(app.me(&login.cred).await.status, StatusCode::OK);
    for t in tasks {
        t.await.unwrap();
    }
    let order = finished.lock().unwrap().clone();
    let login_at = order.iter().position(|e| e == "login").unwrap();
    assert!(
        login_at <= 3,
        "the login waited behind the registrations: {order:?}"
    );
}

async fn behind_a_trusted_proxy_each_client_has_its_own_limit(setup: Setup) {
    let app = setup
        .config(|c| {
            c.accounts.login_max_failures = 3;
            c.http.trusted_proxies = passcard::config::parse_list("10.0.0.2").unwrap();
        })
        .start()
        .await;
    app.seed("mallory-target", "user").await;
    app.seed("admin", "admin").await;
    let proxy: std::net::SocketAddr = "10.0.0.2:40000".parse().unwrap();
    let login = |from: std::net::SocketAddr, xff: &str, user: &str, password: &str| {
        app.post("/v1/login")
            .from_addr(from)
            .header("x-forwarded-for", xff)
            .json(&json!({"username": user, "password": password}))
            .send()
    };
    // One client, behind the proxy, guesses until its address is locked.
    for _ in 0..3 {
        let a = login(proxy, "203.0.113.9", "mallory-target", "guess").await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    }
    let a = login(proxy, "203.0.113.9", "admin", PASSWORD).await;
    a.assert_problem(StatusCode::TOO_MANY_REQUESTS, "too-many-requests");
    // A client writing a hop of its own is still itself.
    let a = login(proxy, "198.51.100.4, 203.0.113.9", "admin", PASSWORD).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    // Another client behind the same proxy is not locked out.
    let a = login(proxy, "198.51.100.4", "admin", PASSWORD).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    // A peer that is not a trusted proxy is the client, whatever it says.
    let untrusted: std::net::SocketAddr = "192.0.2.50:1".parse().unwrap();
    for _ in 0..3 {
        let _ = login(untrusted, "198.51.100.77", "nobody-here", "guess").await;
    }
    let a = login(untrusted, "198.51.100.78", "admin", PASSWORD).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS, "keyed by the peer");
    let a = login(proxy, "198.51.100.77", "admin", PASSWORD).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);

    // Without trusted proxies every client behind the proxy is the proxy:
    // one client's guesses lock all of them out.
    let plain = Setup::new(app.kind())
        .config(|c| c.accounts.login_max_failures = 3)
        .start()
        .await;
    plain.seed("mallory-target", "user").await;
    plain.seed("admin", "admin").await;
    for _ in 0..3 {
        let _ = plain
            .post("/v1/login")
            .from_addr(proxy)
            .header("x-forwarded-for", "203.0.113.9")
            .json(&json!({"username": "mallory-target", "password": "guess"}))
            .send()
            .await;
    }
    let a = plain
        .post("/v1/login")
        .from_addr(proxy)
        .header("x-forwarded-for", "198.51.100.4")
        .json(&json!({"username": "admin", "password": PASSWORD}))
        .send()
        .await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
}

/// `name=value` of the cookie `name` an answer sets.
fn set_cookie(a: &passcard_testkit::Answer, name: &str) -> String {
    a.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
        .and_then(|c| c.split(';').next())
        .unwrap_or_else(|| panic!("no {name} cookie in {a:?}"))
        .to_owned()
}

const DEVICE: &str = "__Host-passcard_device";

/// Issue 19: ten wrong passwords for a name, from any addresses, locked it
/// for everyone, its owner included, and repeated it kept an admin out for
/// good. A client that signed in before (the device cookie; an API client
/// may send it as `device_token`) is not stopped by the username lock;
/// everyone else still is, and guesses per username stay bounded.
async fn nobody_can_lock_an_owner_out_of_their_account(setup: Setup) {
    let app = setup.start().await;
    app.seed("alice", "user").await;
    app.seed("bob", "user").await;
    let owner: std::net::SocketAddr = "192.0.2.10:5000".parse().unwrap();
    let login = |from: std::net::SocketAddr, user: &str, password: &str| {
        app.post("/v1/login")
            .from_addr(from)
            .json(&json!({"username": user, "password": password, "transport": "cookie"}))
    };
    // Alice signs in from her browser once: it gets a device cookie,
    // HttpOnly, Secure, host-only, sent only by the site's own pages.
    let first = login(owner, "alice", PASSWORD).send().await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let device = set_cookie(&first, DEVICE);
    let attrs = first
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(DEVICE))
        .unwrap()
        .to_owned();
    for attr in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/",
        "Secure",
        "Max-Age=31536000",
    ] {
        assert!(attrs.contains(attr), "{attr} missing: {attrs}");
    }
    let bob_device = set_cookie(&login(owner, "bob", PASSWORD).send().await, DEVICE);
    // An attacker: 1,000 wrong passwords for alice from 50 other addresses.
    let mut guesses = 0;
    for i in 0..1_000 {
        let from: std::net::SocketAddr = format!("198.51.100.{}:1", i % 50).parse().unwrap();
        let a = login(from, "alice", &format!("guess-{i}")).send().await;
        match a.status {
            StatusCode::UNAUTHORIZED => guesses += 1,
            StatusCode::TOO_MANY_REQUESTS => {}
            other => panic!("guess {i}: {other} {}", a.text),
        }
    }
    // Guesses per username per window stay bounded across addresses.
    assert_eq!(guesses, 10, "guesses at alice's password within one window");
    // Alice's known browser signs in at once...
    let again = login(owner, "alice", PASSWORD).cookie(&device).send().await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    // ...and so does an API client sending the credential in the body.
    let (_, value) = device.split_once('=').unwrap();
    let api = app
        .post("/v1/login")
        .from_addr(owner)
        .json(&json!({"username": "alice", "password": PASSWORD, "transport": "cookie", "device_token": value}))
        .send()
        .await;
    assert_eq!(api.status, StatusCode::OK, "{}", api.text);
    // An unknown client still meets the lock, even with the password;
    // so does one showing another user's device, or a forged one.
    let fresh: std::net::SocketAddr = "203.0.113.77:1".parse().unwrap();
    for cookie in [
        None,
        Some(bob_device.as_str()),
        Some("__Host-passcard_device=1.AAAAAAAAAAAAAAAAAAAAAA.x"),
    ] {
        let mut call = login(fresh, "alice", PASSWORD);
        if let Some(c) = cookie {
            call = call.cookie(c);
        }
        let a = call.send().await;
        a.assert_problem(StatusCode::TOO_MANY_REQUESTS, "too-many-requests");
    }
}

/// A stolen device cookie is no skeleton key: its own failures lock it
/// (and only it) for the window.
async fn a_known_device_is_limited_on_its_own_counter(setup: Setup) {
    let app = setup
        .config(|c| c.accounts.login_max_failures = 3)
        .start()
        .await;
    app.seed("alice", "user").await;
    let login = |password: &str| {
        app.post("/v1/login")
            .json(&json!({"username": "alice", "password": password, "transport": "cookie"}))
    };
    let first = login(PASSWORD).send().await;
    let stolen = set_cookie(&first, DEVICE);
    let other = set_cookie(&login(PASSWORD).send().await, DEVICE);
    for _ in 0..3 {
        let a = login("wrong password").cookie(&stolen).send().await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    }
    let locked = login(PASSWORD).cookie(&stolen).send().await;
    locked.assert_problem(StatusCode::TOO_MANY_REQUESTS, "too-many-requests");
    assert_eq!(locked.header("retry-after"), "900");
    // The owner's other browser is not held back by it.
    let ok = login(PASSWORD).cookie(&other).send().await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    app.clock.advance(Duration::from_secs(900));
    assert_eq!(
        login(PASSWORD).cookie(&stolen).send().await.status,
        StatusCode::OK
    );
}
