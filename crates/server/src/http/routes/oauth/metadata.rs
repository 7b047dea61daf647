//! Server metadata (RFC 8414), and the subset of OpenID Connect
//! Discovery that applies (no ID tokens are promised).
//!
//! The URLs in it are built on where passcard says it lives
//! ([`Config::public_base`](crate::config::Config::public_base):
//! `PASSCARD_PUBLIC_URL`, or an issuer that is an origin), never on the
//! request's `Host`: a document built from `Host` would name whatever
//! host and scheme the request came with (`http://…` behind a proxy that
//! ends TLS), and resource servers and caches keep it. Without either
//! setting the documents are not served (404), and the server says so at
//! start.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{INTROSPECT_PATH, REVOKE_PATH, TOKEN_PATH};
use crate::config::Mode;
use crate::http::error::ApiError;
use crate::http::state::AppState;

/// `GET /.well-known/oauth-authorization-server` (RFC 8414) and
/// `GET /.well-known/openid-configuration`: what this server offers and
/// where.
pub(in crate::http::routes) async fn metadata(
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    let config = &state.config;
    let Some(base) = config.public_base() else {
        return Err(ApiError::NotFound);
    };
    let mut m = json!({
        "issuer": config.tokens.issuer,
        "jwks_uri": format!("{base}/.well-known/jwks.json"),
        // No authorization endpoint: nothing is granted through a browser
        // redirect, so no response type is supported.
        "response_types_supported": [],
        "subject_types_supported": ["public"],
        "claims_supported": ["iss", "aud", "sub", "role", "iat", "exp", "jti", "ver", "sid"],
        "access_token_signing_alg_values_supported": signing_algorithms(&state),
        "service_documentation": format!("{base}/openapi.json"),
    });
    if config.mode == Mode::Token {
        let mut grants = vec!["refresh_token"];
        if config.accounts.password_grant {
            grants.push("password");
        }
        m["token_endpoint"] = json!(format!("{base}{TOKEN_PATH}"));
        m["grant_types_supported"] = json!(grants);
        m["token_endpoint_auth_methods_supported"] = json!(["none"]);
        m["revocation_endpoint"] = json!(format!("{base}{REVOKE_PATH}"));
        m["revocation_endpoint_auth_methods_supported"] = json!(["none"]);
    }
    if config.services.token.is_some() {
        m["introspection_endpoint"] = json!(format!("{base}{INTROSPECT_PATH}"));
        m["introspection_endpoint_auth_methods_supported"] =
            json!(["client_secret_basic", "client_secret_post"]);
    }
    let mut r = axum::Json(m).into_response();
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    Ok(r)
}

/// The algorithms of the keys tokens may be signed with.
fn signing_algorithms(state: &AppState) -> Vec<String> {
    let mut algs: Vec<String> = state
        .auth
        .verifying_keys()
        .iter()
        .map(|k| k.algorithm().to_string())
        .collect();
    algs.sort();
    algs.dedup();
    algs
}
