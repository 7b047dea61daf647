//! Strict base64url (RFC 4648 section 5) without padding, canonical only.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// Rejects `=` padding, whitespace, any byte outside the url-safe alphabet,
/// and non-zero trailing bits (so every value has exactly one encoding).
pub(crate) const STRICT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_allow_trailing_bits(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone),
);

/// Decoded length of `n` base64 characters, or `None` when no unpadded
/// encoding has that length.
pub(crate) const fn decoded_len(n: usize) -> Option<usize> {
    match n % 4 {
        0 => Some(n / 4 * 3),
        2 => Some(n / 4 * 3 + 1),
        3 => Some(n / 4 * 3 + 2),
        _ => None,
    }
}

/// Decodes into the front of `out`, returning the decoded bytes.
pub(crate) fn decode_into<'o>(input: &[u8], out: &'o mut [u8]) -> Option<&'o [u8]> {
    let len = decoded_len(input.len())?;
    let out = out.get_mut(..len)?;
    let written = STRICT.decode_slice(input, out).ok()?;
    Some(&out[..written])
}

/// Decodes into a new vector.
pub(crate) fn decode(input: &[u8]) -> Option<Vec<u8>> {
    STRICT.decode(input).ok()
}

/// Encodes without padding.
pub(crate) fn encode(input: &[u8]) -> String {
    STRICT.encode(input)
}

/// Appends the encoding of `input` to `out`.
pub(crate) fn encode_to(input: &[u8], out: &mut String) {
    STRICT.encode_string(input, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_padding_whitespace_and_noncanonical_bits() {
        assert_eq!(decode(b"YQ").as_deref(), Some(&b"a"[..]));
        assert!(decode(b"YQ==").is_none());
        assert!(decode(b"Y Q").is_none());
        assert!(decode(b"YQ\n").is_none());
        // "YR" decodes to 'a' with non-zero trailing bits.
        assert!(decode(b"YR").is_none());
        assert!(decode(b"Y").is_none());
        assert!(decode(b"a+b/").is_none());
    }

    #[test]
    fn decode_into_matches_decode() {
        let mut buf = [0u8; 16];
        for s in [&b""[..], b"YQ", b"YWI", b"YWJj", b"YWJjZA"] {
            assert_eq!(
                decode_into(s, &mut buf).map(<[u8]>::to_vec),
                decode(s),
                "{s:?}"
            );
        }
        assert!(decode_into(b"YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXo", &mut buf).is_none());
    }
}
