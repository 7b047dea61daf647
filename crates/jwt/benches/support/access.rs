//! The typical access token's claims, shared by the bench and the
//! `verify_loop` example.

use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
pub(crate) struct Access {
    pub(crate) iss: String,
    pub(crate) aud: String,
    pub(crate) sub: String,
    pub(crate) role: String,
    pub(crate) iat: u64,
    pub(crate) exp: u64,
    pub(crate) jti: String,
    pub(crate) ver: u64,
}

/// The claims, issued at `now` for an hour.
pub(crate) fn access(now: u64) -> Access {
    Access {
        iss: "https://auth.passcard.example".into(),
        aud: "passcard".into(),
        sub: "1234567".into(),
        role: "admin".into(),
        iat: now,
        exp: now + 3600,
        jti: "f3hX9kQ2b7mZ1pL0vN8rT4yW6cA5eJ".into(),
        ver: 7,
    }
}
