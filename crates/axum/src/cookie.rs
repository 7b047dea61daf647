//! Reading one cookie of a request (RFC 6265 section 5.4: `Cookie:
//! name=value; name2=value2`, possibly over several header lines).

use axum::http::HeaderMap;
use axum::http::header::COOKIE;

/// The longest cookie value looked at: an 8 KiB token.
const MAX_VALUE: usize = 8 * 1024;

/// Why a cookie could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CookieError {
    /// The cookie is there more than once (set for two paths or domains,
    /// or planted beside the real one): which one is meant is unknown.
    #[error("the cookie is present more than once")]
    Duplicate,
    /// The value is over 8 KiB, or not text.
    #[error("the cookie's value cannot be read")]
    Unreadable,
}

/// The value of the cookie `name`: `Ok(None)` when the request has none,
/// an error when it has several or one that cannot be read. Quotes around
/// a value (allowed by RFC 6265) are removed.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, CookieError> {
    let mut found = None;
    for line in headers.get_all(COOKIE) {
        for pair in line.as_bytes().split(|&b| b == b';') {
            let Some(eq) = pair.iter().position(|&b| b == b'=') else {
                continue;
            };
            let (n, value) = (&pair[..eq], &pair[eq + 1..]);
            if n.trim_ascii() != name.as_bytes() {
                continue;
            }
            if found.is_some() {
                return Err(CookieError::Duplicate);
            }
            let value = value.trim_ascii();
            let value = value
                .strip_prefix(b"\"")
                .and_then(|v| v.strip_suffix(b"\""))
                .unwrap_or(value);
            if value.len() > MAX_VALUE {
                return Err(CookieError::Unreadable);
            }
            found = Some(std::str::from_utf8(value).map_err(|_| CookieError::Unreadable)?);
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(lines: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for l in lines {
            h.append(COOKIE, HeaderValue::from_str(l).unwrap());
        }
        h
    }

    #[test]
    fn finds_the_named_cookie_among_others_and_lines() {
        let h = headers(&["a=1; passcard_access=tok.en.x ; b=2", "c=3"]);
        assert_eq!(cookie(&h, "passcard_access"), Ok(Some("tok.en.x")));
        assert_eq!(cookie(&h, "c"), Ok(Some("3")));
        assert_eq!(cookie(&h, "missing"), Ok(None));
        // A name is matched whole, not as a prefix or suffix.
        assert_eq!(cookie(&h, "passcard"), Ok(None));
        assert_eq!(cookie(&headers(&["x=\"quoted\""]), "x"), Ok(Some("quoted")));
        assert_eq!(cookie(&HeaderMap::new(), "x"), Ok(None));
    }

    #[test]
    fn a_cookie_sent_twice_or_oversized_is_refused() {
        let twice = headers(&["t=1", "t=2"]);
        assert_eq!(cookie(&twice, "t"), Err(CookieError::Duplicate));
        let same_line = headers(&["t=1; t=1"]);
        assert_eq!(cookie(&same_line, "t"), Err(CookieError::Duplicate));
        let big = format!("t={}", "a".repeat(MAX_VALUE + 1));
        assert_eq!(cookie(&headers(&[&big]), "t"), Err(CookieError::Unreadable));
    }

    #[test]
    fn bytes_that_are_not_text_are_read_only_where_they_matter() {
        let mut h = HeaderMap::new();
        h.append(
            COOKIE,
            HeaderValue::from_bytes(b"t=\xff; v=\xfe\xff").unwrap(),
        );
        h.append(COOKIE, HeaderValue::from_static("u=1"));
        assert_eq!(cookie(&h, "u"), Ok(Some("1")));
        assert_eq!(cookie(&h, "t"), Err(CookieError::Unreadable));
        // And a duplicate cannot hide in such a line.
        h.append(COOKIE, HeaderValue::from_bytes(b"u=\xff").unwrap());
        assert_eq!(cookie(&h, "u"), Err(CookieError::Duplicate));
    }
}
