//! Settings as an operator (or a token, for dates) writes them: durations
//! (`PASSCARD_ACCESS_TTL=15m`), points in time (`--expires`, and the dates
//! `token inspect` prints from a token's claims), the site origin
//! (`PASSCARD_PUBLIC_URL`), and database and Redis URLs as they are logged
//! (`redact_url`).
//!
//! Beyond not panicking:
//! * a parsed duration prints as text that parses back to it;
//! * a Unix time prints as a date that parses back to it;
//! * a site origin is canonical: it parses back to itself, with no path,
//!   query or user;
//! * a redacted URL never shows the password a URL parser (the one the
//!   database and Redis drivers use) reads in it, nor the text between the
//!   user name's colon and the last `@`, nor the value of a query
//!   parameter that can carry a secret.
#![no_main]

use libfuzzer_sys::fuzz_target;
use passcard::config::{SiteOrigin, redact_url};
use passcard::human::{HumanDuration, date, parse_duration, parse_time};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    durations(text);
    times(text);
    origins(text);
    urls(text);
});

fn durations(text: &str) {
    let parsed = parse_duration(text);
    let Ok(d) = text.parse::<HumanDuration>() else {
        assert!(parsed.is_err());
        return;
    };
    assert_eq!(parsed.ok(), Some(d.0));
    let shown = d.to_string();
    assert_eq!(
        shown.parse::<HumanDuration>().ok(),
        Some(d),
        "{text:?} prints as {shown:?}, which reads otherwise"
    );
}

fn times(text: &str) {
    if let Ok(t) = parse_time(text) {
        let shown = date(t.as_secs());
        if let Ok(back) = parse_time(&shown) {
            assert_eq!(
                back, t,
                "{text:?} prints as {shown:?}, which reads otherwise"
            );
        }
    }
    // A date for any number a token's claims can hold.
    if let Ok(secs) = text.trim().parse::<u64>() {
        let shown = date(secs);
        if let Ok(back) = parse_time(&shown) {
            assert_eq!(back.as_secs(), secs, "{secs} prints as {shown:?}");
        }
    }
}

fn origins(text: &str) {
    let Ok(origin) = text.parse::<SiteOrigin>() else {
        return;
    };
    let s = origin.as_str();
    assert_eq!(
        s.parse::<SiteOrigin>().as_ref(),
        Ok(&origin),
        "{s:?} is not canonical"
    );
    let rest = s.split_once("://").map(|(_, r)| r).expect("a scheme");
    assert!(!rest.contains(['/', '?', '#', '@']) && !rest.contains(char::is_whitespace));
    assert_eq!(origin.is_https(), s.starts_with("https://"));
    assert!(origin.is_https() || s.starts_with("http://"));
}

/// A query parameter name that can carry a secret (as `redact_url` sees it).
fn secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [
        "pass",
        "pwd",
        "secret",
        "token",
        "key",
        "auth",
        "credential",
    ]
    .iter()
    .any(|w| key.contains(w))
}

/// Whether `secret` is gone from `shown`: only asked where it occurs once
/// in the URL (as read: without tabs and line breaks), so that it is not
/// also the host or a user name. The mask
/// itself does not count (`:**` is in `app:***@db`): it is read as a
/// character the secret does not hold.
fn hidden(url: &str, shown: &str, secret: &str) -> bool {
    let Some(mask) = ['\u{7f}', '\u{fffd}', '\u{10ffff}']
        .into_iter()
        .find(|c| !secret.contains(*c))
    else {
        return true;
    };
    secret.len() < 3
        || secret.contains("***")
        || url.replace(['\t', '\n', '\r'], "").matches(secret).count() != 1
        || !shown.replace("***", &mask.to_string()).contains(secret)
}

fn urls(text: &str) {
    let shown = redact_url(text);
    // What a URL parser reads as the password.
    if let Ok(url) = url::Url::parse(text) {
        if let Some(password) = url.password() {
            assert!(
                hidden(text, &shown, password),
                "{text:?} shows its password: {shown:?}"
            );
        }
        for (key, value) in url.query_pairs() {
            if secret_key(&key) {
                assert!(
                    hidden(text, &shown, &value),
                    "{text:?} shows {key}: {shown:?}"
                );
            }
        }
    }
    // What an operator wrote as the password, URL or not:
    // `scheme://user:PASSWORD@host…`, up to the last `@`.
    if let Some((_, rest)) = text.split_once("://") {
        if let Some(at) = rest.rfind('@') {
            if let Some((_, password)) = rest[..at].split_once(':') {
                assert!(
                    hidden(text, &shown, password),
                    "{text:?} shows its password: {shown:?}"
                );
            }
        }
    }
}
