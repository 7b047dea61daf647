use std::time::Duration;

use axum::http::StatusCode;
use passcard_jwt::{Algorithm, Clock as _, Header, SigningKey, encode};
use passcard_testkit::{Cred, Setup, TestApp};
use serde_json::json;

crate::contract::contract!(
    every: [
        me_shows_the_caller_and_no_credential_is_challenged,
        verify_answers_reverse_proxies_and_refuses_revoked_and_expired,
        verify_by_cookie_needs_the_proxy_to_name_the_method,
    ],
    tokens: [
        bearer_errors_follow_rfc_6750,
        tokens_that_must_not_pass,
        an_expired_token_says_so_even_from_the_cache,
        verify_cache_hits_are_counted,
        without_the_verify_cache_everything_still_holds,
        me_makes_no_store_query,
    ],
    sessions: [a_session_costs_a_store_query_per_request],
);

async fn me_shows_the_caller_and_no_credential_is_challenged(setup: Setup) {
    let app = setup.start().await;
    let id = app.seed("alice", "user").await;
    let login = app.login("alice").await;
    let me = app.me(&login.cred).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    assert_eq!(me.body["sub"], id.to_string());
    assert_eq!(me.body["role"], "user");
    assert!(me.body["exp"].as_u64().unwrap() > me.body["iat"].as_u64().unwrap());
    assert_eq!(me.str("jti").len(), 22);

    let none = app.get("/v1/me").send().await;
    none.assert_problem(StatusCode::UNAUTHORIZED, "authentication-required");
    assert_eq!(
        none.header("www-authenticate"),
        r#"Bearer realm="passcard""#
    );
}

async fn bearer_errors_follow_rfc_6750(setup: Setup) {
    let app = setup.start().await;
    app.seed("alice", "user").await;
    let access = app.login("alice").await.cred.token().to_owned();
    for bad in ["garbage", "a.b.c", &format!("{access}x")] {
        app.get("/v1/me")
            .bearer(bad)
            .send()
            .await
            .assert_invalid_token();
    }
    for header in ["Basic YTpi", "Bearer", "Bearer  two spaces"] {
        app.get("/v1/me")
            .header("authorization", header)
            .send()
            .await
            .assert_invalid_token();
    }
    let two = app
        .get("/v1/me")
        .bearer(&access)
        .bearer(&access)
        .send()
        .await;
    two.assert_invalid_token();
    assert_eq!(
        app.metric("passcard_token_verification_failures_total{reason=\"malformed_header\"}")
            .await,
        3.0,
        "Basic, a bare scheme, two headers"
    );
}

/// Signs `claims` with `key` as an access token would be.
fn forge(key: &SigningKey, claims: &serde_json::Value, typ: &str) -> String {
    encode(&Header::new().typ(typ), claims, key).unwrap()
}

fn claims_for(app: &TestApp, sub: i64, ttl: i64) -> serde_json::Value {
    let now = i64::try_from(app.clock.now().as_secs()).unwrap();
    json!({"iss": "passcard", "aud": "passcard", "sub": sub.to_string(), "role": "admin",
           "iat": now, "exp": now + ttl, "jti": "forged-1", "ver": 0, "sid": "1"})
}

async fn tokens_that_must_not_pass(setup: Setup) {
    let app = setup.start().await;
    let id = app.seed("alice", "user").await;
    let access = app.login("alice").await.cred.token().to_owned();
    let key = app.state.auth.signing_key();
    let good = claims_for(&app, id, 60);
    // Sanity: the server's own key with good claims passes.
    let ok = app
        .get("/v1/me")
        .bearer(&forge(key, &good, "at+jwt"))
        .send()
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);

    let other = SigningKey::generate(Algorithm::HS256)
        .unwrap()
        .with_kid(key.kid())
        .unwrap();
    let mut cases = vec![
        ("another key", forge(&other, &good, "at+jwt")),
        ("wrong typ", forge(key, &good, "JWT")),
    ];
    for (field, value) in [
        ("aud", json!("billing")),
        ("iss", json!("evil")),
        ("exp", json!("soon")),
        ("sub", json!("007")),
        ("sid", json!(1)),
    ] {
        let mut c = good.clone();
        c[field] = value;
        cases.push((field, forge(key, &c, "at+jwt")));
    }
    let (h, rest) = access.split_once('.').unwrap();
    let (p, sig) = rest.split_once('.').unwrap();
    let tampered_payload = {
        use base64::Engine as _;
        let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut claims: serde_json::Value = serde_json::from_slice(&e.decode(p).unwrap()).unwrap();
        claims["role"] = json!("admin");
        e.encode(claims.to_string())
    };
    cases.push(("tampered", format!("{h}.{tampered_payload}.{sig}")));
    cases.push((
        "alg none",
        format!("eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0.{p}."),
    ));
    for (name, token) in &cases {
        let a = app.get("/v1/me").bearer(token).send().await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{name}: {}", a.text);
        a.assert_invalid_token();
    }
}

