//! What the domain's operations can fail with: precise for logs; the HTTP
//! layer decides what a client sees.

use std::time::Duration;

use passcard_store::StoreError;

pub use super::user::Invalid;

/// Why an operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input breaks a rule (a username, a password, a role).
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// Registration is closed.
    #[error("registration is closed")]
    RegistrationClosed,
    /// The username is taken.
    #[error("username already taken")]
    UsernameTaken,
    /// Wrong username or password, or a disabled account: one answer.
    #[error("invalid username or password")]
    InvalidCredentials,
    /// Too many attempts: failed logins for this username or from this
    /// address, or registrations from this address.
    #[error("too many attempts ({limit:?}); retry in {retry_after:?}")]
    RateLimited {
        /// Which limit.
        limit: Limit,
        /// When the limit lifts.
        retry_after: Duration,
    },
    /// A refresh token that is unknown, expired, revoked or reused.
    #[error("invalid refresh token")]
    InvalidRefreshToken,
    /// A session, or the user behind a credential, that is unknown,
    /// expired or revoked.
    #[error("not authenticated: {reason}")]
    Unauthenticated {
        /// A short label, for metrics.
        reason: &'static str,
    },
    /// The caller's role may not do this.
    #[error("this needs the admin role")]
    Forbidden,
    /// No such user.
    #[error("no such user")]
    NotFound,
    /// The operation does not exist in this mode (refresh in session mode).
    #[error("not available in this mode")]
    WrongMode,
    /// The password hashing queue stayed full.
    #[error("password hashing is saturated")]
    Busy,
    /// The store cannot be reached or is not serving.
    #[error("the store is unavailable: {0}")]
    Unavailable(#[source] StoreError),
    /// A bug, a failed store query or a failed random number generator.
    #[error("internal error: {0}")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The limits of attempts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Limit {
    /// Failed logins per username and per client address.
    Login,
    /// Registrations per client address.
    Registration,
    /// Refresh rotations, or revocations, of one login (refresh family)
    /// per minute.
    Family,
}

impl Error {
    /// Wraps an unexpected failure.
    pub fn internal(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Internal(e.into())
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => Self::UsernameTaken,
            e if e.is_unavailable() => Self::Unavailable(e),
            other => Self::internal(other),
        }
    }
}
