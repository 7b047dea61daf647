//! Where a request carries its access token: the first step of the
//! verification pipeline. Today that is `Authorization: Bearer` (RFC 6750
//! section 2.1); other transports plug in here.

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;

use crate::rejection::Rejection;

/// The longest header looked at: an 8 KiB token plus the scheme.
const MAX_HEADER: usize = 8 * 1024 + 16;

/// How a credential reached the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Transport {
    /// `Authorization: Bearer <token>`.
    Bearer,
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
/// `Authorization` headers, another scheme, an oversized value).
pub fn credential(headers: &HeaderMap) -> Result<Option<Credential<'_>>, Rejection> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    match (values.next(), values.next()) {
        (None, _) => Ok(None),
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
        assert!(credential(&h).unwrap().is_none());
        h.append(AUTHORIZATION, HeaderValue::from_static("Bearer t"));
        let c = credential(&h).unwrap().unwrap();
        assert_eq!((c.token, c.transport), ("t", Transport::Bearer));
        h.append(AUTHORIZATION, HeaderValue::from_static("Bearer u"));
        assert!(matches!(credential(&h), Err(Rejection::Malformed)));
        let mut basic = HeaderMap::new();
        basic.insert(AUTHORIZATION, HeaderValue::from_static("Basic YTpi"));
        assert!(matches!(credential(&basic), Err(Rejection::Malformed)));
    }
}