async fn an_expired_token_says_so_even_from_the_cache(setup: Setup) {
    let app = setup.start().await;
    app.seed("alice", "user").await;
    let cred = app.login("alice").await.cred;
    // Verified once, then served from the cache...
    assert_eq!(app.me(&cred).await.status, StatusCode::OK);
    assert_eq!(app.me(&cred).await.status, StatusCode::OK);
    // ...until it expires: access TTL 5 min, leeway 30 s.
    app.clock.advance(Duration::from_secs(329));
    assert_eq!(app.me(&cred).await.status, StatusCode::OK);
    app.clock.advance(Duration::from_secs(1));
    let a = app.me(&cred).await;
    a.assert_problem(StatusCode::UNAUTHORIZED, "token-expired");
    assert!(a.header("www-authenticate").contains("expired"), "{a:?}");
    assert_eq!(
        app.metric("passcard_token_verification_failures_total{reason=\"expired\"}")
            .await,
        1.0
    );
}

async fn verify_cache_hits_are_counted(setup: Setup) {
    let app = setup.start().await;
    app.seed("alice", "user").await;
    let cred = app.login("alice").await.cred;
    for _ in 0..10 {
        assert_eq!(app.me(&cred).await.status, StatusCode::OK);
    }
    assert_eq!(app.metric("passcard_verify_cache_misses_total").await, 1.0);
    assert_eq!(app.metric("passcard_verify_cache_hits_total").await, 9.0);
}

async fn without_the_verify_cache_everything_still_holds(setup: Setup) {
    let app = setup.config(|c| c.verify_cache = 0).start().await;
    app.seed("alice", "user").await;
    let cred = app.login("alice").await.cred;
    for _ in 0..3 {
        assert_eq!(app.me(&cred).await.status, StatusCode::OK);
    }
    assert_eq!(app.metric("passcard_verify_cache_hits_total").await, 0.0);
    assert_eq!(app.logout(&cred).await.status, StatusCode::NO_CONTENT);
    app.me(&cred).await.assert_invalid_token();
}

async fn me_makes_no_store_query(setup: Setup) {
    let app = setup.start().await;
    app.seed("alice", "user").await;
    let cred = app.login("alice").await.cred;
    let before = app.metric("passcard_store_queries_total").await;
    assert!(before > 0.0, "the counter counts");
    for _ in 0..300 {
        assert_eq!(app.me(&cred).await.status, StatusCode::OK);
    }
    let after = app.metric("passcard_store_queries_total").await;
    assert_eq!(after, before, "GET /v1/me touched the store");
    assert_eq!(
        app.metric("passcard_http_requests_total{route=\"/v1/me\",status=\"200\"}")
            .await,
        300.0
    );
}

async fn a_session_costs_a_store_query_per_request(setup: Setup) {
    let app = setup.start().await;
    app.seed("alice", "user").await;
    let cred = app.login("alice").await.cred;
    let before = app.metric("passcard_store_queries_total").await;
    for _ in 0..20 {
        assert_eq!(app.me(&cred).await.status, StatusCode::OK);
    }
    let after = app.metric("passcard_store_queries_total").await;
    assert!(
        after - before >= 20.0,
        "a session costs a store lookup per request: {before} -> {after}"
    );
}

