//! Where a request carries its access token: the first step of the
//! verification pipeline. `Authorization: Bearer` (RFC 6750 section 2.1),
//! or a cookie where the verifier is told its name; the header wins when
//! both are there.

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;

use crate::cookie::cookie;
use crate::rejection::Rejection;

/// The longest header looked at: an 8 KiB token plus the scheme.
const MAX_HEADER: usize = 8 * 1024 + 16;

/// How a credential reached the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Transport {
    /// `Authorization: Bearer <token>`.
    Bearer,
    /// A cookie, which the browser sends by itself: unsafe requests need
    /// a same-site proof ([`crate::csrf`]).
    Cookie,
}

/// An access token as a request presents it, not yet verified.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct Credential<'a> {
    /// The token text (characters are left to the verifier).
    pub token: &'a str,
    /// Where it came from.
    pub transport: Transport,
}

/// The access token of a request: `Ok(None)` when it presents none, an
/// error when it presents one in a form that cannot be read (two
/// `Authorization` headers, another scheme, an oversized value, the cookie
/// twice). With `cookie_name`, a request without `Authorization` may carry
/// the token in that cookie.
pub fn credential<'a>(
    headers: &'a HeaderMap,
    cookie_name: Option<&str>,
) -> Result<Option<Credential<'a>>, Rejection> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    match (values.next(), values.next()) {
        (None, _) => match cookie_name {
            Some(name) => match cookie(headers, name) {
                Ok(Some(token)) if !token.is_empty() => Ok(Some(Credential {
                    token,
                    transport: Transport::Cookie,
                })),
                // An emptied cookie is no credential.
                Ok(_) => Ok(None),
                Err(_) => Err(Rejection::Malformed),
            },
            None => Ok(None),
        },
        (Some(_), Some(_)) => Err(Rejection::Malformed),
        (Some(value), None) => match bearer_token(value.as_bytes()) {
            Some(token) => Ok(Some(Credential {
                token,
                transport: Transport::Bearer,
            })),
            None => Err(Rejection::Malformed),
        },
    }
}

/// The token of an `Authorization` header value `Bearer <token>`:
/// case-insensitive scheme, one space, at most 8 KiB.
pub fn bearer_token(value: &[u8]) -> Option<&str> {
    if value.len() > MAX_HEADER || value.len() < 8 {
        return None;
    }
    let (scheme, token) = value.split_at(7);
    if !scheme.eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    std::str::from_utf8(token).ok()
}

#[cfg(test)]
mod tests {
    use axum::http::header::COOKIE;
    use axum::http::{HeaderMap, HeaderValue};

    use super::*;

    #[test]
    fn parses_the_scheme_case_insensitively() {
        assert_eq!(bearer_token(b"Bearer a.b.c"), Some("a.b.c"));
        assert_eq!(bearer_token(b"bEaReR a.b.c"), Some("a.b.c"));
        assert_eq!(bearer_token(b"Basic abc"), None);
        assert_eq!(bearer_token(b"Bearer "), None);
        assert_eq!(bearer_token(&[b'x'; 9000]), None);
    }

    #[test]
    fn one_readable_authorization_header_or_a_rejection() {
        let mut h = HeaderMap::new();
        assert!(credential(&h, None).unwrap().is_none());
        h.append(AUTHORIZATION, HeaderValue::from_static("Bearer t"));
        let c = credential(&h, None).unwrap().unwrap();
        assert_eq!((c.token, c.transport), ("t", Transport::Bearer));
        h.append(AUTHORIZATION, HeaderValue::from_static("Bearer u"));
        assert!(matches!(credential(&h, None), Err(Rejection::Malformed)));
        let mut basic = HeaderMap::new();
        basic.insert(AUTHORIZATION, HeaderValue::from_static("Basic YTpi"));
        assert!(matches!(
            credential(&basic, None),
            Err(Rejection::Malformed)
        ));
    }

    #[test]
    fn the_cookie_counts_only_where_named_and_the_header_wins() {
        let mut h = HeaderMap::new();
        h.insert(COOKIE, HeaderValue::from_static("other=1; at=c.o.okie"));
        assert!(credential(&h, None).unwrap().is_none());
        let c = credential(&h, Some("at")).unwrap().unwrap();
        assert_eq!((c.token, c.transport), ("c.o.okie", Transport::Cookie));
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer h.e.ader"));
        let c = credential(&h, Some("at")).unwrap().unwrap();
        assert_eq!((c.token, c.transport), ("h.e.ader", Transport::Bearer));
        let mut twice = HeaderMap::new();
        twice.insert(COOKIE, HeaderValue::from_static("at=a; at=b"));
        assert!(matches!(
            credential(&twice, Some("at")),
            Err(Rejection::Malformed)
        ));
        let mut emptied = HeaderMap::new();
        emptied.insert(COOKIE, HeaderValue::from_static("at="));
        assert!(credential(&emptied, Some("at")).unwrap().is_none());
    }
}
