//! The cookies passcard sets, and the rule for unsafe requests they
//! authenticate.
//!
//! * Token mode, a login with `"transport": "cookie"`: the access token in
//!   `__Host-passcard_access` (HttpOnly, SameSite=Lax, Path=/, Max-Age = the
//!   access lifetime) and the refresh token in `__Host-passcard_refresh`
//!   (HttpOnly, SameSite=Strict, Path=/).
//! * Session mode: the session id in `__Host-passcard_session` (HttpOnly,
//!   SameSite=Lax, Path=/).
//! * Every successful login, in either mode: the client's device
//!   credential in `__Host-passcard_device` (HttpOnly, SameSite=Strict,
//!   Path=/, a year), which makes later logins from this browser count on
//!   a limit of their own rather than the username's.
//!
//! All are `Secure` unless `PASSCARD_COOKIE_SECURE=false`, which also drops
//! the name prefixes (browsers refuse them on cookies that are not Secure).
//! The `__Host-` prefix is what keeps a sibling subdomain out: a browser
//! takes a `__Host-` cookie only from the host itself (Secure, Path=/, no
//! Domain), so `evil.example.com` cannot plant one for `auth.example.com`.
//! With `__Secure-` (which allows `Domain=example.com`) a planted refresh
//! cookie, alone in a browser that has none, would sign its victim into
//! the attacker's account; that is also why the refresh cookie is not
//! scoped to `Path=/v1/refresh` (`__Host-` requires `Path=/`).
//! An unsafe request that a cookie authenticates needs a same-site proof:
//! one rule, [`passcard_axum::csrf`], for every cookie.

use axum::http::{HeaderMap, HeaderValue, Method, header};
use passcard_axum::Rejection;
use passcard_axum::csrf::Site;

use super::error::ApiError;
use crate::config::HttpSettings;

/// The access cookie's name.
pub(crate) fn access_name(http: &HttpSettings) -> &'static str {
    if http.cookie_secure {
        "__Host-passcard_access"
    } else {
        "passcard_access"
    }
}

/// The refresh cookie's name.
pub(crate) fn refresh_name(http: &HttpSettings) -> &'static str {
    if http.cookie_secure {
        "__Host-passcard_refresh"
    } else {
        "passcard_refresh"
    }
}

/// The session cookie's name.
pub(crate) fn session_name(http: &HttpSettings) -> &'static str {
    if http.cookie_secure {
        "__Host-passcard_session"
    } else {
        "passcard_session"
    }
}

/// The cookie `name` of a request; one sent twice is unreadable.
pub(crate) fn read<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ApiError> {
    passcard_axum::cookie(headers, name).map_err(|_| Rejection::Malformed.into())
}

/// Refuses an unsafe request authenticated by a cookie without a
/// same-site proof (the `X-Passcard-CSRF` header, or the site's `Origin`).
pub(crate) fn check_same_site(
    method: &Method,
    headers: &HeaderMap,
    http: &HttpSettings,
) -> Result<(), ApiError> {
    if passcard_axum::csrf::same_site_proof(method, headers, &site(http)) {
        Ok(())
    } else {
        Err(Rejection::CrossSite.into())
    }
}

/// The device cookie's name.
pub(crate) fn device_name(http: &HttpSettings) -> &'static str {
    if http.cookie_secure {
        "__Host-passcard_device"
    } else {
        "passcard_device"
    }
}

/// Which origin unsafe cookie-authenticated requests may come from: the
/// public URL, else the request's host (over https when cookies are
/// Secure, loopback hosts aside).
pub(crate) fn site(http: &HttpSettings) -> Site {
    Site::new(http.public_url.clone(), http.cookie_secure)
}

