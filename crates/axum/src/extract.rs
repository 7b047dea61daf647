//! The extractor: verified claims from request extensions.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::claims::AccessClaims;
use crate::rejection::Rejection;

/// The claims that [`PasscardLayer`](crate::PasscardLayer) verified. The
/// extractor only reads what the layer stored; it never verifies again.
#[derive(Clone, Debug)]
pub struct Authenticated(pub Arc<AccessClaims>);

impl std::ops::Deref for Authenticated {
    type Target = AccessClaims;
    fn deref(&self) -> &AccessClaims {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Rejection> {
        parts
            .extensions
            .get::<Self>()
            .cloned()
            .ok_or(Rejection::NotConfigured)
    }
}
