use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};
use passcard_jwt::{Algorithm, Clock as _, SigningKey};
use passcard_testkit::{Setup, TempDir};
use serde_json::json;

crate::contract::contract!(
    every: [
        health_metrics_and_openapi,
        the_metrics_token_guards_metrics,
        the_openapi_document_lists_every_route_and_only_those,
    ],
    tokens: [
        an_hmac_server_publishes_no_keys,
        an_eddsa_key_file_is_published_in_jwks,
    ],
    sessions: [],
);

const METRICS_TOKEN: &str = "metrics-token-0123456789abcdef0123456789";

/// Issue 19: /metrics (how an attack campaign is going) was public.
/// With PASSCARD_METRICS_TOKEN it needs that Bearer token.
async fn the_metrics_token_guards_metrics(setup: Setup) {
    let app = setup
        .config(|c| c.metrics.token = Some(passcard::config::Secret(METRICS_TOKEN.into())))
        .start()
        .await;
    let none = app.get("/metrics").send().await;
    none.assert_problem(StatusCode::UNAUTHORIZED, "metrics-token-required");
    assert_eq!(
        none.header("www-authenticate"),
        r#"Bearer realm="passcard-metrics""#
    );
    assert!(!none.text.contains("passcard_"), "{}", none.text);
    for wrong in [
        format!("Bearer {METRICS_TOKEN}x"),
        "Bearer x".to_owned(),
        format!("Basic {METRICS_TOKEN}"),
    ] {
        let a = app
            .get("/metrics")
            .header("authorization", &wrong)
            .send()
            .await;
        a.assert_problem(StatusCode::UNAUTHORIZED, "invalid-metrics-token");
        assert!(!a.text.contains("passcard_"), "{wrong}: {}", a.text);
    }
    let ok = app.get("/metrics").bearer(METRICS_TOKEN).send().await;
    assert_eq!(ok.status, StatusCode::OK);
    assert!(ok.text.contains("passcard_logins_total"), "{}", ok.text);
    // A short token is refused at start.
    let mut short = app.state.config.clone();
    short.metrics.token = Some(passcard::config::Secret("short".into()));
    assert!(
        short
            .check()
            .unwrap_err()
            .to_string()
            .contains("PASSCARD_METRICS_TOKEN")
    );
}

async fn health_metrics_and_openapi(setup: Setup) {
    let app = setup.start().await;
    let h = app.get("/healthz").send().await;
    assert_eq!(h.body["status"], "ok", "{}", h.text);
    assert_eq!(h.body["revocation_lag_ms"], 0);
    assert_eq!(h.body["revocation_last_event"], 0);

    let m = app.get("/metrics").send().await;
    for name in [
        "passcard_http_requests_total",
        "passcard_token_verification_failures_total",
        "passcard_store_queries_total",
        "passcard_denylist_entries",
        "passcard_user_version_entries",
        "passcard_logins_total",
        "passcard_refreshes_total",
        "passcard_revocation_lag_seconds",
        "passcard_verify_cache_hits_total",
        "passcard_verify_cache_misses_total",
    ] {
        assert!(m.text.contains(name), "{name} missing:\n{}", m.text);
    }

    let spec = app.get("/openapi.json").send().await;
    assert_eq!(spec.status, StatusCode::OK);
    assert_eq!(spec.body["openapi"], "3.1.0");
    for (path, method) in [
        ("/v1/users", "post"),
        ("/v1/users", "get"),
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
        ("/.well-known/oauth-authorization-server", "get"),
        ("/.well-known/openid-configuration", "get"),
        ("/oauth/token", "post"),
        ("/oauth/introspect", "post"),
        ("/oauth/revoke", "post"),
        ("/", "get"),
        ("/assets/app.js", "get"),
        ("/assets/app.css", "get"),
        ("/assets/icon.svg", "get"),
    ] {
        assert!(
            spec.body["paths"][path][method].is_object(),
            "{method} {path} not documented"
        );
    }
}

