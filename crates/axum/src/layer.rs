//! The tower Layer and Service.

use std::convert::Infallible;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::header::AUTHORIZATION;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use tower::{Layer, Service};

use crate::claims::RevocationClaims;
use crate::extract::Authenticated;
use crate::keys::Verifier;
use crate::rejection::Rejection;

/// Verifies the Bearer token of every request; on success stores
/// [`Authenticated<C>`] in the request extensions, otherwise answers 401
/// (RFC 6750) without calling the inner service.
pub struct PasscardLayer<C> {
    verifier: Arc<Verifier>,
    claims: PhantomData<fn() -> C>,
}

impl<C> PasscardLayer<C> {
    /// A layer verifying with `verifier`.
    pub fn new(verifier: Verifier) -> Self {
        Self {
            verifier: Arc::new(verifier),
            claims: PhantomData,
        }
    }
}

impl<C> Clone for PasscardLayer<C> {
    fn clone(&self) -> Self {
        Self {
            verifier: self.verifier.clone(),
            claims: PhantomData,
        }
    }
}

impl<S, C> Layer<S> for PasscardLayer<C> {
    type Service = PasscardService<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        PasscardService {
            inner,
            verifier: self.verifier.clone(),
            claims: PhantomData,
        }
    }
}

/// The service [`PasscardLayer`] wraps around a route.
pub struct PasscardService<S, C> {
    inner: S,
    verifier: Arc<Verifier>,
    claims: PhantomData<fn() -> C>,
}

impl<S: Clone, C> Clone for PasscardService<S, C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            verifier: self.verifier.clone(),
            claims: PhantomData,
        }
    }
}

impl<S, C> Service<Request> for PasscardService<S, C>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
    C: DeserializeOwned + RevocationClaims + Clone + Send + Sync + 'static,
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
            let mut values = req.headers().get_all(AUTHORIZATION).iter();
            let outcome = match (values.next(), values.next()) {
                (None, _) => Err(Rejection::Missing),
                (Some(_), Some(_)) => Err(Rejection::Malformed),
                (Some(value), None) => match crate::bearer::token(value.as_bytes()) {
                    None => Err(Rejection::Malformed),
                    Some(token) => verifier.verify::<C>(token).await,
                },
            };
            match outcome {
                Ok(claims) => {
                    req.extensions_mut().insert(Authenticated(claims));
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
