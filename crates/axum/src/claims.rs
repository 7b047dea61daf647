//! Claims types.

use serde::{Deserialize, Serialize};

/// What the revocation check needs from a claims type.
pub trait RevocationClaims {
    /// The token id (`jti`), for the denylist.
    fn jti(&self) -> Option<&str>;
    /// The subject (`sub`), for per-user token versions.
    fn subject(&self) -> Option<&str>;
    /// The token version (`ver`).
    fn version(&self) -> Option<i64>;
}

/// The claims of a passcard access token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PasscardClaims {
    /// The user id, as a string.
    pub sub: String,
    /// The role when the token was issued.
    pub role: String,
    /// Issued at (Unix seconds).
    pub iat: u64,
    /// Expires at (Unix seconds).
    pub exp: u64,
    /// Token id.
    pub jti: String,
    /// The user's token version when issued.
    #[serde(default)]
    pub ver: i64,
}

impl RevocationClaims for PasscardClaims {
    fn jti(&self) -> Option<&str> {
        Some(&self.jti)
    }
    fn subject(&self) -> Option<&str> {
        Some(&self.sub)
    }
    fn version(&self) -> Option<i64> {
        Some(self.ver)
    }
}
