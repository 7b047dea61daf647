//! `Authorization: Bearer <token>` (RFC 6750 section 2.1).

/// The longest header looked at: an 8 KiB token plus the scheme.
const MAX_HEADER: usize = 8 * 1024 + 16;

/// The token of an `Authorization` header value `Bearer <token>`:
/// case-insensitive scheme, one space, at most 8 KiB. The token's
/// characters are left to the verifier (canonical base64url only).
pub fn token(value: &[u8]) -> Option<&str> {
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
    #[test]
    fn parses_the_scheme_case_insensitively() {
        assert_eq!(super::token(b"Bearer a.b.c"), Some("a.b.c"));
        assert_eq!(super::token(b"bEaReR a.b.c"), Some("a.b.c"));
        assert_eq!(super::token(b"Basic abc"), None);
        assert_eq!(super::token(b"Bearer "), None);
        assert_eq!(super::token(&[b'x'; 9000]), None);
    }
}
