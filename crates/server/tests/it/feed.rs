//! A resource server built with passcard-axum, trusting a real passcard
//! server through its JWKS and revocation feed, over real connections.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::get;
use passcard::config::{KeySource, Secret};
use passcard_axum::{
    Authenticated, PasscardLayer, RemoteJwks, RevocationFeed, RevocationList, Verifier,
    access_policy,
};
use passcard_jwt::{Algorithm, SigningKey};
use passcard_testkit::{Kind, Setup, TempDir, poll_until};

use crate::contract::FEED_TOKEN;

#[tokio::test]
async fn a_resource_server_with_passcard_axum_enforces_logout_and_role_changes() {
    let keys = TempDir::new("rs-keys");
    let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let key_file = crate::contract::key_file(&keys, &key);
    let s = Setup::new(Kind::SqliteToken)
        .config(move |c| {
            c.keys.source = Some(KeySource::File(key_file));
            c.services.token = Some(Secret(FEED_TOKEN.into()));
        })
        .server()
        .await
        .unwrap();

    let clock = s.clock.shared();
    let jwks = RemoteJwks::builder(s.url("/.well-known/jwks.json"))
        .clock(clock.clone())
        .fetch()
        .await
        .unwrap();
    let policy = access_policy("passcard", "passcard", Duration::from_secs(30));
    let list = Arc::new(RevocationList::new(policy.leeway(), clock.clone()));
    let feed = RevocationFeed::new(s.base.clone(), FEED_TOKEN)
        .interval(Duration::from_millis(50))
        .spawn(list.clone());
    let verifier = Verifier::new(jwks, policy)
        .with_clock(clock)
        .with_revocations(list.clone());
    let app = axum::Router::new()
        .route(
            "/hello",
            get(|claims: Authenticated| async move {
                format!("hello {} ({})", claims.sub, claims.role)
            }),
        )
        .layer(PasscardLayer::new(verifier));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let rs = format!("http://{}/hello", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let hello = |token: String| {
        let (client, rs) = (s.client.clone(), rs.clone());
        async move { client.get(rs).bearer_auth(token).send().await.unwrap() }
    };
    let refused = |token: String| async move {
        poll_until(Duration::from_secs(10), || async {
            hello(token.clone()).await.status() == StatusCode::UNAUTHORIZED
        })
        .await
        .is_some()
    };

    let id = s.seed("alice", "user").await;
    s.seed("root", "admin").await;
    let login = s.login("alice").await;
    let access = login.cred.token().to_owned();
    let r = hello(access.clone()).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.text().await.unwrap(), format!("hello {id} (user)"));

    // A second token of the same login, minted by a refresh.
    let sibling = s.refresh(login.refresh_token()).await.str("access_token");
    assert_eq!(hello(sibling.clone()).await.status(), StatusCode::OK);
    assert_eq!(s.logout(&login.cred).await.status, StatusCode::NO_CONTENT);
    assert!(
        refused(access).await,
        "the resource server never learned of the logout"
    );
    assert!(
        refused(sibling).await,
        "the login's other token still passes"
    );

    let login = s.login("alice").await;
    let root = s.login("root").await;
    assert_eq!(
        hello(login.cred.token().to_owned()).await.status(),
        StatusCode::OK
    );
    let r = s
        .put(&format!("/v1/users/{id}/role"))
        .auth(&root.cred)
        .json(&serde_json::json!({"role": "admin"}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        refused(login.cred.token().to_owned()).await,
        "the resource server never learned of the role change"
    );
    assert_eq!(list.denylist_len(), 1);
    assert_eq!(list.families_len(), 1);
    assert_eq!(list.versions_len(), 1);
    feed.abort();
}