/// Appends one `Set-Cookie`.
fn set_cookie(
    headers: &mut HeaderMap,
    http: &HttpSettings,
    name: &str,
    value: &str,
    path: &str,
    same_site: &str,
    max_age: u64,
) {
    let secure = if http.cookie_secure { "; Secure" } else { "" };
    match HeaderValue::from_str(&format!(
        "{name}={value}; HttpOnly; SameSite={same_site}; Path={path}; Max-Age={max_age}{secure}"
    )) {
        Ok(v) => {
            headers.append(header::SET_COOKIE, v);
        }
        // Values are base64url or JWS text, never anything else.
        Err(_) => tracing::error!(cookie = name, "a cookie value is not header text; not set"),
    }
}

/// Sets the access and refresh cookies of a token pair.
pub(crate) fn set_tokens(
    headers: &mut HeaderMap,
    http: &HttpSettings,
    access: &str,
    access_ttl: u64,
    refresh: &str,
    refresh_ttl: u64,
) {
    let (a, r) = (access_name(http), refresh_name(http));
    set_cookie(headers, http, a, access, "/", "Lax", access_ttl);
    set_cookie(headers, http, r, refresh, "/", "Strict", refresh_ttl);
}

/// Removes the access and refresh cookies.
pub(crate) fn clear_tokens(headers: &mut HeaderMap, http: &HttpSettings) {
    set_cookie(headers, http, access_name(http), "", "/", "Lax", 0);
    set_cookie(headers, http, refresh_name(http), "", "/", "Strict", 0);
}

/// Sets the session cookie.
pub(crate) fn set_session(headers: &mut HeaderMap, http: &HttpSettings, id: &str, ttl: u64) {
    set_cookie(headers, http, session_name(http), id, "/", "Lax", ttl);
}

/// Sets the device cookie: the client signed in to this account before
/// (see [`crate::domain`]'s device credentials). Strict: only the site's
/// own login sends it.
pub(crate) fn set_device(headers: &mut HeaderMap, http: &HttpSettings, credential: &str) {
    let ttl = crate::domain::DEVICE_TTL.as_secs();
    set_cookie(
        headers,
        http,
        device_name(http),
        credential,
        "/",
        "Strict",
        ttl,
    );
}

/// Removes the session cookie.
pub(crate) fn clear_session(headers: &mut HeaderMap, http: &HttpSettings) {
    set_cookie(headers, http, session_name(http), "", "/", "Lax", 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cookies(h: &HeaderMap) -> Vec<&str> {
        h.get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect()
    }

    #[test]
    fn secure_cookies_are_host_only() {
        let http = HttpSettings::default();
        assert!(http.cookie_secure, "Secure is the default");
        let mut h = HeaderMap::new();
        set_tokens(&mut h, &http, "a.b.c", 300, "r", 1000);
        set_session(&mut h, &http, "s", 60);
        assert_eq!(
            cookies(&h),
            [
                "__Host-passcard_access=a.b.c; HttpOnly; SameSite=Lax; Path=/; Max-Age=300; Secure",
                "__Host-passcard_refresh=r; HttpOnly; SameSite=Strict; Path=/; Max-Age=1000; Secure",
                "__Host-passcard_session=s; HttpOnly; SameSite=Lax; Path=/; Max-Age=60; Secure",
            ]
        );
        let mut h = HeaderMap::new();
        clear_tokens(&mut h, &http);
        assert!(cookies(&h).iter().all(|c| c.contains("Max-Age=0;")));
    }

    #[test]
    fn without_secure_the_names_lose_their_prefix() {
        let http = HttpSettings {
            cookie_secure: false,
            ..HttpSettings::default()
        };
        let mut h = HeaderMap::new();
        set_tokens(&mut h, &http, "a.b.c", 300, "r", 1000);
        set_session(&mut h, &http, "s", 60);
        assert_eq!(
            cookies(&h),
            [
                "passcard_access=a.b.c; HttpOnly; SameSite=Lax; Path=/; Max-Age=300",
                "passcard_refresh=r; HttpOnly; SameSite=Strict; Path=/; Max-Age=1000",
                "passcard_session=s; HttpOnly; SameSite=Lax; Path=/; Max-Age=60",
            ]
        );
    }
}
