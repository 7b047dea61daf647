//! The OAuth endpoints against the MUSTs of their RFCs: metadata (RFC
//! 8414), the token endpoint (RFC 6749 sections 3.2, 4.3, 5, 6),
//! introspection (RFC 7662) and revocation (RFC 7009).

use axum::http::StatusCode;
use base64::Engine as _;
use passcard::config::Secret;
use passcard_testkit::{Answer, Call, Cred, PASSWORD, Setup, TestApp};
use serde_json::json;

use super::FEED_TOKEN;

crate::contract::contract!(
    every: [
        metadata_says_what_is_offered_and_where,
        metadata_is_never_built_from_the_host_asked,
    ],
    tokens: [
        the_token_endpoint_rotates_refresh_tokens_per_rfc_6749,
        token_endpoint_errors_are_oauth_errors,
        the_password_grant_is_off_unless_enabled_and_then_limited,
        introspection_needs_the_service_credential,
        introspection_says_active_only_for_live_tokens,
        revocation_ends_what_the_token_can_do,
    ],
    sessions: [a_session_server_grants_and_revokes_no_tokens],
);

const ISSUER: &str = "https://auth.example.com";

fn with_service(setup: Setup) -> Setup {
    setup.config(|c| {
        c.services.token = Some(Secret(FEED_TOKEN.into()));
        c.tokens.issuer = ISSUER.to_owned();
    })
}

fn form(call: Call, body: &str) -> Call {
    call.body("application/x-www-form-urlencoded", body.to_owned())
}

#[track_caller]
fn assert_oauth_error(a: &Answer, status: StatusCode, error: &str) {
    assert_eq!(a.status, status, "{}", a.text);
    assert_eq!(a.header("content-type"), "application/json", "{}", a.text);
    assert_eq!(a.body["error"], error, "{}", a.text);
    assert_eq!(a.header("cache-control"), "no-store", "{}", a.text);
}

fn basic(id: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    )
}

async fn introspect(app: &TestApp, token: &str) -> Answer {
    form(
        app.post("/oauth/introspect")
            .header("authorization", basic("passcard-service", FEED_TOKEN)),
        &format!("token={token}"),
    )
    .send()
    .await
}

async fn metadata_says_what_is_offered_and_where(setup: Setup) {
    let app = with_service(setup)
        .config(|c| c.http.public_url = Some("https://auth.example.com".parse().unwrap()))
        .start()
        .await;
    let m = app
        .get("/.well-known/oauth-authorization-server")
        .send()
        .await;
    assert_eq!(m.status, StatusCode::OK);
    assert_eq!(m.header("content-type"), "application/json");
    assert_eq!(m.header("cache-control"), "public, max-age=300");
    // RFC 8414 section 2: the issuer, and the REQUIRED members.
    assert_eq!(m.body["issuer"], ISSUER);
    assert_eq!(
        m.body["jwks_uri"],
        "https://auth.example.com/.well-known/jwks.json"
    );
    assert!(m.body["response_types_supported"].is_array());
    assert_eq!(m.body["subject_types_supported"], json!(["public"]));
    assert!(
        m.body
            .get("id_token_signing_alg_values_supported")
            .is_none()
    );
    assert!(m.body.get("authorization_endpoint").is_none());
    assert_eq!(
        m.body["introspection_endpoint"],
        "https://auth.example.com/oauth/introspect"
    );
    assert_eq!(
        m.body["introspection_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post"])
    );
    assert_eq!(
        m.body["access_token_signing_alg_values_supported"],
        json!(["HS256"])
    );
    if app.is_session() {
        assert!(m.body.get("token_endpoint").is_none());
        assert!(m.body.get("revocation_endpoint").is_none());
    } else {
        assert_eq!(
            m.body["token_endpoint"],
            "https://auth.example.com/oauth/token"
        );
        assert_eq!(
            m.body["revocation_endpoint"],
            "https://auth.example.com/oauth/revoke"
        );
        assert_eq!(m.body["grant_types_supported"], json!(["refresh_token"]));
        assert_eq!(
            m.body["token_endpoint_auth_methods_supported"],
            json!(["none"])
        );
    }
    // The OpenID document is the same subset.
    let oidc = app.get("/.well-known/openid-configuration").send().await;
    assert_eq!(oidc.body, m.body);
    // Without a service credential there is no introspection to offer.
    let plain = Setup::new(app.kind())
        .config(|c| c.http.public_url = Some("https://auth.example.com".parse().unwrap()))
        .start()
        .await;
    let m = plain
        .get("/.well-known/oauth-authorization-server")
        .send()
        .await;
    assert_eq!(m.status, StatusCode::OK);
    assert!(m.body.get("introspection_endpoint").is_none());
    // An issuer that is an origin says where passcard lives by itself.
    let origin = Setup::new(app.kind())
        .config(|c| c.tokens.issuer = "https://id.example.org".to_owned())
        .start()
        .await;
    let m = origin
        .get("/.well-known/openid-configuration")
        .header("host", "evil.example")
        .send()
        .await;
    assert_eq!(
        m.body["jwks_uri"],
        "https://id.example.org/.well-known/jwks.json"
    );
}

