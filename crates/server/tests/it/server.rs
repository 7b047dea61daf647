use std::time::Duration;

use passcard_jwt::{Algorithm, Header, SigningKey, encode};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{TestServer, key_file, password, until_status};

fn is_problem(a: &crate::support::Answer, status: StatusCode, slug: &str) {
    assert_eq!(a.status, status, "{}", a.text);
    assert_eq!(
        a.header("content-type"),
        "application/problem+json",
        "{}",
        a.text
    );
    assert_eq!(
        a.body["type"],
        format!("urn:passcard:problem:{slug}"),
        "{}",
        a.text
    );
    assert_eq!(a.body["status"], status.as_u16());
}

fn invalid_token(a: &crate::support::Answer) {
    is_problem(a, StatusCode::UNAUTHORIZED, "invalid-token");
    assert!(
        a.header("www-authenticate")
            .contains(r#"error="invalid_token""#),
        "{a:?}"
    );
}

#[tokio::test]
async fn registration_rules() {
    let s = TestServer::start().await;
    let a = s
        .post(
            "/v1/users",
            json!({"username": "Alice", "password": "long enough"}),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    assert_eq!(a.body["username"], "alice");
    assert_eq!(a.body["role"], "user");
    assert!(a.body["id"].as_i64().is_some());
    assert!(a.body.get("password_hash").is_none());

    let dup = s
        .post(
            "/v1/users",
            json!({"username": "alice", "password": "long enough"}),
            None,
        )
        .await;
    is_problem(&dup, StatusCode::CONFLICT, "username-taken");
    for (username, password) in [
        ("al", "long enough"),
        ("bad name", "long enough"),
        ("-x-", "long enough"),
        ("bob", "short"),
    ] {
        let a = s
            .post(
                "/v1/users",
                json!({"username": username, "password": password}),
                None,
            )
            .await;
        is_problem(&a, StatusCode::BAD_REQUEST, "bad-request");
    }

    let closed = TestServer::start_with(|c| c.open_registration = false).await;
    let a = closed
        .post(
            "/v1/users",
            json!({"username": "carol", "password": "long enough"}),
            None,
        )
        .await;
    is_problem(&a, StatusCode::FORBIDDEN, "registration-closed");
}

#[tokio::test]
async fn login_answers_unknown_user_and_wrong_password_alike() {
    let s = TestServer::start().await;
    s.register("alice").await;
    let a = s
        .post(
            "/v1/login",
            json!({"username": "alice", "password": password("alice")}),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["token_type"], "Bearer");
    assert_eq!(a.body["expires_in"], 300);
    assert_eq!(a.body["refresh_expires_in"], 14 * 86_400);
    assert_eq!(a.str("refresh_token").len(), 43);

    let wrong = s
        .post(
            "/v1/login",
            json!({"username": "alice", "password": "not her password"}),
            None,
        )
        .await;
    let unknown = s
        .post(
            "/v1/login",
            json!({"username": "nobody", "password": "not her password"}),
            None,
        )
        .await;
    is_problem(&wrong, StatusCode::UNAUTHORIZED, "invalid-credentials");
    assert_eq!(
        wrong.text, unknown.text,
        "same body for unknown user and wrong password"
    );
    assert_eq!(wrong.status, unknown.status);
}

#[tokio::test]
async fn repeated_login_failures_get_429_with_retry_after() {
    let s = TestServer::start_with(|c| c.login_max_failures = 3).await;
    s.register("alice").await;
    for _ in 0..3 {
        let a = s
            .post(
                "/v1/login",
                json!({"username": "alice", "password": "wrong password"}),
                None,
            )
            .await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    }
    // Now even the right password waits.
    let a = s
        .post(
            "/v1/login",
            json!({"username": "alice", "password": password("alice")}),
            None,
        )
        .await;
    is_problem(&a, StatusCode::TOO_MANY_REQUESTS, "too-many-requests");
    let retry: u64 = a.header("retry-after").parse().unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    assert_eq!(
        s.metric("passcard_logins_total{outcome=\"rate_limited\"}")
            .await,
        1.0
    );
}

#[tokio::test]
async fn me_comes_from_the_claims_and_bearer_errors_follow_rfc_6750() {
    let s = TestServer::start().await;
    let id = s.register("alice").await;
    let (access, _) = s.login("alice").await;
    let me = s.get("/v1/me", Some(&access)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    assert_eq!(me.body["sub"], id.to_string());
    assert_eq!(me.body["role"], "user");
    assert!(me.body["exp"].as_u64().unwrap() > me.body["iat"].as_u64().unwrap());
    assert_eq!(me.str("jti").len(), 22);

    let none = s.get("/v1/me", None).await;
    is_problem(&none, StatusCode::UNAUTHORIZED, "authentication-required");
    assert_eq!(
        none.header("www-authenticate"),
        r#"Bearer realm="passcard""#
    );

    for bad in ["garbage", "a.b.c", &format!("{access}x")] {
        invalid_token(&s.get("/v1/me", Some(bad)).await);
    }
    let basic = s
        .send(
            s.client
                .get(format!("{}/v1/me", s.base))
                .header("authorization", "Basic YTpi"),
        )
        .await;
    invalid_token(&basic);
}

/// Signs `claims` with `key` as an access token would be.
fn forge(key: &SigningKey, claims: &serde_json::Value, typ: &str) -> String {
    encode(&Header::new().typ(typ), claims, key).unwrap()
}

#[tokio::test]
async fn tokens_that_must_not_pass() {
    let s = TestServer::start().await;
    let id = s.register("alice").await;
    let (access, _) = s.login("alice").await;
    let key = &s.state().signing;
    let now = passcard_jwt::Clock::now(&passcard_jwt::SystemClock::new()).as_secs();
    let good = json!({"iss": "passcard", "aud": "passcard", "sub": id.to_string(), "role": "admin",
                      "iat": now, "exp": now + 60, "jti": "forged-1", "ver": 0, "sid": "1"});
    // Sanity: the server's own key with good claims passes.
    assert_eq!(
        s.get("/v1/me", Some(&forge(key, &good, "at+jwt")))
            .await
            .status,
        StatusCode::OK
    );

    let other = SigningKey::generate(Algorithm::HS256)
        .unwrap()
        .with_kid(key.kid());
    let mut cases = vec![
        ("another key", forge(&other, &good, "at+jwt")),
        ("wrong typ", forge(key, &good, "JWT")),
    ];
    for (field, value) in [
        ("aud", json!("billing")),
        ("iss", json!("evil")),
        ("exp", json!("soon")),
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
        let a = s.get("/v1/me", Some(token)).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{name}: {}", a.text);
        invalid_token(&a);
    }

    // Expired: says so, so the client knows to refresh.
    let mut old = good;
    old["iat"] = json!(now - 600);
    old["exp"] = json!(now - 300);
    let a = s.get("/v1/me", Some(&forge(key, &old, "at+jwt"))).await;
    is_problem(&a, StatusCode::UNAUTHORIZED, "token-expired");
    assert!(a.header("www-authenticate").contains("expired"), "{a:?}");
    assert!(
        s.metric("passcard_token_verification_failures_total{reason=\"expired\"}")
            .await
            >= 1.0
    );
}

#[tokio::test]
async fn role_change_rejects_the_stale_token_and_refresh_brings_the_new_role() {
    let s = TestServer::start().await;
    let alice = s.register("alice").await;
    s.admin("root").await;
    let (alice_access, alice_refresh) = s.login("alice").await;
    let (root_access, _) = s.login("root").await;

    // A user cannot change roles.
    let a = s
        .put(
            &format!("/v1/users/{alice}/role"),
            json!({"role": "admin"}),
            Some(&alice_access),
        )
        .await;
    is_problem(&a, StatusCode::FORBIDDEN, "insufficient-scope");
    assert!(a.header("www-authenticate").contains("insufficient_scope"));

    let a = s
        .put(
            &format!("/v1/users/{alice}/role"),
            json!({"role": "admin"}),
            Some(&root_access),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["role"], "admin");

    // The stale token stops working at once...
    invalid_token(&s.get("/v1/me", Some(&alice_access)).await);
    // ...and a refresh gives the new role.
    let r = s.refresh(&alice_refresh).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let me = s.get("/v1/me", Some(&r.str("access_token"))).await;
    assert_eq!(me.body["role"], "admin", "{}", me.text);

    for (body, status) in [
        (json!({"role": "superuser"}), StatusCode::BAD_REQUEST),
        (json!({"rol": "admin"}), StatusCode::BAD_REQUEST),
    ] {
        let a = s
            .put(&format!("/v1/users/{alice}/role"), body, Some(&root_access))
            .await;
        assert_eq!(a.status, status, "{}", a.text);
    }
    let a = s
        .put(
            "/v1/users/99999/role",
            json!({"role": "user"}),
            Some(&root_access),
        )
        .await;
    is_problem(&a, StatusCode::NOT_FOUND, "not-found");
    let a = s
        .put(
            "/v1/users/abc/role",
            json!({"role": "user"}),
            Some(&root_access),
        )
        .await;
    is_problem(&a, StatusCode::BAD_REQUEST, "bad-request");
}

#[tokio::test]
async fn logout_revokes_the_token_and_its_refresh_family_only() {
    let s = TestServer::start().await;
    s.register("alice").await;
    let (a1, r1) = s.login("alice").await;
    let (a2, r2) = s.login("alice").await;
    let out = s.post("/v1/logout", json!({}), Some(&a1)).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{}", out.text);
    invalid_token(&s.get("/v1/me", Some(&a1)).await);
    is_problem(
        &s.refresh(&r1).await,
        StatusCode::UNAUTHORIZED,
        "invalid-refresh-token",
    );
    // The other session lives on.
    assert_eq!(s.get("/v1/me", Some(&a2)).await.status, StatusCode::OK);
    assert_eq!(s.refresh(&r2).await.status, StatusCode::OK);
    assert_eq!(s.metric("passcard_denylist_entries").await, 1.0);
}

#[tokio::test]
async fn logout_all_ends_every_session() {
    let s = TestServer::start().await;
    s.register("alice").await;
    s.register("bob").await;
    let (a1, r1) = s.login("alice").await;
    let (a2, r2) = s.login("alice").await;
    let (b, _) = s.login("bob").await;
    assert_eq!(
        s.post("/v1/logout-all", json!({}), Some(&a2)).await.status,
        StatusCode::NO_CONTENT
    );
    for t in [&a1, &a2] {
        invalid_token(&s.get("/v1/me", Some(t)).await);
    }
    for r in [&r1, &r2] {
        is_problem(
            &s.refresh(r).await,
            StatusCode::UNAUTHORIZED,
            "invalid-refresh-token",
        );
    }
    assert_eq!(
        s.get("/v1/me", Some(&b)).await.status,
        StatusCode::OK,
        "bob is untouched"
    );
    // A new login works and gets a token of the new version.
    let (fresh, _) = s.login("alice").await;
    assert_eq!(s.get("/v1/me", Some(&fresh)).await.status, StatusCode::OK);
    assert_eq!(s.metric("passcard_user_version_entries").await, 1.0);
}

#[tokio::test]
async fn ban_stops_tokens_refresh_and_login() {
    let s = TestServer::start().await;
    let alice = s.register("alice").await;
    s.admin("root").await;
    let (access, refresh) = s.login("alice").await;
    let (root, _) = s.login("root").await;
    let a = s
        .post(&format!("/v1/users/{alice}/ban"), json!({}), Some(&access))
        .await;
    is_problem(&a, StatusCode::FORBIDDEN, "insufficient-scope");
    let a = s
        .post(&format!("/v1/users/{alice}/ban"), json!({}), Some(&root))
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{}", a.text);
    invalid_token(&s.get("/v1/me", Some(&access)).await);
    is_problem(
        &s.refresh(&refresh).await,
        StatusCode::UNAUTHORIZED,
        "invalid-refresh-token",
    );
    let login = s
        .post(
            "/v1/login",
            json!({"username": "alice", "password": password("alice")}),
            None,
        )
        .await;
    is_problem(&login, StatusCode::UNAUTHORIZED, "invalid-credentials");
    let a = s.post("/v1/users/424242/ban", json!({}), Some(&root)).await;
    is_problem(&a, StatusCode::NOT_FOUND, "not-found");
}

#[tokio::test]
async fn refresh_rotates_and_a_retry_within_the_interval_is_idempotent() {
    let s = TestServer::start_with(|c| c.refresh_reuse_interval = Duration::from_secs(1)).await;
    s.register("alice").await;
    let (_, r0) = s.login("alice").await;
    let first = s.refresh(&r0).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let r1 = first.str("refresh_token");
    assert_ne!(r1, r0);
    // The same old token again, at once (a lost response, a second tab):
    // the same successor and a fresh access token, no logout.
    let retry = s.refresh(&r0).await;
    assert_eq!(retry.status, StatusCode::OK, "{}", retry.text);
    assert_eq!(retry.str("refresh_token"), r1);
    assert_ne!(retry.str("access_token"), first.str("access_token"));
    assert_eq!(
        s.get("/v1/me", Some(&retry.str("access_token")))
            .await
            .status,
        StatusCode::OK
    );

    // The chain goes on.
    let second = s.refresh(&r1).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.text);
    let r2 = second.str("refresh_token");

    // After the interval, presenting r0 again is theft: the family dies.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    is_problem(
        &s.refresh(&r0).await,
        StatusCode::UNAUTHORIZED,
        "invalid-refresh-token",
    );
    is_problem(
        &s.refresh(&r2).await,
        StatusCode::UNAUTHORIZED,
        "invalid-refresh-token",
    );

    for bad in ["", "short", &"A".repeat(43), &format!("{r2}x")] {
        is_problem(
            &s.refresh(bad).await,
            StatusCode::UNAUTHORIZED,
            "invalid-refresh-token",
        );
    }
}

#[tokio::test]
async fn concurrent_refreshes_of_one_token_all_get_the_same_successor() {
    let s = TestServer::start().await;
    s.register("alice").await;
    let (_, r0) = s.login("alice").await;
    let answers = futures_join(&s, &r0, 4).await;
    let successors: std::collections::HashSet<_> =
        answers.iter().map(|a| a.str("refresh_token")).collect();
    assert!(
        answers.iter().all(|a| a.status == StatusCode::OK),
        "{answers:?}"
    );
    assert_eq!(successors.len(), 1, "{successors:?}");
}

async fn futures_join(s: &TestServer, token: &str, n: usize) -> Vec<crate::support::Answer> {
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        let client = s.client.clone();
        let url = format!("{}/v1/refresh", s.base);
        let body = json!({"refresh_token": token});
        set.spawn(async move { client.post(url).json(&body).send().await.unwrap() });
    }
    let mut out = Vec::new();
    while let Some(r) = set.join_next().await {
        let r = r.unwrap();
        let status = r.status();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap();
        out.push(crate::support::Answer {
            status,
            headers,
            body: serde_json::from_str(&text).unwrap_or_default(),
            text,
        });
    }
    out
}

