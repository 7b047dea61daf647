//! What a resource server fetches from the auth server (feature
//! `remote`): its metadata, its JWKS and its revocation feed.

mod discovery;
mod feed;
mod jwks;

pub use discovery::{Discovered, Discovery, DiscoveryError, ServerMetadata, from_issuer};
pub use feed::RevocationFeed;
#[cfg(fuzzing)]
pub(crate) use feed::apply_page;
pub use jwks::{JwksBuilder, RemoteJwks};