/// Issue 19: without PASSCARD_PUBLIC_URL and with an issuer that is not a
/// bare origin, the documents were built on the request's `Host` (plain
/// `http://`, whatever host was asked) and served as cacheable. Now they
/// are not served at all: a URL is never built from `Host`.
async fn metadata_is_never_built_from_the_host_asked(setup: Setup) {
    let kind = setup.kind();
    for issuer in ["passcard", "https://auth.example.com/t"] {
        let app = Setup::new(kind)
            .config(move |c| c.tokens.issuer = issuer.to_owned())
            .start()
            .await;
        for path in [
            "/.well-known/oauth-authorization-server",
            "/.well-known/openid-configuration",
        ] {
            let m = app.get(path).header("host", "127.0.0.1:8080").send().await;
            m.assert_problem(StatusCode::NOT_FOUND, "not-found");
            assert!(!m.text.contains("127.0.0.1"), "{issuer} {path}: {}", m.text);
            assert_ne!(m.header("cache-control"), "public, max-age=300");
        }
        assert!(
            app.state
                .config
                .notes()
                .iter()
                .any(|n| n.contains("PASSCARD_PUBLIC_URL")),
            "the start-up line says which setting serves them"
        );
    }
    // A public URL serves them for that issuer, on the public URL.
    let app = setup
        .config(|c| {
            c.tokens.issuer = "https://auth.example.com/t".to_owned();
            c.http.public_url = Some("https://auth.example.com".parse().unwrap());
        })
        .start()
        .await;
    let m = app
        .get("/.well-known/oauth-authorization-server")
        .header("host", "127.0.0.1:8080")
        .send()
        .await;
    assert_eq!(m.status, StatusCode::OK, "{}", m.text);
    assert_eq!(m.body["issuer"], "https://auth.example.com/t");
    assert_eq!(
        m.body["jwks_uri"],
        "https://auth.example.com/.well-known/jwks.json"
    );
    assert!(app.state.config.notes().is_empty());
}

