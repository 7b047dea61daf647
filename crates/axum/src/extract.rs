//! The extractor: verified claims from request extensions.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::rejection::Rejection;

/// Claims verified by [`PasscardLayer`](crate::PasscardLayer). The
/// extractor only reads what the layer stored; it never verifies again.
#[derive(Clone, Debug)]
pub struct Authenticated<C>(pub C);

impl<S: Send + Sync, C: Clone + Send + Sync + 'static> FromRequestParts<S> for Authenticated<C> {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Rejection> {
        parts
            .extensions
            .get::<Self>()
            .cloned()
            .ok_or(Rejection::NotConfigured)
    }
}
