//! Deadlines for the parts of a request hyper does not bound: its body and
//! the whole answer.
//!
//! hyper disconnects a client that has not sent a request's head within
//! the header timeout, but once the head is in, a body read waits as long
//! as the client pleases: a client that sends `Content-Length: 100` and one
//! byte would hold its connection (one of the capped slots) for ever. So
//! every body is read here, at most the body limit of it, within
//! `body_timeout` of the head; a body still arriving then is answered 408
//! with `Connection: close`, and the connection ends. The handler then
//! gets the body already read, so no extractor waits on the network.
//!
//! The whole answer is bounded by `request_timeout` (counted from the
//! head, body reading included): a handler still working then is dropped
//! and the request answered 503 (the server, not the client, was slow).
//! The revocation event stream is exempt: its answer is a stream meant to
//! stay open; its handler answers at once.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody as _};
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt as _;
use passcard_axum::problem::Problem;
use tokio::time::{Instant, Timeout, timeout_at};
use tower::{Layer, Service};

/// The path whose answer may outlive the request deadline.
pub(crate) const STREAM_PATH: &str = "/v1/revocations/stream";

/// The layer; see the module's documentation.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DeadlineLayer {
    body_timeout: Duration,
    request_timeout: Duration,
    /// Bodies are read up to one byte past this; the extractors then
    /// refuse what is over it, each in its own format.
    max_body: usize,
}

impl DeadlineLayer {
    pub(crate) fn new(body_timeout: Duration, request_timeout: Duration, max_body: usize) -> Self {
        Self {
            body_timeout,
            request_timeout,
            max_body,
        }
    }
}

impl<S> Layer<S> for DeadlineLayer {
    type Service = Deadline<S>;

    fn layer(&self, inner: S) -> Deadline<S> {
        Deadline {
            inner,
            settings: *self,
        }
    }
}

/// The service [`DeadlineLayer`] wraps around each route.
#[derive(Clone, Debug)]
pub(crate) struct Deadline<S> {
    inner: S,
    settings: DeadlineLayer,
}

impl<S> Service<Request> for Deadline<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = DeadlineFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        // The service that was made ready is the one that is called.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let s = self.settings;
        let deadline = Instant::now() + s.request_timeout;
        if req.uri().path() == STREAM_PATH {
            return DeadlineFuture::Exempt {
                call: inner.call(req),
            };
        }
        if req.body().is_end_stream() {
            // Nothing to read (a GET, or an empty body): only the answer
            // has a deadline, and nothing is boxed.
            return DeadlineFuture::Calling {
                call: timeout_at(deadline, inner.call(req)),
            };
        }
        let body_deadline = Instant::now() + s.body_timeout;
        DeadlineFuture::Reading {
            read: Box::pin(async move {
                let (parts, body) = req.into_parts();
                let bytes = match timeout_at(body_deadline, read(body, s.max_body)).await {
                    Ok(Ok(bytes)) => bytes,
                    Ok(Err(_)) => return Ok(unreadable()),
                    Err(_) => {
                        tracing::debug!(
                            path = parts.uri.path(),
                            "a request body did not arrive within the body timeout"
                        );
                        return Ok(body_too_slow());
                    }
                };
                let req = Request::from_parts(parts, Body::from(bytes));
                match timeout_at(deadline, inner.call(req)).await {
                    Ok(answer) => answer,
                    Err(_) => Ok(too_slow()),
                }
            }),
        }
    }
}

/// Reads `body` up to one byte past `max` (what is over the limit is left
/// unread: the extractor refuses the request anyway).
async fn read(body: Body, max: usize) -> Result<Bytes, axum::Error> {
    let mut stream = body.into_data_stream();
    let Some(first) = stream.next().await.transpose()? else {
        return Ok(Bytes::new());
    };
    if first.len() > max {
        return Ok(first);
    }
    let mut all: Option<Vec<u8>> = None;
    while let Some(chunk) = stream.next().await.transpose()? {
        let all = all.get_or_insert_with(|| first.to_vec());
        all.extend_from_slice(&chunk);
        if all.len() > max {
            break;
        }
    }
    Ok(all.map_or(first, Bytes::from))
}

pin_project_lite::pin_project! {
    /// The answer of [`Deadline`].
    #[project = DeadlineProj]
    pub(crate) enum DeadlineFuture<F> {
        /// Reading the body, then calling the handler.
        Reading {
            read: Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>,
        },
        /// No body: the handler, within the request deadline.
        Calling {
            #[pin]
            call: Timeout<F>,
        },
        /// The event stream: the handler, without a deadline.
        Exempt {
            #[pin]
            call: F,
        },
    }
}

impl<F: Future<Output = Result<Response, Infallible>>> Future for DeadlineFuture<F> {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            DeadlineProj::Reading { read } => read.as_mut().poll(cx),
            DeadlineProj::Calling { call } => match std::task::ready!(call.poll(cx)) {
                Ok(answer) => Poll::Ready(answer),
                Err(_) => Poll::Ready(Ok(too_slow())),
            },
            DeadlineProj::Exempt { call } => call.poll(cx),
        }
    }
}

/// 408, and the connection closed: the client sent a head and then not
/// its whole body in time.
fn body_too_slow() -> Response {
    with_header(
        Problem::new(
            StatusCode::REQUEST_TIMEOUT,
            "request-timeout",
            "Request timeout",
            "the request body did not arrive in time",
        ),
        header::CONNECTION,
        "close",
    )
}

/// 400, and the connection closed: the body could not be read (the client
/// went away or sent a malformed chunk).
fn unreadable() -> Response {
    with_header(
        Problem::new(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "Bad request",
            "cannot read the request body",
        ),
        header::CONNECTION,
        "close",
    )
}

/// 503: the server did not answer within the request deadline.
fn too_slow() -> Response {
    tracing::warn!("a request was not answered within the request timeout; it was abandoned");
    with_header(
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            "Service unavailable",
            "the server did not answer in time; retry shortly",
        ),
        header::RETRY_AFTER,
        "1",
    )
}

/// A problem's answer with one more header.
fn with_header(problem: Problem, name: HeaderName, value: &'static str) -> Response {
    let mut r = problem.into_response();
    r.headers_mut()
        .insert(name, HeaderValue::from_static(value));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunked(parts: &[&'static [u8]]) -> Body {
        let chunks: Vec<Result<Bytes, std::io::Error>> =
            parts.iter().map(|p| Ok(Bytes::from_static(p))).collect();
        Body::from_stream(futures_util::stream::iter(chunks))
    }

    #[tokio::test]
    async fn a_body_is_read_whole_up_to_one_byte_past_the_limit() {
        assert_eq!(read(chunked(&[]), 4).await.unwrap(), Bytes::new());
        assert_eq!(read(chunked(&[b"ab"]), 4).await.unwrap(), "ab");
        assert_eq!(read(chunked(&[b"ab", b"cd"]), 4).await.unwrap(), "abcd");
        // Over the limit: reading stops, and the extractor sees more than
        // it allows.
        let over = read(chunked(&[b"ab", b"cd", b"e", b"f"]), 4).await.unwrap();
        assert_eq!(over, "abcde");
    }
}