async fn the_token_endpoint_rotates_refresh_tokens_per_rfc_6749(setup: Setup) {
    let app = setup.start().await;
    let id = app.seed("alice", "user").await;
    let login = app.login("alice").await;
    let refresh = login.refresh_token().to_owned();
    let grant = |token: &str| {
        form(
            app.post("/oauth/token"),
            &format!("grant_type=refresh_token&refresh_token={token}&client_id=some-app"),
        )
        .send()
    };
    let a = grant(&refresh).await;
    // Section 5.1: the pair, Bearer, the lifetime, no caching.
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.header("content-type"), "application/json");
    assert_eq!(a.header("cache-control"), "no-store");
    assert_eq!(a.header("pragma"), "no-cache");
    assert_eq!(a.body["token_type"], "Bearer");
    assert_eq!(a.body["expires_in"], 300);
    let next = a.str("refresh_token");
    assert!(!next.is_empty() && next != refresh);
    let me = app.me(&Cred::Bearer(a.str("access_token"))).await;
    assert_eq!(me.body["sub"], id.to_string());
    // The same rotation as /v1/refresh: a retry within the reuse interval
    // gets the same successor...
    assert_eq!(grant(&refresh).await.str("refresh_token"), next);
    // ...and a replay after it is theft: invalid_grant, the login ended.
    app.clock.advance(std::time::Duration::from_secs(11));
    assert_oauth_error(
        &grant(&refresh).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    );
    assert_oauth_error(
        &grant(&next).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    );
    app.me(&login.cred).await.assert_invalid_token();
}

