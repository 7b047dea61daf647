//! One HTTP request to a server's router, without a socket, and its answer.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use serde_json::Value;
use tower::ServiceExt as _;

/// A request being built; [`send`](Self::send) runs it through the router.
#[must_use]
pub struct Call {
    router: Router,
    request: axum::http::request::Builder,
    body: Body,
    peer: SocketAddr,
}

/// A credential, as a client holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cred {
    /// An access token, sent as `Authorization: Bearer`.
    Bearer(String),
    /// A session cookie (`__Host-passcard_session=…`), sent as `Cookie`.
    Cookie(String),
}

impl Cred {
    /// The access token, for a bearer credential.
    pub fn token(&self) -> &str {
        match self {
            Self::Bearer(t) => t,
            Self::Cookie(_) => panic!("a session has no access token"),
        }
    }
}

/// A successful login.
#[derive(Debug)]
pub struct Login {
    /// What authenticates later requests.
    pub cred: Cred,
    /// The refresh token (token mode).
    pub refresh: Option<String>,
    /// The whole answer.
    pub answer: Answer,
}

impl Login {
    /// The refresh token (token mode only).
    pub fn refresh_token(&self) -> &str {
        self.refresh
            .as_deref()
            .expect("a session has no refresh token")
    }
}

/// One HTTP answer.
#[derive(Debug)]
pub struct Answer {
    /// Its status.
    pub status: StatusCode,
    /// Its headers.
    pub headers: HeaderMap,
    /// The body as JSON (`Null` when it is not JSON).
    pub body: Value,
    /// The body as text.
    pub text: String,
}

impl Answer {
    /// A header's value, or `""`.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// A string field of the JSON body, or `""`.
    pub fn str(&self, field: &str) -> String {
        self.body[field].as_str().unwrap_or_default().to_owned()
    }

    /// Asserts a problem+json answer of this status and type slug.
    #[track_caller]
    pub fn assert_problem(&self, status: StatusCode, slug: &str) {
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(
            self.header("content-type"),
            "application/problem+json",
            "{}",
            self.text
        );
        assert_eq!(
            self.body["type"],
            format!("urn:passcard:problem:{slug}"),
            "{}",
            self.text
        );
        assert_eq!(self.body["status"], status.as_u16(), "{}", self.text);
    }

    /// Asserts the RFC 6750 answer to a refused access token.
    #[track_caller]
    pub fn assert_invalid_token(&self) {
        self.assert_problem(StatusCode::UNAUTHORIZED, "invalid-token");
        assert!(
            self.header("www-authenticate")
                .contains(r#"error="invalid_token""#),
            "{self:?}"
        );
    }

    /// Reads a response's status, headers and whole body.
    pub async fn read(response: axum::response::Response) -> Self {
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 16 << 20)
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Self {
            status,
            headers,
            body,
            text,
        }
    }
}

impl Call {
    pub(crate) fn new(router: Router, method: Method, path: &str) -> Self {
        Self {
            router,
            request: Request::builder().method(method).uri(path),
            body: Body::empty(),
            peer: SocketAddr::from(([127, 0, 0, 1], 40_000)),
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: impl AsRef<str>) -> Self {
        self.request = self.request.header(name, value.as_ref());
        self
    }

    /// `Authorization: Bearer <token>`.
    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", format!("Bearer {token}"))
    }

    /// `Cookie: <cookie>`.
    pub fn cookie(self, cookie: &str) -> Self {
        self.header("cookie", cookie)
    }

    /// The CSRF proof a same-site browser app sends with unsafe requests.
    pub fn csrf(self) -> Self {
        self.header("x-passcard-csrf", "1")
    }

    /// The credential, as a well-behaved client sends it: a bearer token,
    /// or the cookie with the CSRF header.
    pub fn auth(self, cred: &Cred) -> Self {
        match cred {
            Cred::Bearer(t) => self.bearer(t),
            Cred::Cookie(c) => self.cookie(c).csrf(),
        }
    }

    /// A JSON body.
    pub fn json(mut self, body: &Value) -> Self {
        self.request = self
            .request
            .header(header::CONTENT_TYPE, "application/json");
        self.body = Body::from(body.to_string());
        self
    }

    /// A raw body of this content type.
    pub fn body(mut self, content_type: &str, body: impl Into<String>) -> Self {
        self.request = self.request.header(header::CONTENT_TYPE, content_type);
        self.body = Body::from(body.into());
        self
    }

    /// From this client address (default 127.0.0.1).
    pub fn from_addr(mut self, peer: SocketAddr) -> Self {
        self.peer = peer;
        self
    }

    /// Runs the request and returns the response as it is (to read a
    /// stream). Fails the test if docs/openapi.json does not list its
    /// status for this operation.
    pub async fn response(self) -> axum::response::Response {
        let mut request = self.request.body(self.body).unwrap();
        request.extensions_mut().insert(ConnectInfo(self.peer));
        let (method, uri) = (request.method().clone(), request.uri().to_string());
        let Ok(response) = self.router.oneshot(request).await;
        crate::spec::check(&method, &uri, response.status());
        response
    }

    /// Runs the request and reads the whole answer.
    pub async fn send(self) -> Answer {
        Answer::read(self.response().await).await
    }
}
