//! A request's headers (one `Name: value` per line, as on the wire) as the
//! verification pipeline reads them: the `Authorization: Bearer` header,
//! the cookies, and the same-site rule for cookie-authenticated requests.
//!
//! Beyond not panicking: `bearer_token` takes exactly the text after a
//! case-insensitive `Bearer `; `cookie` returns the one value of the named
//! cookie, trimmed and unquoted, and refuses one sent twice; `credential`
//! takes the one `Authorization` header, else the cookie; an unsafe
//! request passes the same-site rule only with the CSRF header or the
//! site's own `Origin` (without a configured one: the `Host`'s, over https
//! when cookies are Secure, loopback hosts aside).
#![no_main]

use axum::http::header::{AUTHORIZATION, COOKIE, HOST, ORIGIN};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method};
use libfuzzer_sys::fuzz_target;
use passcard_axum::csrf::{CSRF_HEADER, Site, SiteOrigin, same_site_proof};
use passcard_axum::{CookieError, Transport, bearer_token, cookie, credential};

const NAMES: [&str; 4] = [
    "__Host-passcard_access",
    "passcard_access",
    "__Host-passcard_session",
    "a",
];

fuzz_target!(|data: &[u8]| {
    let headers = parse(data);
    for value in headers.get_all(AUTHORIZATION) {
        check_bearer(value.as_bytes());
    }
    for name in NAMES {
        check_cookie(&headers, name);
        check_credential(&headers, Some(name));
    }
    check_credential(&headers, None);
    check_same_site(&headers);
});

/// Header lines: `Name: value`; lines that are not a header are skipped.
fn parse(data: &[u8]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in passcard_fuzz::header_lines(data) {
        if let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
        {
            headers.append(name, value);
        }
    }
    headers
}

fn check_bearer(value: &[u8]) {
    match bearer_token(value) {
        Some(token) => {
            assert!(value.len() >= 8 && value.len() <= 8 * 1024 + 16);
            assert!(value[..7].eq_ignore_ascii_case(b"bearer "));
            assert_eq!(token.as_bytes(), &value[7..]);
        }
        None => assert!(
            value.len() < 8
                || value.len() > 8 * 1024 + 16
                || !value[..7].eq_ignore_ascii_case(b"bearer ")
                || std::str::from_utf8(&value[7..]).is_err(),
            "a readable Bearer header refused: {value:?}"
        ),
    }
}

/// The cookie's values, in order, as RFC 6265 pairs: trimmed, unquoted.
fn pairs<'a>(headers: &'a HeaderMap, name: &str) -> Vec<&'a [u8]> {
    let mut found = Vec::new();
    for line in headers.get_all(COOKIE) {
        for pair in line.as_bytes().split(|&b| b == b';') {
            let Some(eq) = pair.iter().position(|&b| b == b'=') else {
                continue;
            };
            if pair[..eq].trim_ascii() == name.as_bytes() {
                let v = pair[eq + 1..].trim_ascii();
                let v = match v {
                    [b'"', inner @ .., b'"'] => inner,
                    v => v,
                };
                found.push(v);
            }
        }
    }
    found
}

fn check_cookie(headers: &HeaderMap, name: &str) {
    let found = pairs(headers, name);
    let readable = |v: &[u8]| v.len() <= 8 * 1024 && std::str::from_utf8(v).is_ok();
    match cookie(headers, name) {
        Ok(None) => assert!(found.is_empty(), "{name} missed"),
        Ok(Some(v)) => {
            assert_eq!(found, [v.as_bytes()], "{name}: not the one value");
            assert!(!v.contains(';'));
        }
        Err(CookieError::Duplicate) => {
            assert!(
                found.len() >= 2 && readable(found[0]),
                "{name}: not a duplicate"
            )
        }
        Err(CookieError::Unreadable) => assert!(
            found.first().is_some_and(|v| !readable(v)),
            "{name}: a readable value refused"
        ),
        Err(e) => panic!("unexpected error {e:?}"),
    }
}

