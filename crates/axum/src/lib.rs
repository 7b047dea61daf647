//! # passcard-axum
//!
//! The verification pipeline for passcard access tokens, in one place: the
//! passcard server runs it for its own routes, and *other* services
//! (resource servers) run it through a tower [`Layer`](tower::Layer),
//! [`PasscardLayer`], with an axum extractor, [`Authenticated`], that hands
//! the verified [`AccessClaims`] to handlers.
//!
//! The pipeline, in order ([`Verifier::authenticate`]):
//!
//! 1. **Credential**: the token from `Authorization: Bearer`, or from a
//!    cookie where [`Verifier::with_cookie`] names one ([`credential()`]);
//!    an unsafe request authenticated by the cookie needs a same-site proof
//!    ([`csrf`]).
//! 2. **Signature and policy**: keys from a static
//!    [`KeySet`](passcard_jwt::KeySet) or, with the `remote` feature (on by
//!    default), from the auth server's JWKS ([`RemoteJwks`]: cached,
//!    refetched when a token names an unknown `kid`, never more often than
//!    a floor; or found from the issuer URL through its metadata,
//!    [`from_issuer`]); the passcard policy ([`access_policy`]); time from a
//!    [`Clock`](passcard_jwt::Clock). Recently verified tokens skip the
//!    signature check (never the expiry check) through a bounded cache.
//! 3. **Revocation**: a [`RevocationCheck`], usually a [`RevocationList`]
//!    in memory, fed from the store inside the server or from the server's
//!    feed ([`RevocationFeed`], `remote` feature) in a resource server.
//!    Optionally fail closed when it falls behind
//!    ([`Verifier::with_max_lag`]).
//!
//! Refusals follow RFC 6750 (401 with `WWW-Authenticate: Bearer`,
//! `error="invalid_token"` when a token was presented) with an
//! `application/problem+json` body ([`problem`]); the precise reason is
//! for logs and metrics ([`Rejection::reason`]).
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use axum::{Router, routing::get};
//! use passcard_axum::{Authenticated, PasscardLayer, Verifier, access_policy};
//! use passcard_jwt::KeySet;
//!
//! async fn me(claims: Authenticated) -> String {
//!     format!("hello {} ({})", claims.sub, claims.role)
//! }
//!
//! # fn keys() -> KeySet { KeySet::default() }
//! let policy = access_policy("passcard", "passcard", Duration::from_secs(30));
//! let app: Router = Router::new()
//!     .route("/me", get(me))
//!     .layer(PasscardLayer::new(Verifier::new(keys(), policy)));
//! ```

mod cache;
mod claims;
mod cookie;
mod credential;
pub mod csrf;
mod extract;
pub mod feed;
mod layer;
pub mod problem;
mod rejection;
#[cfg(feature = "remote")]
mod remote;
mod revocation;
mod verifier;

pub use cache::CacheStats;
pub use claims::AccessClaims;
pub use cookie::{CookieError, cookie};
pub use credential::{Credential, Transport, bearer_token, credential};
pub use extract::Authenticated;
pub use layer::{PasscardLayer, PasscardService};
pub use rejection::Rejection;
#[cfg(feature = "remote")]
pub use remote::{
    Discovered, Discovery, DiscoveryError, JwksBuilder, RemoteJwks, RevocationFeed, ServerMetadata,
    from_issuer,
};
pub use revocation::{RevocationCheck, RevocationList, Revoked};
pub use verifier::{DEFAULT_CACHE_SLOTS, KeySource, Verified, Verifier, access_policy};

/// Thin entry points for the fuzz targets in `fuzz/`, to parsers that are
/// not public. Built only with `--cfg fuzzing` (cargo-fuzz sets it), so
/// never part of the API.
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing {
    /// Applies one page of the revocation feed, as [`RevocationFeed`]
    /// reads it, to `list`: whether the body was a feed page.
    ///
    /// [`RevocationFeed`]: crate::RevocationFeed
    #[cfg(feature = "remote")]
    pub fn feed_page(body: &[u8], list: &crate::RevocationList) -> bool {
        crate::remote::apply_page(body, list).is_ok()
    }
}
