//! The session cookie (session mode): `passcard_session` (HttpOnly,
//! SameSite=Lax, Path=/, Secure when configured), and the CSRF rule for
//! unsafe requests it authenticates.

use axum::http::HeaderValue;
use axum::http::header::{COOKIE, HOST, ORIGIN};
use axum::http::request::Parts;

use super::error::ApiError;
use crate::config::SessionSettings;

/// The cookie's name.
pub(crate) const COOKIE_NAME: &str = "passcard_session";
/// A request header that marks a cookie-authenticated request as not
/// cross-site (browsers cannot add it cross-origin without CORS).
pub(crate) const CSRF_HEADER: &str = "x-passcard-csrf";

/// The session id in the request's cookies, if one is there.
pub(crate) fn session_id(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value)
}

/// Headers in which a reverse proxy asking `/v1/verify` (nginx
/// `auth_request`, Traefik `forwardAuth`) names the method of the request
/// it is deciding about.
const ORIGINAL_METHOD: [&str; 2] = ["x-original-method", "x-forwarded-method"];

fn is_safe(method: &[u8]) -> bool {
    matches!(method, b"GET" | b"HEAD" | b"OPTIONS")
}

/// Refuses cross-site unsafe requests authenticated by cookie: they need
/// the [`CSRF_HEADER`], or an `Origin` naming this very host. A request is
/// unsafe when its method is, or when a proxy says the request it asks
/// about is (`X-Original-Method`, `X-Forwarded-Method`): those headers can
/// only make the rule stricter, never lift it.
pub(crate) fn check_csrf(parts: &Parts) -> Result<(), ApiError> {
    let original_unsafe = ORIGINAL_METHOD
        .iter()
        .flat_map(|name| parts.headers.get_all(*name))
        .any(|v| !is_safe(v.as_bytes().trim_ascii()));
    if is_safe(parts.method.as_str().as_bytes()) && !original_unsafe {
        return Ok(());
    }
    if parts.headers.contains_key(CSRF_HEADER) {
        return Ok(());
    }
    let host = parts.headers.get(HOST).and_then(|h| h.to_str().ok());
    let origin = parts.headers.get(ORIGIN).and_then(|o| o.to_str().ok());
    let same = match (origin, host) {
        (Some(origin), Some(host)) => origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"))
            .is_some_and(|o| o.eq_ignore_ascii_case(host)),
        _ => false,
    };
    if same {
        Ok(())
    } else {
        Err(ApiError::CrossSite)
    }
}

/// The `Set-Cookie` value carrying a new session id.
pub(crate) fn set_cookie(settings: &SessionSettings, id: &str) -> Option<HeaderValue> {
    let secure = if settings.cookie_secure {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{COOKIE_NAME}={id}; HttpOnly; SameSite=Lax; Path=/; Max-Age={}{secure}",
        settings.ttl.as_secs()
    ))
    .ok()
}

/// The `Set-Cookie` value that removes the session cookie.
pub(crate) fn clear_cookie(settings: &SessionSettings) -> HeaderValue {
    if settings.cookie_secure {
        HeaderValue::from_static(
            "passcard_session=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0; Secure",
        )
    } else {
        HeaderValue::from_static("passcard_session=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0")
    }
}
