//! A resource server that trusts a passcard server: it verifies Bearer
//! tokens with the server's public keys (JWKS) and follows its revocation
//! feed, so logouts and role changes are enforced here too.
//!
//! ```sh
//! # the auth server, with an EdDSA key (HMAC keys are never published)
//! passcard keygen --alg EdDSA > key.json && chmod 600 key.json
//! PASSCARD_KEY_FILE=key.json PASSCARD_SERVICE_TOKEN=$(passcard keygen | cut -d= -f2) passcard serve
//! # this service, on port 3000
//! PASSCARD_URL=http://127.0.0.1:8080 PASSCARD_SERVICE_TOKEN=... \
//!   cargo run -p passcard-axum --example resource_server
//! curl -H "Authorization: Bearer $ACCESS_TOKEN" http://127.0.0.1:3000/hello
//! ```
#![allow(clippy::print_stdout, reason = "an example")]

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use passcard_axum::{
    Authenticated, PasscardLayer, RemoteJwks, RevocationFeed, RevocationList, Verifier,
    access_policy,
};
use passcard_jwt::SystemClock;

async fn hello(claims: Authenticated) -> String {
    format!("hello, user {} ({})\n", claims.sub, claims.role)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = std::env::var("PASSCARD_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let jwks = RemoteJwks::fetch(format!("{server}/.well-known/jwks.json")).await?;
    // The server's issuer and audience (PASSCARD_ISSUER, PASSCARD_AUDIENCE)
    // and this service's allowance for clock skew.
    let policy = access_policy("passcard", "passcard", Duration::from_secs(30));
    let mut verifier = Verifier::new(jwks, policy.clone());
    if let Ok(token) = std::env::var("PASSCARD_SERVICE_TOKEN") {
        // Each event says until when it matters; the list keeps it that
        // long plus this verifier's leeway.
        let list = Arc::new(RevocationList::new(
            policy.leeway(),
            Arc::new(SystemClock::new()),
        ));
        let _follower = RevocationFeed::new(server, token).spawn(list.clone());
        verifier = verifier.with_revocations(list);
    }
    let app = Router::new()
        .route("/hello", get(hello))
        .layer(PasscardLayer::new(verifier));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("resource server on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
