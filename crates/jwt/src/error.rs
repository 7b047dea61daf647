//! The one error type of passcard-jwt.

use crate::alg::{Algorithm, UnsupportedAlgorithm};
use crate::time::{NumericDate, UnixTime};

/// Why a token, a key or a JWK was refused.
///
/// Variants say exactly what failed, for logs and operators. Never send them
/// to a client as they are: an HTTP layer should answer every verification
/// failure the same way (RFC 6750 `invalid_token`), telling at most whether
/// the token expired ([`Error::is_expired`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The token is longer than the configured maximum; nothing was decoded.
    #[error("token is {len} bytes, over the {max}-byte limit")]
    TooLarge {
        /// Length of the token in bytes.
        len: usize,
        /// The configured limit.
        max: usize,
    },
    /// The token is not a well-formed JWS compact serialization of JSON
    /// objects (parts, base64url, UTF-8 or JSON syntax).
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// A JSON object in the header or the claims repeats a member name.
    #[error("malformed token: duplicate member \"{0}\"")]
    DuplicateMember(String),
    /// JSON nesting in the header or the claims goes deeper than allowed.
    #[error("malformed token: JSON nested deeper than {max} levels")]
    TooDeep {
        /// The configured limit.
        max: usize,
    },
    /// The `alg` is not one passcard implements (`none` included).
    #[error("unsupported algorithm \"{0}\"")]
    UnsupportedAlgorithm(String),
    /// The token names a `kid` that the key set does not hold.
    #[error("unknown key id \"{0}\"")]
    UnknownKid(String),
    /// The token has no `kid` and the key set holds more than one key.
    #[error("token has no kid and the key set holds {keys} keys")]
    MissingKid {
        /// How many keys the set holds.
        keys: usize,
    },
    /// The key set is empty.
    #[error("no verification key configured")]
    NoKeys,
    /// The token's `alg` differs from the algorithm its key is bound to.
    #[error("algorithm mismatch: token says {token}, key is {key}")]
    AlgorithmMismatch {
        /// The `alg` in the token header.
        token: Algorithm,
        /// The algorithm of the selected key.
        key: Algorithm,
    },
    /// The header carries a member only a JWE defines (`enc`, `zip`):
    /// the token is encrypted, or dressed to confuse (RFC 7516 section 9).
    #[error("a JWS header must not carry \"{0}\", which only a JWE has")]
    JweHeader(&'static str),
    /// The header lists a critical extension passcard does not understand.
    #[error("unsupported critical header parameter \"{0}\"")]
    UnsupportedCritical(String),
    /// The header asks for an unencoded payload (`b64: false`, RFC 7797).
    #[error("unencoded payloads (b64: false) are not supported")]
    UnencodedPayload,
    /// The signature does not verify with the selected key.
    #[error("bad signature")]
    BadSignature,
    /// A claim or header parameter has the wrong JSON type or an invalid value.
    #[error("invalid \"{name}\": {reason}")]
    InvalidClaim {
        /// The claim or header parameter name.
        name: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A claim the policy requires is absent.
    #[error("missing required claim \"{0}\"")]
    MissingClaim(&'static str),
    /// The token expired: `now - leeway >= exp`.
    #[error("token expired at {exp} (now {now})")]
    Expired {
        /// The token's `exp`.
        exp: NumericDate,
        /// The time it was checked at.
        now: UnixTime,
    },
    /// The token is not valid yet: `now + leeway < nbf`.
    #[error("token not valid before {nbf} (now {now})")]
    NotYetValid {
        /// The token's `nbf`.
        nbf: NumericDate,
        /// The time it was checked at.
        now: UnixTime,
    },
    /// The token claims to be issued in the future: `now + leeway < iat`.
    #[error("token issued in the future at {iat} (now {now})")]
    IssuedInFuture {
        /// The token's `iat`.
        iat: NumericDate,
        /// The time it was checked at.
        now: UnixTime,
    },
    /// The `iss` claim is not an accepted issuer.
    #[error("wrong issuer")]
    WrongIssuer,
    /// No `aud` value is an accepted audience.
    #[error("wrong audience")]
    WrongAudience,
    /// The header `typ` is absent or not the expected type.
    #[error("wrong token type")]
    WrongType,
    /// The verified claims do not fit the caller's claims type.
    #[error("claims do not match the expected shape: {0}")]
    Claims(#[source] serde_json::Error),
    /// The claims to sign could not be serialized to a JSON object.
    #[error("cannot encode claims: {0}")]
    Encode(&'static str),
    /// An HMAC secret shorter than its hash output.
    #[error(
        "{alg} secret is {len} bytes; it needs at least {min} random bytes. \
         Make one with `passcard keygen --alg {alg}` (or `openssl rand -base64 {min}`)"
    )]
    WeakSecret {
        /// The algorithm the secret was meant for.
        alg: Algorithm,
        /// The secret's length in bytes.
        len: usize,
        /// The minimum length.
        min: usize,
    },
    /// Key material that cannot be used: bad encoding, inconsistent
    /// components, the wrong curve or size.
    #[error("invalid key: {0}")]
    InvalidKey(&'static str),
    /// A JWK or JWK Set that cannot be read.
    #[error("invalid JWK: {0}")]
    InvalidJwk(String),
    /// The operating system's random generator failed.
    #[error("the system random number generator failed")]
    Rng,
}

impl Error {
    /// Whether the token was well-formed and correctly signed but expired:
    /// the one failure a client should answer by refreshing.
    pub fn is_expired(&self) -> bool {
        matches!(self, Self::Expired { .. })
    }

    /// A short, stable, low-cardinality name for metrics and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "too_large",
            Self::Malformed(_) | Self::DuplicateMember(_) | Self::TooDeep { .. } => "malformed",
            Self::UnsupportedAlgorithm(_) => "unsupported_algorithm",
            Self::UnknownKid(_) | Self::MissingKid { .. } | Self::NoKeys => "unknown_key",
            Self::AlgorithmMismatch { .. } => "algorithm_mismatch",
            Self::UnsupportedCritical(_) | Self::UnencodedPayload | Self::JweHeader(_) => {
                "unsupported_header"
            }
            Self::BadSignature => "bad_signature",
            Self::InvalidClaim { .. } | Self::MissingClaim(_) | Self::Claims(_) => "invalid_claims",
            Self::Expired { .. } => "expired",
            Self::NotYetValid { .. } | Self::IssuedInFuture { .. } => "not_yet_valid",
            Self::WrongIssuer => "wrong_issuer",
            Self::WrongAudience => "wrong_audience",
            Self::WrongType => "wrong_type",
            Self::Encode(_)
            | Self::WeakSecret { .. }
            | Self::InvalidKey(_)
            | Self::InvalidJwk(_)
            | Self::Rng => "key_or_encoding",
        }
    }
}

impl From<UnsupportedAlgorithm> for Error {
    fn from(e: UnsupportedAlgorithm) -> Self {
        Self::UnsupportedAlgorithm(e.0)
    }
}
