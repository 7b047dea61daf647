//! Settings as an operator (or a token, for dates) writes them: durations
//! (`PASSCARD_ACCESS_TTL=15m`), points in time (`--expires`, and the dates
//! `token inspect` prints from a token's claims), the site origin
//! (`PASSCARD_PUBLIC_URL`), and database and Redis URLs as they are logged
//! (`redact_url`).
//!
//! Beyond not panicking:
//! * a parsed duration prints as text that parses back to it;
//! * a Unix time up to the year 9999 prints as a date that parses back to
//!   it, and a later one as its seconds, said to be out of range;
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
        dates_round_trip(t.as_secs(), text);
    }
    // A date for any number a token's claims can hold.
    if let Ok(secs) = text.trim().parse::<u64>() {
        dates_round_trip(secs, text);
    }
}

/// The last second RFC 3339 can write, 9999-12-31T23:59:59Z (the oracle's
/// own figure).
const LAST_DATE: u64 = 253_402_300_799;

/// Up to the year 9999 a date prints as text that parses back to it,
/// always; past it, as the seconds, said to be out of range.
fn dates_round_trip(secs: u64, text: &str) {
    let shown = date(secs);
    if secs <= LAST_DATE {
        let back = parse_time(&shown).unwrap_or_else(|e| {
            panic!("{text:?} ({secs}) prints as {shown:?}, which does not parse back: {e}")
        });
        assert_eq!(back.as_secs(), secs, "{secs} prints as {shown:?}");
    } else {
        assert_eq!(shown, format!("{secs} (out of range)"));
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

/// The rule, written out again here as the oracle's own: a query parameter
/// can carry a secret when its name, read as a URL parser reads it
/// (percent-decoded, `+` a space), holds one of these words, in any case.
/// `redact_url` must hide the value of each such parameter.
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

/// The text as written, without tabs and line breaks (which a URL parser
/// leaves out).
fn as_written(text: &str) -> String {
    text.replace(['\t', '\n', '\r'], "")
}

/// The text as a query's reader decodes it: `+` a space, `%XX` a byte
/// (invalid UTF-8 replaced), tabs and line breaks gone.
fn decoded(text: &str) -> String {
    percent_encoding::percent_decode_str(&as_written(text).replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// Whether `secret` is gone from `shown`, both read with `read`: only asked
/// where it occurs once in the URL so read (so that it is not also the
/// host, a user name or another parameter's text). The mask itself does not
/// count (`:**` is in `app:***@db`): it is read as a character the secret
/// does not hold.
fn hidden(url: &str, shown: &str, secret: &str, read: fn(&str) -> String) -> bool {
    let Some(mask) = ['\u{7f}', '\u{fffd}', '\u{10ffff}']
        .into_iter()
        .find(|c| !secret.contains(*c))
    else {
        return true;
    };
    secret.len() < 3
        || secret.contains("***")
        || read(url).matches(secret).count() != 1
        || !read(&shown.replace("***", &mask.to_string())).contains(secret)
}

fn urls(text: &str) {
    let shown = redact_url(text);
    // What a URL parser reads as the password.
    if let Ok(url) = url::Url::parse(text) {
        // The parser's password is percent-encoded where the input was
        // not: compared decoded, as the drivers use it.
        if let Some(password) = url.password() {
            assert!(
                hidden(text, &shown, &decoded(password), decoded),
                "{text:?} shows its password: {shown:?}"
            );
        }
        // Each parameter as the URL parser reads its query (what the
        // drivers read): a secret one's value, decoded, must not be in
        // what is shown, decoded alike.
        for (key, value) in url.query_pairs() {
            if secret_key(&key) {
                assert!(
                    hidden(text, &shown, &value, decoded),
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
                    hidden(text, &shown, password, as_written),
                    "{text:?} shows its password: {shown:?}"
                );
            }
        }
    }
}