/// Issue 19: `/v1/verify` failed open for CSRF when the proxy sent neither
/// `X-Original-Method` nor `X-Forwarded-Method`: a cross-site POST whose
/// cookie the browser attached passed as the GET `auth_request` sends.
async fn verify_by_cookie_needs_the_proxy_to_name_the_method(setup: Setup) {
    let kind = setup.kind();
    let app = setup.start().await;
    app.seed("alice", "user").await;
    let cookie = cookie_credential(&app, "alice").await;
    let refused = app.get("/v1/verify").cookie(&cookie).send().await;
    refused.assert_problem(StatusCode::BAD_REQUEST, "original-method-required");
    assert!(
        refused.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("X-Original-Method") && d.contains("X-Forwarded-Method")),
        "{}",
        refused.text
    );
    for header in ["x-original-method", "x-forwarded-method"] {
        let ok = app
            .get("/v1/verify")
            .cookie(&cookie)
            .header(header, "GET")
            .send()
            .await;
        assert_eq!(ok.status, StatusCode::OK, "{header}: {}", ok.text);
    }
    // In session mode only the cookie counts: another Authorization the
    // browser attached (HTTP Basic cached for the host) changes nothing.
    if app.is_session() {
        let basic = app
            .get("/v1/verify")
            .cookie(&cookie)
            .header("authorization", "Basic YTpi")
            .send()
            .await;
        basic.assert_problem(StatusCode::BAD_REQUEST, "original-method-required");
    }
    // No cookie, no question: the usual 401.
    let none = app.get("/v1/verify").send().await;
    none.assert_problem(StatusCode::UNAUTHORIZED, "authentication-required");
    // Bearer tokens are never attached by a browser: no header needed.
    if !app.is_session() {
        let bearer = app.login("alice").await.cred;
        assert_eq!(
            app.get("/v1/verify").auth(&bearer).send().await.status,
            StatusCode::OK
        );
    }
    // A proxy that cannot send either header: the check turned off.
    let lenient = Setup::new(kind)
        .config(|c| c.http.verify_requires_method = false)
        .start()
        .await;
    lenient.seed("alice", "user").await;
    let cookie = cookie_credential(&lenient, "alice").await;
    let ok = lenient.get("/v1/verify").cookie(&cookie).send().await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
}

/// A login whose credential is a cookie (the access cookie, or the
/// session cookie), as `name=value`.
async fn cookie_credential(app: &TestApp, name: &str) -> String {
    let a = app
        .post("/v1/login")
        .json(&json!({"username": name, "password": passcard_testkit::PASSWORD, "transport": "cookie"}))
        .send()
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let wanted = if app.is_session() {
        "__Host-passcard_session="
    } else {
        "__Host-passcard_access="
    };
    a.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(wanted))
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_owned()
}

async fn verify_answers_reverse_proxies_and_refuses_revoked_and_expired(setup: Setup) {
    let app = setup.start().await;
    let id = app.seed("alice", "user").await;
    let first = app.login("alice").await.cred;
    let second = app.login("alice").await.cred;
    // As nginx asks (docs/nginx.conf): the original method named.
    let verify = |cred: &Cred| {
        app.get("/v1/verify")
            .auth(cred)
            .header("x-original-method", "GET")
            .send()
    };

    let ok = verify(&first).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert_eq!(ok.header("x-passcard-sub"), id.to_string());
    assert_eq!(ok.header("x-passcard-role"), "user");
    let jti = app.me(&first).await.str("jti");
    assert_eq!(
        ok.header("x-passcard-jti"),
        jti,
        "the token's (or session's) id"
    );

    let none = app.get("/v1/verify").send().await;
    none.assert_problem(StatusCode::UNAUTHORIZED, "authentication-required");
    assert!(none.header("www-authenticate").starts_with("Bearer"));
    let garbage = match &first {
        Cred::Bearer(_) => Cred::Bearer("x.y.z".into()),
        Cred::Cookie(_) => Cred::Cookie(format!("__Host-passcard_session={}", "A".repeat(43))),
    };
    assert_eq!(verify(&garbage).await.status, StatusCode::UNAUTHORIZED);

    // Revoked: refused from the next request on.
    assert_eq!(app.logout(&first).await.status, StatusCode::NO_CONTENT);
    let revoked = verify(&first).await;
    assert_eq!(revoked.status, StatusCode::UNAUTHORIZED, "{}", revoked.text);
    assert!(revoked.header("x-passcard-sub").is_empty());

    // Expired: an access token after its lifetime and the leeway, a
    // session after its idle time.
    assert_eq!(verify(&second).await.status, StatusCode::OK);
    app.clock.advance(Duration::from_secs(31 * 60));
    let expired = verify(&second).await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED, "{}", expired.text);
    assert!(expired.header("x-passcard-sub").is_empty());
}
