//! What a resource server fetches from the auth server (feature
//! `remote`): its JWKS and its revocation feed.

mod feed;
mod jwks;

pub use feed::RevocationFeed;
pub use jwks::{JwksBuilder, RemoteJwks};
