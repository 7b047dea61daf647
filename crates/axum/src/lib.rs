//! # passcard-axum
//!
//! Verification of passcard access tokens for *other* services (resource
//! servers): a tower [`Layer`](tower::Layer) that checks the `Authorization:
//! Bearer` token of every request, and an axum extractor,
//! [`Authenticated<C>`], that hands the verified claims to handlers.
//!
//! * Keys come from a static [`KeySet`](passcard_jwt::KeySet) or, with the
//!   `remote` feature (on by default), from the auth server's JWKS
//!   ([`RemoteJwks`]): cached, refetched when a token names an unknown
//!   `kid`, never more often than a floor.
//! * Revocations (logout, logout-all, role change, ban) can be followed
//!   from the server's feed ([`RevocationFeed`], `remote` feature), so a
//!   resource server without store access enforces them too.
//! * Rejections follow RFC 6750: 401 with `WWW-Authenticate: Bearer`
//!   (`error="invalid_token"` when a token was presented), a generic body;
//!   the precise reason goes to the logs.
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use passcard_axum::{Authenticated, PasscardClaims, PasscardLayer, Verifier};
//! use passcard_jwt::{KeySet, Validator};
//!
//! async fn me(Authenticated(claims): Authenticated<PasscardClaims>) -> String {
//!     format!("hello {} ({})", claims.sub, claims.role)
//! }
//!
//! # fn keys() -> KeySet { KeySet::default() }
//! let policy = Validator::builder().issuer("passcard").audience("passcard").typ("at+jwt").build();
//! let verifier = Verifier::new(keys(), policy);
//! let app: Router = Router::new()
//!     .route("/me", get(me))
//!     .layer(PasscardLayer::<PasscardClaims>::new(verifier));
//! ```

mod bearer;
mod claims;
mod extract;
mod keys;
mod layer;
mod rejection;
#[cfg(feature = "remote")]
mod remote;
mod revocation;

pub use bearer::token as bearer_token;
pub use claims::{PasscardClaims, RevocationClaims};
pub use extract::Authenticated;
pub use keys::{KeySource, Verifier};
pub use layer::{PasscardLayer, PasscardService};
pub use rejection::Rejection;
#[cfg(feature = "remote")]
pub use remote::{RemoteJwks, RevocationFeed};
pub use revocation::RevocationView;