/// The paths `router` serves, read from its `Debug` form: axum lists each
/// route's path there (`paths: {RouteId(0): "/v1/login", ...}`), and has
/// no other way to tell them. Its own fallback routes are left out.
fn served_paths(router: &axum::Router) -> BTreeSet<String> {
    let text = format!("{router:?}");
    let mut paths = BTreeSet::new();
    for section in text.split("paths: {").skip(1) {
        // Quoted strings up to the brace that closes the map (a path's
        // own braces are inside quotes).
        let mut rest = section;
        while let Some(at) = rest.find(['"', '}']) {
            if rest[at..].starts_with('}') {
                break;
            }
            let path = &rest[at + 1..];
            let end = path.find('"').unwrap();
            if !path[..end].contains("__private__axum") {
                paths.insert(path[..end].to_owned());
            }
            rest = &path[end + 1..];
        }
    }
    paths
}

/// The operation methods of OpenAPI, less HEAD (axum answers it for every
/// GET, and a document does not list it).
const METHODS: [Method; 7] = [
    Method::GET,
    Method::PUT,
    Method::POST,
    Method::DELETE,
    Method::OPTIONS,
    Method::PATCH,
    Method::TRACE,
];

/// Every route the router serves (path and method) is in the OpenAPI
/// document, and every operation of the document is served: the document
/// cannot drift from the code. A method is served unless the router
/// answers it with its 405.
async fn the_openapi_document_lists_every_route_and_only_those(setup: Setup) {
    let app = setup.start().await;
    let spec = app.get("/openapi.json").send().await.body;
    let documented: BTreeSet<(String, String)> = spec["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            let methods = item.as_object().unwrap().keys();
            methods
                .filter(|m| METHODS.iter().any(|k| k.as_str().eq_ignore_ascii_case(m)))
                .map(move |m| (m.to_uppercase(), path.clone()))
        })
        .collect();
    let paths = served_paths(&passcard::http::app(app.state.clone()));
    assert!(
        paths.contains("/openapi.json") && paths.contains("/v1/users/{id}/role"),
        "the router's Debug form no longer lists its paths: {paths:?}"
    );
    let mut served = BTreeSet::new();
    for path in &paths {
        let uri = path.replace("{id}", "1");
        assert!(!uri.contains('{'), "a path parameter to fill in: {path}");
        for method in METHODS {
            let a = app.call(method.clone(), &uri).send().await;
            let refused = a.status == StatusCode::METHOD_NOT_ALLOWED
                && a.body["type"] == "urn:passcard:problem:method-not-allowed";
            if !refused {
                served.insert((method.to_string(), path.clone()));
            }
        }
    }
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty() && unserved.is_empty(),
        "served but not in docs/openapi.json: {undocumented:?}\n\
         in docs/openapi.json but not served: {unserved:?}"
    );
}

async fn an_hmac_server_publishes_no_keys(setup: Setup) {
    let app = setup.start().await;
    let jwks = app.get("/.well-known/jwks.json").send().await;
    assert_eq!(jwks.body, json!({"keys": []}));
    assert_eq!(jwks.header("cache-control"), "public, max-age=300");
}

/// Writes `key`'s private JWK to `dir/key.json` (mode 0600).
pub(crate) fn key_file(dir: &std::path::Path, key: &SigningKey) -> std::path::PathBuf {
    let path = dir.join("key.json");
    std::fs::write(&path, serde_json::to_string(&key.to_private_jwk()).unwrap()).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    path
}

async fn an_eddsa_key_file_is_published_in_jwks(setup: Setup) {
    let dir = TempDir::new("jwks");
    let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let file = key_file(&dir, &key);
    let app = setup
        .config(move |c| c.keys.source = Some(passcard::config::KeySource::File(file)))
        .start()
        .await;
    let jwks = app.get("/.well-known/jwks.json").send().await;
    assert_eq!(jwks.body["keys"][0]["kid"], key.kid());
    assert!(jwks.body["keys"][0].get("d").is_none());
    app.seed("alice", "user").await;
    let access = app.login("alice").await.cred.token().to_owned();
    // Anyone with the JWKS can verify it.
    let keys =
        passcard_jwt::KeySet::from_jwks(&passcard_jwt::JwkSet::from_json(&jwks.text).unwrap())
            .unwrap();
    let policy = passcard_axum::access_policy("passcard", "passcard", std::time::Duration::ZERO);
    let claims = keys
        .verify::<passcard_axum::AccessClaims>(&access, &policy, app.clock.now())
        .unwrap()
        .claims;
    assert_eq!(claims.role, "user");
}