async fn token_endpoint_errors_are_oauth_errors(setup: Setup) {
    let app = setup.start().await;
    app.seed("alice", "user").await;
    let refresh = app.login("alice").await.refresh_token().to_owned();
    let token = |body: &str| form(app.post("/oauth/token"), body);
    let cases = [
        (token(""), StatusCode::BAD_REQUEST, "invalid_request"),
        (
            token("refresh_token=x"),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            token("grant_type=refresh_token"),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            token(&format!(
                "grant_type=refresh_token&grant_type=refresh_token&refresh_token={refresh}"
            )),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            token("grant_type=client_credentials"),
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
        ),
        (
            token("grant_type=urn:x:made-up"),
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
        ),
        (
            token("grant_type=password&username=alice&password=x"),
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
        ),
        (
            token(&format!(
                "grant_type=refresh_token&refresh_token={refresh}&scope=admin"
            )),
            StatusCode::BAD_REQUEST,
            "invalid_scope",
        ),
        (
            token("grant_type=refresh_token&refresh_token=not-one-of-ours"),
            StatusCode::BAD_REQUEST,
            "invalid_grant",
        ),
        (
            app.post("/oauth/token")
                .json(&json!({"grant_type": "refresh_token", "refresh_token": refresh})),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            token(&format!(
                "grant_type=refresh_token&refresh_token={refresh}&client_secret=s"
            )),
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
    ];
    for (call, status, error) in cases {
        assert_oauth_error(&call.send().await, status, error);
    }
    // Client authentication in the header: 401 with a challenge of the
    // scheme used (section 5.2).
    let a = token(&format!("grant_type=refresh_token&refresh_token={refresh}"))
        .header("authorization", basic("app", "secret"))
        .send()
        .await;
    assert_oauth_error(&a, StatusCode::UNAUTHORIZED, "invalid_client");
    assert!(a.header("www-authenticate").starts_with("Basic "), "{a:?}");
    // The refresh token survived all of that.
    let ok = token(&format!("grant_type=refresh_token&refresh_token={refresh}"))
        .send()
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    // Only POST.
    app.get("/oauth/token")
        .send()
        .await
        .assert_problem(StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed");
}

async fn the_password_grant_is_off_unless_enabled_and_then_limited(setup: Setup) {
    let app = setup
        .config(|c| {
            c.accounts.password_grant = true;
            c.accounts.login_max_failures = 2;
            c.http.public_url = Some("https://auth.example.com".parse().unwrap());
        })
        .start()
        .await;
    app.seed("alice", "user").await;
    let m = app
        .get("/.well-known/oauth-authorization-server")
        .send()
        .await;
    assert_eq!(
        m.body["grant_types_supported"],
        json!(["refresh_token", "password"])
    );
    let grant = |password: &str| {
        form(
            app.post("/oauth/token"),
            &format!("grant_type=password&username=alice&password={password}"),
        )
        .send()
    };
    let ok = grant(PASSWORD).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert!(!ok.str("refresh_token").is_empty());
    assert_eq!(ok.header("cache-control"), "no-store");
    assert_oauth_error(
        &grant("wrong-password").await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    );
    assert_oauth_error(
        &grant("wrong-password").await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    );
    // The login limiter (section 4.3: protect against brute force).
    let limited = grant(PASSWORD).await;
    assert_oauth_error(
        &limited,
        StatusCode::TOO_MANY_REQUESTS,
        "temporarily_unavailable",
    );
    assert_eq!(limited.header("retry-after"), "900");
    assert_oauth_error(
        &form(
            app.post("/oauth/token"),
            "grant_type=password&username=alice",
        )
        .send()
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    );
}

async fn introspection_needs_the_service_credential(setup: Setup) {
    let off = setup.start().await;
    off.post("/oauth/introspect")
        .send()
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not-found");
    let app = with_service(Setup::new(off.kind())).start().await;
    app.seed("alice", "user").await;
    let access = app.login("alice").await.cred.token().to_owned();
    let body = format!("token={access}");
    let try_with = |call: Call| form(call, &body).send();
    // No credential, a wrong secret, another client id, a wrong bearer.
    for (call, scheme) in [
        (app.post("/oauth/introspect"), "Basic"),
        (
            app.post("/oauth/introspect")
                .header("authorization", basic("passcard-service", "wrong")),
            "Basic",
        ),
        (
            app.post("/oauth/introspect")
                .header("authorization", basic("someone-else", FEED_TOKEN)),
            "Basic",
        ),
        (app.post("/oauth/introspect").bearer("wrong"), "Bearer"),
    ] {
        let a = try_with(call).await;
        assert_oauth_error(&a, StatusCode::UNAUTHORIZED, "invalid_client");
        assert!(a.header("www-authenticate").starts_with(scheme), "{a:?}");
        assert!(
            a.body.get("active").is_none(),
            "nothing said about the token"
        );
    }
    // Each accepted form of the credential.
    for call in [
        app.post("/oauth/introspect")
            .header("authorization", basic("passcard-service", FEED_TOKEN)),
        app.post("/oauth/introspect").bearer(FEED_TOKEN),
    ] {
        assert_eq!(try_with(call).await.body["active"], true);
    }
    let post = form(
        app.post("/oauth/introspect"),
        &format!("token={access}&client_id=passcard-service&client_secret={FEED_TOKEN}"),
    )
    .send()
    .await;
    assert_eq!(post.body["active"], true, "{}", post.text);
    // The token is required.
    assert_oauth_error(
        &form(
            app.post("/oauth/introspect").bearer(FEED_TOKEN),
            "token_type_hint=access_token",
        )
        .send()
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    );
}

async fn introspection_says_active_only_for_live_tokens(setup: Setup) {
    let app = with_service(setup).start().await;
    let id = app.seed("alice", "user").await;
    app.seed("root", "admin").await;
    let login = app.login("alice").await;
    let access = login.cred.token().to_owned();
    let before = app.state.auth.store_queries();
    let a = introspect(&app, &access).await;
    assert_eq!(
        app.state.auth.store_queries(),
        before,
        "an access token costs no store query"
    );
    assert_eq!(a.header("cache-control"), "no-store");
    assert_eq!(a.body["active"], true, "{}", a.text);
    assert_eq!(a.body["token_type"], "Bearer");
    assert_eq!(a.body["sub"], id.to_string());
    assert_eq!(a.body["role"], "user");
    assert_eq!(a.body["iss"], ISSUER);
    assert_eq!(a.body["aud"], "passcard");
    assert!(a.body["exp"].as_u64().unwrap() > a.body["iat"].as_u64().unwrap());
    assert!(!a.str("jti").is_empty());
    // A live refresh token, with a hint or without.
    let r = introspect(&app, login.refresh_token()).await;
    assert_eq!(r.body["active"], true, "{}", r.text);
    assert_eq!(r.body["sub"], id.to_string());
    let hinted = form(
        app.post("/oauth/introspect").bearer(FEED_TOKEN),
        &format!(
            "token={}&token_type_hint=access_token",
            login.refresh_token()
        ),
    )
    .send()
    .await;
    assert_eq!(
        hinted.body["active"], true,
        "a wrong hint only widens the search"
    );

    let inactive = json!({"active": false});
    let other = app.login("alice").await;
    // Garbage, a forged token, an expired one, a rotated refresh token,
    // a logged-out one, one of a banned user: exactly {"active": false}.
    assert_eq!(introspect(&app, "garbage").await.body, inactive);
    assert_eq!(introspect(&app, "a.b.c").await.body, inactive);
    let rotated = other.refresh_token().to_owned();
    assert_eq!(app.refresh(&rotated).await.status, StatusCode::OK);
    assert_eq!(introspect(&app, &rotated).await.body, inactive);
    assert_eq!(app.logout(&login.cred).await.status, StatusCode::NO_CONTENT);
    assert_eq!(introspect(&app, &access).await.body, inactive, "by jti");
    assert_eq!(
        introspect(&app, login.refresh_token()).await.body,
        inactive,
        "by family"
    );
    let root = app.login("root").await.cred;
    let live = app.login("alice").await;
    let ban = app
        .post(&format!("/v1/users/{id}/ban"))
        .auth(&root)
        .send()
        .await;
    assert_eq!(ban.status, StatusCode::NO_CONTENT);
    assert_eq!(
        introspect(&app, live.cred.token()).await.body,
        inactive,
        "by version"
    );
    assert_eq!(
        introspect(&app, live.refresh_token()).await.body,
        inactive,
        "banned"
    );
    let fresh = app.login("root").await;
    app.clock.advance(std::time::Duration::from_secs(300 + 31));
    assert_eq!(
        introspect(&app, fresh.cred.token()).await.body,
        inactive,
        "expired"
    );
}

async fn revocation_ends_what_the_token_can_do(setup: Setup) {
    let app = setup.start().await;
    app.seed("alice", "user").await;
    let revoke = |body: String| form(app.post("/oauth/revoke"), &body).send();
    // An access token: denylisted; its login goes on.
    let login = app.login("alice").await;
    let a = revoke(format!(
        "token={}&token_type_hint=access_token",
        login.cred.token()
    ))
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.header("cache-control"), "no-store");
    app.me(&login.cred).await.assert_invalid_token();
    let refreshed = app.refresh(login.refresh_token()).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.text);
    // A refresh token: its whole login (the access tokens minted in it
    // too, RFC 7009 section 2.1).
    let next_access = Cred::Bearer(refreshed.str("access_token"));
    let next_refresh = refreshed.str("refresh_token");
    // An invalid hint is ignored.
    let b = revoke(format!("token={next_refresh}&token_type_hint=made_up")).await;
    assert_eq!(b.status, StatusCode::OK);
    app.me(&next_access).await.assert_invalid_token();
    app.refresh(&next_refresh)
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "invalid-refresh-token");
    // Unknown, invalid or already revoked: 200 all the same.
    for token in [
        "garbage",
        "a.b.c",
        next_refresh.as_str(),
        login.cred.token(),
    ] {
        assert_eq!(
            revoke(format!("token={token}")).await.status,
            StatusCode::OK,
            "{token}"
        );
    }
    // The token is required.
    assert_oauth_error(
        &revoke("token_type_hint=access_token".to_owned()).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    );
}

async fn a_session_server_grants_and_revokes_no_tokens(setup: Setup) {
    let app = setup.start().await;
    let token = form(
        app.post("/oauth/token"),
        "grant_type=refresh_token&refresh_token=AAAA",
    )
    .send()
    .await;
    assert_oauth_error(&token, StatusCode::BAD_REQUEST, "unsupported_grant_type");
    let revoke = form(app.post("/oauth/revoke"), "token=anything")
        .send()
        .await;
    assert_oauth_error(&revoke, StatusCode::BAD_REQUEST, "unsupported_token_type");
}
