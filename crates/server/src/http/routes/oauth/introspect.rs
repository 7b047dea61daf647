//! Introspection (RFC 7662) for services, and revocation (RFC 7009) for
//! whoever holds the token.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::json;

use super::{ApiOrOAuth, Form, OAuthError, no_store};
use crate::config::Mode;
use crate::domain::Error;
use crate::http::error::ApiError;
use crate::http::state::AppState;

/// `POST /oauth/introspect` (RFC 7662), for services holding the service
/// credential: `{"active": true, …}` for a live access or refresh token,
/// exactly `{"active": false}` for anything else. An access token is
/// checked in memory, as on every request.
pub(in crate::http::routes) async fn introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiOrOAuth> {
    let Some(expected) = &state.config.services.token else {
        return Err(ApiOrOAuth::Api(ApiError::NotFound));
    };
    let form = Form::read(&headers, body)?;
    check_service(&state, expected.0.as_bytes(), &headers, &form)?;
    let token = form.require("token")?;
    let answer = if token.contains('.') {
        match state.verifier.verify(token).await {
            Ok(c) => json!({
                "active": true,
                "token_type": "Bearer",
                "sub": c.sub.to_string(),
                "role": c.role,
                "iss": c.iss,
                "aud": c.aud,
                "iat": c.iat,
                "exp": c.exp,
                "jti": c.jti,
                "sid": c.sid.to_string(),
            }),
            Err(_) => json!({ "active": false }),
        }
    } else {
        match state.auth.refresh_info(token).await {
            Ok(Some(info)) => json!({
                "active": true,
                "sub": info.user.id.to_string(),
                "role": info.user.role,
                "iss": state.config.tokens.issuer,
                "exp": info.expires_at,
                "sid": info.family_id.to_string(),
            }),
            Ok(None) => json!({ "active": false }),
            Err(e) => return Err(OAuthError::from_domain(&e).into()),
        }
    };
    let mut r = axum::Json(answer).into_response();
    no_store(r.headers_mut());
    Ok(r)
}

/// The service credential, as `Authorization: Bearer <token>`, HTTP Basic
/// with the service client id (RFC 6749 section 2.3.1), or `client_id` and
/// `client_secret` in the form.
fn check_service(
    state: &AppState,
    expected: &[u8],
    headers: &HeaderMap,
    form: &Form,
) -> Result<(), OAuthError> {
    let same = |presented: &[u8]| {
        aws_lc_rs::constant_time::verify_slices_are_equal(presented, expected).is_ok()
    };
    let client_id = state.config.services.client_id.as_str();
    let refused = |challenge: &'static str| OAuthError {
        challenge: Some(challenge),
        ..OAuthError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "introspection needs the service credential",
        )
    };
    let basic = r#"Basic realm="passcard-service""#;
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value.as_bytes();
        if let Some(token) = passcard_axum::bearer_token(value) {
            return if same(token.as_bytes()) {
                Ok(())
            } else {
                Err(refused(
                    r#"Bearer realm="passcard-service", error="invalid_token""#,
                ))
            };
        }
        let ok = value.len() > 6
            && value[..6].eq_ignore_ascii_case(b"basic ")
            && basic_credentials(&value[6..])
                .is_some_and(|(id, secret)| id == client_id && same(secret.as_bytes()));
        return if ok { Ok(()) } else { Err(refused(basic)) };
    }
    match (form.get("client_id"), form.get("client_secret")) {
        (Some(id), Some(secret)) if id == client_id && same(secret.as_bytes()) => Ok(()),
        _ => Err(refused(basic)),
    }
}

/// The client id and secret of an HTTP Basic value: base64 of
/// `id:secret`, each form-urlencoded (RFC 6749 section 2.3.1).
fn basic_credentials(encoded: &[u8]) -> Option<(String, String)> {
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim_ascii())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    let unescape = |s: &str| -> String {
        form_urlencoded::parse(format!("v={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some((unescape(id), unescape(secret)))
}

/// `POST /oauth/revoke` (RFC 7009): possession is the authorisation. An
/// access token is denylisted until it expires; a refresh token ends its
/// login (its family). Unknown, invalid or already revoked tokens get 200
/// too; only a server in session mode, which issues no tokens, answers
/// `unsupported_token_type`.
pub(in crate::http::routes) async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, OAuthError> {
    let form = Form::read(&headers, body)?;
    let token = form.require("token")?;
    if state.config.mode != Mode::Token {
        return Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_token_type",
            "this server runs in session mode and issues no tokens",
        ));
    }
    let result = if token.contains('.') {
        match state.verifier.verify(token).await {
            Ok(claims) => state.auth.revoke_access_token(&claims).await,
            Err(passcard_axum::Rejection::Stale) => return Err(OAuthError::unavailable()),
            // Invalid, expired or already revoked: nothing to do.
            Err(_) => Ok(()),
        }
    } else {
        state.auth.revoke_refresh_token(token).await
    };
    result.map_err(|e| match e {
        Error::RateLimited { retry_after, .. } => OAuthError {
            retry_after: Some(retry_after.as_secs().max(1)),
            ..OAuthError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "temporarily_unavailable",
                "too many revocations for this login; retry later",
            )
        },
        e => OAuthError::from_domain(&e),
    })?;
    let mut r = StatusCode::OK.into_response();
    no_store(r.headers_mut());
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_base64_of_form_encoded_parts() {
        let enc = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        assert_eq!(
            basic_credentials(enc("svc:s%3Acret+x").as_bytes()),
            Some(("svc".to_owned(), "s:cret x".to_owned()))
        );
        assert_eq!(basic_credentials(enc("no-colon").as_bytes()), None);
        assert_eq!(basic_credentials(b"%%%"), None);
    }
}
