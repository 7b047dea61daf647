//! A resource server that trusts a passcard server: it verifies Bearer
//! tokens with the server's public keys (JWKS) and follows its revocation
//! feed, so logouts and role changes are enforced here too.
//!
//! ```sh
//! # the auth server, with an EdDSA key (HMAC keys are never published)
//! passcard keygen --alg EdDSA > key.json && chmod 600 key.json
//! PASSCARD_KEY_FILE=key.json PASSCARD_FEED_TOKEN=$(passcard keygen | cut -d= -f2) passcard serve
//! # this service, on port 3000
//! PASSCARD_URL=http://127.0.0.1:8080 PASSCARD_FEED_TOKEN=... \
//!   cargo run -p passcard-axum --example resource_server
//! curl -H "Authorization: Bearer $ACCESS_TOKEN" http://127.0.0.1:3000/hello
//! ```
#![allow(clippy::print_stdout, reason = "an example")]

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use passcard_axum::{
    Authenticated, PasscardClaims, PasscardLayer, RemoteJwks, RevocationFeed, Verifier,
};
use passcard_jwt::Validator;

async fn hello(Authenticated(claims): Authenticated<PasscardClaims>) -> String {
    format!("hello, user {} ({})\n", claims.sub, claims.role)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = std::env::var("PASSCARD_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let jwks = RemoteJwks::fetch(format!("{server}/.well-known/jwks.json")).await?;
    let policy = Validator::builder()
        .issuer("passcard")
        .audience("passcard")
        .typ("at+jwt")
        .require_sub()
        .require_jti()
        .build();
    let mut verifier = Verifier::new(jwks, policy);
    if let Ok(token) = std::env::var("PASSCARD_FEED_TOKEN") {
        let (view, _task) = RevocationFeed::spawn(
            server,
            token,
            Duration::from_secs(1),
            // The server's access TTL + leeway + margin (defaults: 5m + 30s + 60s).
            Duration::from_secs(390),
            Duration::from_secs(30),
        );
        verifier = verifier.with_revocations(view);
    }
    let app = Router::new()
        .route("/hello", get(hello))
        .layer(PasscardLayer::<PasscardClaims>::new(verifier));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("resource server on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
