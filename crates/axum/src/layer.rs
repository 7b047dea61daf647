//! The tower Layer and Service.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use tower::{Layer, Service};

use crate::extract::Authenticated;
use crate::verifier::Verifier;

/// Verifies the access token of every request; on success stores
/// [`Authenticated`] in the request extensions, otherwise answers (401 per
/// RFC 6750, 403 for a cookie-authenticated unsafe request without a
/// same-site proof, or 503 when a fail-closed revocation check is stale)
/// without calling the inner service.
#[derive(Clone, Debug)]
pub struct PasscardLayer {
    verifier: Arc<Verifier>,
}

impl PasscardLayer {
    /// A layer verifying with `verifier`.
    pub fn new(verifier: impl Into<Arc<Verifier>>) -> Self {
        Self {
            verifier: verifier.into(),
        }
    }
}

impl<S> Layer<S> for PasscardLayer {
    type Service = PasscardService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        PasscardService {
            inner,
            verifier: self.verifier.clone(),
        }
    }
}

/// The service [`PasscardLayer`] wraps around a route.
#[derive(Clone, Debug)]
pub struct PasscardService<S> {
    inner: S,
    verifier: Arc<Verifier>,
}

impl<S> Service<Request> for PasscardService<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        // The clone is not ready; the ready one is used for this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let verifier = self.verifier.clone();
        Box::pin(async move {
            match verifier.authenticate(req.method(), req.headers()).await {
                Ok(verified) => {
                    req.extensions_mut().insert(Authenticated(verified.claims));
                    inner.call(req).await
                }
                Err(rejection) => {
                    tracing::debug!(reason = %rejection, "request refused");
                    Ok(rejection.into_response())
                }
            }
        })
    }
}
