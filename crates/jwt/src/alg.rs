//! The algorithms passcard signs and verifies with.

use core::fmt;

/// A JWS algorithm that passcard implements (RFC 7518, RFC 8037).
///
/// Anything else, `none` included, does not exist here: parsing it gives
/// [`UnsupportedAlgorithm`] (and, inside a token, the crate's
/// `Error::UnsupportedAlgorithm`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// HMAC with SHA-256.
    HS256,
    /// HMAC with SHA-384.
    HS384,
    /// HMAC with SHA-512.
    HS512,
    /// Ed25519 signatures (RFC 8037).
    EdDSA,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
}

impl Algorithm {
    /// Every supported algorithm.
    pub const ALL: [Self; 6] = [
        Self::HS256,
        Self::HS384,
        Self::HS512,
        Self::EdDSA,
        Self::ES256,
        Self::RS256,
    ];

    /// The `alg` header value.
    pub const fn name(self) -> &'static str {
        match self {
            Self::HS256 => "HS256",
            Self::HS384 => "HS384",
            Self::HS512 => "HS512",
            Self::EdDSA => "EdDSA",
            Self::ES256 => "ES256",
            Self::RS256 => "RS256",
        }
    }

    /// Parses an `alg` value, exactly (JOSE names are case-sensitive).
    pub fn from_name(name: &str) -> Result<Self, UnsupportedAlgorithm> {
        Self::from_bytes(name.as_bytes())
    }

    pub(crate) fn from_bytes(name: &[u8]) -> Result<Self, UnsupportedAlgorithm> {
        Ok(match name {
            b"HS256" => Self::HS256,
            b"HS384" => Self::HS384,
            b"HS512" => Self::HS512,
            b"EdDSA" => Self::EdDSA,
            b"ES256" => Self::ES256,
            b"RS256" => Self::RS256,
            other => return Err(UnsupportedAlgorithm(printable(other))),
        })
    }

    /// Whether this is an HMAC (symmetric) algorithm.
    pub const fn is_symmetric(self) -> bool {
        matches!(self, Self::HS256 | Self::HS384 | Self::HS512)
    }

    /// The minimum secret length for an HMAC algorithm: its hash output size
    /// (RFC 7518 section 3.2). Zero for asymmetric algorithms.
    pub const fn min_secret_len(self) -> usize {
        match self {
            Self::HS256 => 32,
            Self::HS384 => 48,
            Self::HS512 => 64,
            _ => 0,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl core::str::FromStr for Algorithm {
    type Err = UnsupportedAlgorithm;
    fn from_str(s: &str) -> Result<Self, UnsupportedAlgorithm> {
        Self::from_name(s)
    }
}

/// An `alg` name passcard does not implement (`none` included). Holds a
/// short, escaped excerpt of the name, for messages.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unsupported algorithm \"{0}\"")]
pub struct UnsupportedAlgorithm(pub(crate) String);

/// A short, printable rendering of untrusted bytes for error messages:
/// at most 32 characters, control characters escaped.
pub(crate) fn printable(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(bytes);
    let mut out: String = s.chars().take(32).flat_map(char::escape_default).collect();
    if s.chars().count() > 32 {
        out.push('…');
    }
    out
}