fn check_credential(headers: &HeaderMap, name: Option<&str>) {
    let auth: Vec<_> = headers.get_all(AUTHORIZATION).iter().collect();
    match credential(headers, name) {
        Ok(Some(c)) => match c.transport {
            Transport::Bearer => {
                assert_eq!(auth.len(), 1);
                assert_eq!(bearer_token(auth[0].as_bytes()), Some(c.token));
            }
            Transport::Cookie => {
                assert!(auth.is_empty(), "the cookie won over Authorization");
                let name = name.expect("a cookie only where named");
                assert!(!c.token.is_empty());
                assert_eq!(cookie(headers, name), Ok(Some(c.token)));
            }
            other => panic!("unexpected transport {other:?}"),
        },
        Ok(None) => {
            assert!(auth.is_empty(), "an Authorization header ignored");
            if let Some(name) = name {
                assert!(matches!(cookie(headers, name), Ok(None | Some(""))));
            }
        }
        Err(_) => assert!(
            auth.len() > 1
                || auth
                    .first()
                    .is_some_and(|v| bearer_token(v.as_bytes()).is_none())
                || (auth.is_empty() && name.is_some_and(|n| cookie(headers, n).is_err())),
            "a readable credential refused"
        ),
    }
}

fn check_same_site(headers: &HeaderMap) {
    let origin: SiteOrigin = "https://auth.example.com".parse().expect("origin");
    let site = Site::Origin(origin.clone());
    let origins: Vec<_> = headers.get_all(ORIGIN).iter().collect();
    let has_csrf = headers.contains_key(CSRF_HEADER);
    for method in [Method::POST, Method::DELETE, Method::PUT, Method::PATCH] {
        if same_site_proof(&method, headers, &site) {
            assert!(
                has_csrf || (origins.len() == 1 && origins[0] == origin.as_str()),
                "an unsafe request passed without a proof"
            );
        }
        for https_only in [true, false] {
            if same_site_proof(&method, headers, &Site::RequestHost { https_only }) {
                assert!(
                    has_csrf
                        || (origins.len() == 1 && host_origin(headers, origins[0], https_only)),
                    "passed without a proof (https only: {https_only})"
                );
            }
        }
    }
    let original_unsafe = ["x-original-method", "x-forwarded-method"]
        .iter()
        .flat_map(|n| headers.get_all(*n))
        .any(|v| !matches!(v.as_bytes().trim_ascii(), b"GET" | b"HEAD" | b"OPTIONS"));
    if !original_unsafe {
        assert!(same_site_proof(&Method::GET, headers, &site));
    } else if same_site_proof(&Method::GET, headers, &site) {
        assert!(
            has_csrf || (origins.len() == 1 && origins[0] == origin.as_str()),
            "a proxy's unsafe method passed without a proof"
        );
    }
}

/// The oracle for a site without a configured origin: `Origin` is
/// `https://` + `Host`, or `http://` + `Host` where http is allowed (no
/// Secure cookies) or the host is loopback (`localhost`, a name under it,
/// a 127/8 address, `[::1]`).
fn host_origin(headers: &HeaderMap, origin: &HeaderValue, https_only: bool) -> bool {
    let (Some(host), Ok(origin)) = (
        headers.get(HOST).and_then(|h| h.to_str().ok()),
        origin.to_str(),
    ) else {
        return false;
    };
    let origin = origin.to_ascii_lowercase();
    let host = host.to_ascii_lowercase();
    if origin == format!("https://{host}") {
        return true;
    }
    if origin != format!("http://{host}") {
        return false;
    }
    if !https_only {
        return true;
    }
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host.as_str(), |(h, _)| h),
    };
    name == "localhost"
        || name.ends_with(".localhost")
        || name == "::1"
        || name.split('.').next() == Some("127") && name.parse::<std::net::Ipv4Addr>().is_ok()
}
