//! passcard's OAuth documents and endpoints driven by software nobody here
//! wrote, over real sockets: Python's authlib and PyJWT, node's jose, and
//! passcard-axum's own discovery. Skipped (loudly) without them;
//! `.ci/run` installs them (`scripts/interop-setup.sh`).

use std::path::Path;
use std::process::Command;

use passcard::config::{KeySource, Secret};
use passcard_jwt::{Algorithm, SigningKey};
use passcard_testkit::{Kind, PASSWORD, Setup, TempDir, TestServer, env};
use serde_json::Value;

const SERVICE_TOKEN: &str = "service-token-0123456789abcdef0123456789";

/// A server whose issuer is its own URL (what discovery requires), with
/// an EdDSA key and the service credential.
async fn issuer_server(keys: &TempDir) -> (TestServer, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let issuer = format!("http://127.0.0.1:{port}");
    let key = crate::contract::key_file(keys, &SigningKey::generate(Algorithm::EdDSA).unwrap());
    let i = issuer.clone();
    let s = Setup::new(Kind::SqliteToken)
        .real_time()
        .config(move |c| {
            c.listen = ([127, 0, 0, 1], port).into();
            c.tokens.issuer = i;
            c.keys.source = Some(KeySource::File(key));
            c.services.token = Some(Secret(SERVICE_TOKEN.into()));
        })
        .server()
        .await
        .unwrap();
    (s, issuer)
}

fn run(cmd: &mut Command) -> Value {
    let out = cmd.output().expect("the interop client runs");
    assert!(
        out.status.success(),
        "{:?} failed:\n{}\n{}",
        cmd,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn script(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/interop")
        .join(name)
}

#[tokio::test]
async fn authlib_refreshes_introspects_and_revokes_and_pyjwt_verifies() {
    let Some(python) = env::python("the Python interop test") else {
        return;
    };
    let keys = TempDir::new("interop-keys");
    let (s, issuer) = issuer_server(&keys).await;
    s.seed("alice", "user").await;
    let (base, script) = (s.base.clone(), script("oauth_clients.py"));
    let seen = tokio::task::spawn_blocking(move || {
        run(Command::new(python).args([
            script.to_str().unwrap(),
            &base,
            &issuer,
            "passcard",
            "alice",
            PASSWORD,
            "passcard-service",
            SERVICE_TOKEN,
        ]))
    })
    .await
    .unwrap();
    assert_eq!(seen["refreshed"], true, "{seen}");
    assert_eq!(seen["pyjwt_alg"], "EdDSA", "{seen}");
    assert_eq!(seen["pyjwt_sub"], "1", "{seen}");
    assert_eq!(seen["pyjwt_tampered_refused"], true, "{seen}");
    assert_eq!(seen["introspected"], true, "{seen}");
    assert_eq!(
        seen["after_revocation"],
        serde_json::json!({"active": false})
    );
    assert_eq!(seen["refresh_after_revocation"], "invalid_grant", "{seen}");
}

#[tokio::test]
async fn node_jose_verifies_a_token_with_keys_found_through_discovery() {
    let Some((node, dir)) = env::node("the node jose interop test") else {
        return;
    };
    let keys = TempDir::new("interop-keys");
    let (s, issuer) = issuer_server(&keys).await;
    s.seed("alice", "user").await;
    let token = s.login("alice").await.cred.token().to_owned();
    // jose is found from the script's folder: run a copy there.
    let copy = dir.join("jose_verify.mjs");
    std::fs::copy(script("jose_verify.mjs"), &copy).unwrap();
    let seen = tokio::task::spawn_blocking(move || {
        run(Command::new(node).current_dir(&dir).args([
            copy.to_str().unwrap(),
            &issuer,
            "passcard",
            &token,
        ]))
    })
    .await
    .unwrap();
    assert_eq!(seen["sub"], "1", "{seen}");
    assert_eq!(seen["role"], "user", "{seen}");
    assert_eq!(seen["alg"], "EdDSA", "{seen}");
    assert_eq!(
        seen["tampered"], "ERR_JWS_SIGNATURE_VERIFICATION_FAILED",
        "{seen}"
    );
}

#[tokio::test]
async fn passcard_axum_finds_the_keys_from_the_issuer_and_checks_it() {
    let keys = TempDir::new("interop-keys");
    let (s, issuer) = issuer_server(&keys).await;
    s.seed("alice", "user").await;
    let token = s.login("alice").await.cred.token().to_owned();
    let found = passcard_axum::from_issuer(&issuer).await.unwrap();
    assert_eq!(found.metadata.issuer, issuer);
    assert_eq!(
        found.metadata.token_endpoint.as_deref(),
        Some(format!("{issuer}/oauth/token").as_str())
    );
    let verifier = found.verifier("passcard", std::time::Duration::from_secs(30));
    let claims = verifier.verify(&token).await.unwrap();
    assert_eq!(claims.sub, 1);
    // The same server asked for under another name: its metadata names
    // another issuer, which RFC 8414 section 3.3 says to refuse.
    let alias = issuer.replace("127.0.0.1", "localhost");
    match passcard_axum::from_issuer(&alias).await {
        Err(passcard_axum::DiscoveryError::IssuerMismatch { expected, found }) => {
            assert_eq!((expected, found), (alias, issuer));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        passcard_axum::from_issuer("passcard").await,
        Err(passcard_axum::DiscoveryError::BadIssuer(_))
    ));
}

/// Issue 19: metadata that sends a resource server for the keys to
/// another origin is refused unless the caller allows that origin.
#[tokio::test]
async fn passcard_axum_refuses_keys_on_another_origin_unless_allowed() {
    let keys = TempDir::new("interop-keys");
    let (s, keys_at) = issuer_server(&keys).await;
    // An issuer of its own whose metadata names the passcard server's
    // JWKS (another origin: another port).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let metadata = serde_json::json!({
        "issuer": issuer,
        "jwks_uri": format!("{keys_at}/.well-known/jwks.json"),
    });
    let app = axum::Router::new().route(
        "/.well-known/oauth-authorization-server",
        axum::routing::get(move || {
            let m = metadata.clone();
            async move { axum::Json(m) }
        }),
    );
    let served = tokio::spawn(async move { axum::serve(listener, app).await });
    match passcard_axum::from_issuer(&issuer).await {
        Err(passcard_axum::DiscoveryError::ForeignJwksUri {
            found,
            issuer_origin,
        }) => assert_eq!((found, issuer_origin), (keys_at.clone(), issuer.clone())),
        other => panic!("{other:?}"),
    }
    let found = passcard_axum::Discovery::new(issuer.as_str())
        .allow_jwks_origin(keys_at.as_str())
        .run()
        .await
        .unwrap();
    assert_eq!(
        found.metadata.jwks_uri,
        format!("{keys_at}/.well-known/jwks.json")
    );
    drop(s);
    served.abort();
}