#[tokio::test]
async fn me_makes_no_store_query() {
    // No background polling, so the store counter moves only for requests.
    let s = TestServer::start_with(|c| c.revocation_poll = Duration::from_secs(3600)).await;
    s.register("alice").await;
    let (access, _) = s.login("alice").await;
    let before = s.metric("passcard_store_queries_total").await;
    assert!(before > 0.0, "the counter counts");
    for _ in 0..300 {
        assert_eq!(s.get("/v1/me", Some(&access)).await.status, StatusCode::OK);
    }
    let after = s.metric("passcard_store_queries_total").await;
    assert_eq!(after, before, "GET /v1/me touched the store");
    assert_eq!(
        s.metric("passcard_http_requests_total{route=\"/v1/me\",status=\"200\"}")
            .await,
        300.0
    );
}

#[tokio::test]
async fn bad_requests_get_4xx_problems_never_5xx() {
    let s = TestServer::start().await;
    let url = format!("{}/v1/users", s.base);
    let cases = [
        (
            s.client
                .post(&url)
                .header("content-type", "application/json")
                .body("{not json"),
            StatusCode::BAD_REQUEST,
        ),
        (
            s.client
                .post(&url)
                .header("content-type", "text/plain")
                .body("{}"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            s.client.post(&url).json(&json!({"username": "x"})),
            StatusCode::BAD_REQUEST,
        ),
        (
            s.client
                .post(&url)
                .json(&json!({"username": 1, "password": 2})),
            StatusCode::BAD_REQUEST,
        ),
        (
            s.client
                .post(&url)
                .json(&json!({"username": "a".repeat(20_000), "password": "p"})),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            s.client
                .post(format!("{}/v1/login", s.base))
                .json(&json!([1, 2])),
            StatusCode::BAD_REQUEST,
        ),
        (
            s.client.get(format!("{}/nope", s.base)),
            StatusCode::NOT_FOUND,
        ),
        (
            s.client.delete(format!("{}/v1/me", s.base)),
            StatusCode::METHOD_NOT_ALLOWED,
        ),
    ];
    for (req, status) in cases {
        let a = s.send(req).await;
        assert_eq!(a.status, status, "{}", a.text);
        assert_eq!(
            a.header("content-type"),
            "application/problem+json",
            "{}",
            a.text
        );
    }
}

#[tokio::test]
async fn jwks_health_metrics_and_openapi() {
    let s = TestServer::start().await;
    let h = s.get("/healthz", None).await;
    assert_eq!(h.body["status"], "ok", "{}", h.text);
    assert!(h.body["revocation_lag_ms"].as_u64().unwrap() < 60_000);
    // An HS256 server publishes no keys.
    assert_eq!(
        s.get("/.well-known/jwks.json", None).await.body,
        json!({"keys": []})
    );

    let m = s.get("/metrics", None).await;
    for name in [
        "passcard_http_requests_total",
        "passcard_token_verification_failures_total",
        "passcard_store_queries_total",
        "passcard_denylist_entries",
        "passcard_user_version_entries",
        "passcard_logins_total",
    ] {
        assert!(m.text.contains(name), "{name} missing:\n{}", m.text);
    }

    let spec = s.get("/openapi.json", None).await;
    assert_eq!(spec.status, StatusCode::OK);
    assert_eq!(spec.body["openapi"], "3.1.0");
    for (path, method) in [
        ("/v1/users", "post"),
        ("/v1/login", "post"),
        ("/v1/refresh", "post"),
        ("/v1/me", "get"),
        ("/v1/logout", "post"),
        ("/v1/logout-all", "post"),
        ("/v1/users/{id}/role", "put"),
        ("/v1/users/{id}/ban", "post"),
        ("/.well-known/jwks.json", "get"),
        ("/healthz", "get"),
        ("/metrics", "get"),
        ("/openapi.json", "get"),
        ("/v1/verify", "get"),
        ("/v1/revocations", "get"),
        ("/v1/revocations/stream", "get"),
    ] {
        assert!(
            spec.body["paths"][path][method].is_object(),
            "{method} {path} not documented"
        );
    }
}

#[tokio::test]
async fn an_eddsa_key_file_is_published_in_jwks() {
    let dir = crate::support::TempDir::new("jwks");
    let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let file = key_file(&dir, &key);
    let s = TestServer::start_with(|c| c.key_file = Some(file.clone())).await;
    let jwks = s.get("/.well-known/jwks.json", None).await;
    assert_eq!(jwks.body["keys"][0]["kid"], key.kid());
    assert!(jwks.body["keys"][0].get("d").is_none());
    s.register("alice").await;
    let (access, _) = s.login("alice").await;
    // Anyone with the JWKS can verify it.
    let keys =
        passcard_jwt::KeySet::from_jwks(&passcard_jwt::JwkSet::from_json(&jwks.text).unwrap())
            .unwrap();
    let policy = passcard_jwt::Validator::builder()
        .issuer("passcard")
        .audience("passcard")
        .typ("at+jwt")
        .build();
    keys.verify::<serde_json::Value>(
        &access,
        &policy,
        passcard_jwt::Clock::now(&passcard_jwt::SystemClock::new()),
    )
    .unwrap();
}

#[tokio::test]
async fn the_generated_key_is_kept_across_restarts() {
    let mut s = TestServer::start().await;
    s.register("alice").await;
    let (access, _) = s.login("alice").await;
    let key_file = s.data_dir().join("key.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let data = s.data_dir();
    s.server.take().unwrap().stop().await.unwrap();
    let again = TestServer::start_with(|c| {
        *c = passcard::config::Config::with_data_dir(&data);
    })
    .await;
    assert_eq!(
        again.get("/v1/me", Some(&access)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn cli_changes_reach_a_running_server() {
    let s = TestServer::start_with(|c| c.revocation_poll = Duration::from_millis(100)).await;
    s.register("alice").await;
    let (access, refresh) = s.login("alice").await;
    let data = s.data_dir();
    let run = |args: &[&str]| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_passcard"))
            .args(args)
            .arg("--data-dir")
            .arg(&data)
            .env_remove("PASSCARD_DATABASE_URL")
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    };
    let out = run(&["user", "set-role", "alice", "admin"]);
    assert!(out.contains("alice is now admin"), "{out}");
    // Within a few polls, the running server refuses the stale token.
    let t0 = std::time::Instant::now();
    let refused = until_status(&s, "/v1/me", &access, StatusCode::UNAUTHORIZED, t0).await;
    assert!(
        refused.is_some(),
        "the CLI role change never reached the server"
    );
    let r = s.refresh(&refresh).await;
    let me = s.get("/v1/me", Some(&r.str("access_token"))).await;
    assert_eq!(me.body["role"], "admin");

    run(&["user", "ban", "alice"]);
    let t0 = std::time::Instant::now();
    let refused = until_status(
        &s,
        "/v1/me",
        &r.str("access_token"),
        StatusCode::UNAUTHORIZED,
        t0,
    )
    .await;
    assert!(refused.is_some(), "the CLI ban never reached the server");
}

#[test]
fn user_add_from_stdin_creates_an_admin_who_can_log_in() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = crate::support::TempDir::new("useradd");
    let data = dir.join("data");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_passcard"))
        .args(["user", "add", "root", "--role", "admin", "--data-dir"])
        .arg(&data)
        .env_remove("PASSCARD_DATABASE_URL")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write as _;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{}\n", password("root")).as_bytes())
            .unwrap();
    }
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("created user root"));
    rt.block_on(async {
        let s =
            TestServer::start_with(|c| *c = passcard::config::Config::with_data_dir(&data)).await;
        let (access, _) = s.login("root").await;
        assert_eq!(s.get("/v1/me", Some(&access)).await.body["role"], "admin");
    });
}

#[tokio::test]
async fn a_cached_token_still_expires_on_time() {
    let s = TestServer::start_with(|c| c.leeway = Duration::ZERO).await;
    let id = s.register("alice").await;
    let now = passcard_jwt::Clock::now(&passcard_jwt::SystemClock::new()).as_secs();
    let claims = json!({"iss": "passcard", "aud": "passcard", "sub": id.to_string(), "role": "user",
                        "iat": now, "exp": now + 2, "jti": "short-lived", "ver": 0, "sid": "1"});
    let token = forge(&s.state().signing, &claims, "at+jwt");
    // Verified once, then served from the cache...
    assert_eq!(s.get("/v1/me", Some(&token)).await.status, StatusCode::OK);
    assert_eq!(s.get("/v1/me", Some(&token)).await.status, StatusCode::OK);
    // ...until it expires.
    tokio::time::sleep(Duration::from_millis(3100)).await;
    is_problem(
        &s.get("/v1/me", Some(&token)).await,
        StatusCode::UNAUTHORIZED,
        "token-expired",
    );
}

#[tokio::test]
async fn without_the_verify_cache_everything_still_holds() {
    let s = TestServer::start_with(|c| c.verify_cache = 0).await;
    s.register("alice").await;
    let (access, _) = s.login("alice").await;
    assert_eq!(s.get("/v1/me", Some(&access)).await.status, StatusCode::OK);
    assert_eq!(
        s.post("/v1/logout", json!({}), Some(&access)).await.status,
        StatusCode::NO_CONTENT
    );
    invalid_token(&s.get("/v1/me", Some(&access)).await);
}
