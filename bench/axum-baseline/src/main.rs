//! The opponents `scripts/bench-http.sh` loads beside passcard, in the same
//! run: what a Rust user would write instead. Depends on nothing of
//! passcard's.
//!
//! ```sh
//! axum-baseline bare 127.0.0.1:3001          # GET /hello: a static string (the ceiling)
//! BASELINE_SECRET=<base64url> axum-baseline jsonwebtoken 127.0.0.1:3002
//!                                             # GET /me: the jsonwebtoken 11 Bearer extractor, HS256
//! BASELINE_SECRET=<base64url> axum-baseline handwritten 127.0.0.1:3003
//!                                             # GET /me: ring HMAC + borrowed serde, by hand
//! ```
//!
//! Both token servers check what passcard checks of the signature and the
//! claims a handler reads (`iss` and `aud` = `passcard`, `exp`), and answer
//! `/me` with the same JSON as passcard's `/v1/me`.
#![allow(
    clippy::print_stdout,
    clippy::expect_used,
    clippy::disallowed_methods,
    reason = "a benchmark binary, written as a user would, without passcard's clock"
)]

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

/// The claims a handler reads, owned (as jsonwebtoken's `decode` gives).
#[derive(Deserialize)]
struct Claims {
    sub: String,
    role: String,
    iat: u64,
    exp: u64,
    jti: String,
}

/// The same, borrowed from the decoded payload.
#[derive(Deserialize)]
struct BorrowedClaims<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: &'a str,
    role: &'a str,
    iat: u64,
    exp: u64,
    jti: &'a str,
}

#[derive(Serialize)]
struct Me<'a> {
    sub: &'a str,
    role: &'a str,
    iat: u64,
    exp: u64,
    jti: &'a str,
}

struct Keys {
    decoding: jsonwebtoken::DecodingKey,
    validation: jsonwebtoken::Validation,
    hmac: ring::hmac::Key,
}

/// The usual extractor: `Authorization: Bearer`, then `jsonwebtoken::decode`.
struct Jwt(Claims);

impl FromRequestParts<Arc<Keys>> for Jwt {
    type Rejection = StatusCode;

    async fn from_request_parts(parts: &mut Parts, keys: &Arc<Keys>) -> Result<Self, StatusCode> {
        let token = bearer(parts).ok_or(StatusCode::UNAUTHORIZED)?;
        jsonwebtoken::decode::<Claims>(token, &keys.decoding, &keys.validation)
            .map(|d| Self(d.claims))
            .map_err(|_| StatusCode::UNAUTHORIZED)
    }
}

fn bearer(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

async fn me_jsonwebtoken(Jwt(c): Jwt) -> axum::Json<serde_json::Value> {
    axum::Json(
        serde_json::to_value(Me {
            sub: &c.sub,
            role: &c.role,
            iat: c.iat,
            exp: c.exp,
            jti: &c.jti,
        })
        .expect("serializable"),
    )
}

/// By hand: split, ring HMAC over the signing input, decode the payload,
/// borrowed serde, the same claim checks.
async fn me_handwritten(State(keys): State<Arc<Keys>>, parts: Parts) -> Result<String, StatusCode> {
    let token = bearer(&parts).ok_or(StatusCode::UNAUTHORIZED)?;
    let dot = token.rfind('.').ok_or(StatusCode::UNAUTHORIZED)?;
    let (input, sig) = (&token[..dot], &token[dot + 1..]);
    let sig = URL_SAFE_NO_PAD
        .decode(sig)
        .map_err(|_| StatusCode::UNAUTHORIZED)?;
    ring::hmac::verify(&keys.hmac, input.as_bytes(), &sig).map_err(|_| StatusCode::UNAUTHORIZED)?;
    let payload = input
        .split_once('.')
        .and_then(|(_, p)| URL_SAFE_NO_PAD.decode(p).ok())
        .ok_or(StatusCode::UNAUTHORIZED)?;
    let c: BorrowedClaims<'_> =
        serde_json::from_slice(&payload).map_err(|_| StatusCode::UNAUTHORIZED)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    if c.iss != "passcard" || c.aud != "passcard" || c.exp + 30 < now {
        return Err(StatusCode::UNAUTHORIZED);
    }
    serde_json::to_string(&Me {
        sub: c.sub,
        role: c.role,
        iat: c.iat,
        exp: c.exp,
        jti: c.jti,
    })
    .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args
        .next()
        .expect("mode: bare, jsonwebtoken or handwritten");
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:3001".to_owned());
    let app = if mode == "bare" {
        Router::new().route("/hello", get(|| async { "hello" }))
    } else {
        let secret = URL_SAFE_NO_PAD
            .decode(std::env::var("BASELINE_SECRET").expect("BASELINE_SECRET"))
            .expect("BASELINE_SECRET is base64url");
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.set_issuer(&["passcard"]);
        validation.set_audience(&["passcard"]);
        let keys = Arc::new(Keys {
            decoding: jsonwebtoken::DecodingKey::from_secret(&secret),
            validation,
            hmac: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &secret),
        });
        match mode.as_str() {
            "jsonwebtoken" => Router::new()
                .route("/me", get(me_jsonwebtoken))
                .with_state(keys),
            "handwritten" => Router::new()
                .route("/me", get(me_handwritten))
                .with_state(keys),
            other => panic!("unknown mode {other}"),
        }
    };
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    println!("{mode} on http://{}", listener.local_addr().expect("addr"));
    axum::serve(listener, app).await.expect("serve");
}
