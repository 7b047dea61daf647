//! The HTTP edge's settings.

use std::time::Duration;

use super::{IpNet, SiteOrigin, defaults};

/// The HTTP edge: how long a client may take, how many may connect, which
/// proxies say who the client is.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct HttpSettings {
    /// A client that has not sent a request's whole head within this is
    /// disconnected; an idle keep-alive connection is closed after it.
    pub header_timeout: Duration,
    /// A request whose body has not arrived whole within this of its head
    /// is answered 408 and its connection closed.
    pub body_timeout: Duration,
    /// Every request (the revocation event stream aside) is answered
    /// within this of its head: 408 while its body is still arriving, 503
    /// once the server is the one taking too long.
    pub request_timeout: Duration,
    /// Connections served at once; past it, new ones wait in the listen
    /// backlog.
    pub max_connections: usize,
    /// How long a shutdown waits for requests in flight.
    pub shutdown_timeout: Duration,
    /// The peers whose forwarding header is believed (none by default).
    pub trusted_proxies: Vec<IpNet>,
    /// Which forwarding header a trusted proxy sets.
    pub forwarded_header: ForwardedHeader,
    /// The origin browsers reach the server at (`https://auth.example.com`):
    /// an unsafe cookie-authenticated request from it needs no CSRF header.
    /// Without it, the origin is the request's own `Host`.
    pub public_url: Option<SiteOrigin>,
    /// Mark cookies `Secure` (and give them the `__Host-` names): off only
    /// for plain-HTTP development on a non-local host.
    pub cookie_secure: bool,
    /// `Strict-Transport-Security: max-age=…` on every answer (off by
    /// default): for a server reached only over HTTPS.
    pub hsts: Option<Duration>,
    /// Whether a cookie-authenticated `GET /v1/verify` must name the
    /// method of the request it asks about (`X-Original-Method` or
    /// `X-Forwarded-Method`); off only for a proxy that cannot send it.
    pub verify_requires_method: bool,
}

/// The header a trusted proxy names the client in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For` (what nginx's `$proxy_add_x_forwarded_for` sets).
    XForwardedFor,
    /// `Forwarded` (RFC 7239).
    Forwarded,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            header_timeout: defaults::HEADER_TIMEOUT,
            body_timeout: defaults::BODY_TIMEOUT,
            request_timeout: defaults::REQUEST_TIMEOUT,
            max_connections: defaults::max_connections(),
            shutdown_timeout: defaults::SHUTDOWN_TIMEOUT,
            trusted_proxies: Vec::new(),
            forwarded_header: ForwardedHeader::XForwardedFor,
            public_url: None,
            cookie_secure: defaults::COOKIE_SECURE,
            hsts: None,
            verify_requires_method: defaults::VERIFY_REQUIRES_METHOD,
        }
    }
}
