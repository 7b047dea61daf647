//! The rule for requests a cookie authenticates: a browser attaches
//! cookies to requests that other sites make it send, so an unsafe one
//! must prove it comes from the site itself.
//!
//! A request is unsafe when its method is not `GET`, `HEAD` or `OPTIONS`,
//! or when a reverse proxy asking about another request (nginx
//! `auth_request` sets `X-Original-Method`, Traefik `X-Forwarded-Method`)
//! says that one's method is unsafe: those headers can only make the rule
//! stricter. An unsafe request passes with the [`CSRF_HEADER`] (a page
//! cannot add a custom header to a cross-origin request without CORS,
//! which passcard never grants), or with an `Origin` equal to the site's
//! origin ([`Site`]: a configured [`SiteOrigin`], or when none is
//! configured, the request's own `Host`, over https where cookies are
//! Secure). Anything else, including `Origin: null` and no `Origin` at
//! all, is refused.

use std::fmt;
use std::str::FromStr;

use axum::http::header::{HOST, ORIGIN};
use axum::http::{HeaderMap, Method};

/// The request header that marks a cookie-authenticated request as made
/// by the site's own pages.
pub const CSRF_HEADER: &str = "x-passcard-csrf";

/// Headers in which a reverse proxy names the method of the request it
/// asks about.
const ORIGINAL_METHOD: [&str; 2] = ["x-original-method", "x-forwarded-method"];

/// A site's origin (RFC 6454): scheme, host and port, serialized as a
/// browser sends it in `Origin` (lowercase, the default port left out).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteOrigin(String);

/// Why a URL is not a site origin.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadOrigin(&'static str);

impl SiteOrigin {
    /// The origin as `Origin` carries it: `https://auth.example.com`,
    /// `http://127.0.0.1:8080`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the origin is served over HTTPS.
    pub fn is_https(&self) -> bool {
        self.0.starts_with("https://")
    }

    /// Whether a browser treats the origin as secure although it is plain
    /// HTTP: a loopback address or `localhost` (W3C Secure Contexts).
    pub fn is_loopback(&self) -> bool {
        let rest = self.0.split_once("://").map_or("", |(_, r)| r);
        let host = match rest.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(""),
            None => rest.split(':').next().unwrap_or(""),
        };
        host == "localhost"
            || host.ends_with(".localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }
}

impl fmt::Display for SiteOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for SiteOrigin {
    type Err = BadOrigin;

    /// `scheme://host[:port]`, with at most a `/` after it: no path, query,
    /// fragment or user name.
    fn from_str(url: &str) -> Result<Self, BadOrigin> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or(BadOrigin("must start with https:// or http://"))?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "https" => "443",
            "http" => "80",
            _ => return Err(BadOrigin("must start with https:// or http://")),
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.is_empty() {
            return Err(BadOrigin("names no host"));
        }
        if authority.contains(['/', '?', '#', '@']) || authority.contains(char::is_whitespace) {
            return Err(BadOrigin(
                "must be an origin only (scheme, host, port): no path, query or user",
            ));
        }
        let authority = authority.to_ascii_lowercase();
        let (host, port) = match authority.strip_prefix('[') {
            Some(v6) => {
                let (addr, after) = v6.split_once(']').ok_or(BadOrigin("has a bad IPv6 host"))?;
                addr.parse::<std::net::Ipv6Addr>()
                    .map_err(|_| BadOrigin("has a bad IPv6 host"))?;
                let port = match after {
                    "" => None,
                    p => Some(p.strip_prefix(':').ok_or(BadOrigin("has a bad port"))?),
                };
                (format!("[{addr}]"), port)
            }
            None => match authority.split_once(':') {
                Some((h, p)) => (h.to_owned(), Some(p)),
                None => (authority.clone(), None),
            },
        };
        if host.is_empty() {
            return Err(BadOrigin("names no host"));
        }
        let port = match port {
            Some(p) => {
                let n: u16 = p.parse().map_err(|_| BadOrigin("has a bad port"))?;
                Some(n.to_string()).filter(|n| n != default_port)
            }
            None => None,
        };
        Ok(Self(match port {
            Some(p) => format!("{scheme}://{host}:{p}"),
            None => format!("{scheme}://{host}"),
        }))
    }
}

/// Which `Origin` an unsafe cookie-authenticated request may come from.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Site {
    /// The site's configured origin, and only it.
    Origin(SiteOrigin),
    /// No origin is configured: the host the request was sent to (its
    /// `Host`), in any port-exact spelling. With `https_only` (the site's
    /// cookies are `Secure`, so it is served over https) the `Origin` must
    /// be `https://`, but for a loopback host (`localhost`, `127.0.0.1`,
    /// `[::1]`), which browsers treat as secure over plain http: a page on
    /// `http://` the same host is another, unprotected origin.
    RequestHost {
        /// Refuse `http://` origins but loopback ones.
        https_only: bool,
    },
}

impl Site {
    /// The configured origin if there is one, else the request's host,
    /// https only when cookies are Secure.
    pub fn new(origin: Option<SiteOrigin>, secure_cookies: bool) -> Self {
        match origin {
            Some(origin) => Self::Origin(origin),
            None => Self::RequestHost {
                https_only: secure_cookies,
            },
        }
    }
}

fn is_safe(method: &[u8]) -> bool {
    matches!(method, b"GET" | b"HEAD" | b"OPTIONS")
}

/// Whether a request authenticated by a cookie may go on: see the
/// module's documentation. `site` says which origin the site's pages have.
pub fn same_site_proof(method: &Method, headers: &HeaderMap, site: &Site) -> bool {
    let original_unsafe = ORIGINAL_METHOD
        .iter()
        .flat_map(|name| headers.get_all(*name))
        .any(|v| !is_safe(v.as_bytes().trim_ascii()));
    if is_safe(method.as_str().as_bytes()) && !original_unsafe {
        return true;
    }
    if headers.contains_key(CSRF_HEADER) {
        return true;
    }
    let mut origins = headers.get_all(ORIGIN).iter();
    let (Some(origin), None) = (origins.next(), origins.next()) else {
        return false;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    match site {
        Site::Origin(site) => origin == site.as_str(),
        // No configured origin: the host the request was sent to.
        &Site::RequestHost { https_only } => {
            let Some(host) = headers.get(HOST).and_then(|h| h.to_str().ok()) else {
                return false;
            };
            let same_host = |o: Option<&str>| o.is_some_and(|o| o.eq_ignore_ascii_case(host));
            if same_host(origin.strip_prefix("https://")) {
                return true;
            }
            let plain = origin.strip_prefix("http://");
            same_host(plain)
                && (!https_only || origin.parse::<SiteOrigin>().is_ok_and(|o| o.is_loopback()))
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn origin(s: &str) -> SiteOrigin {
        s.parse().unwrap()
    }

    #[test]
    fn origins_are_serialized_as_browsers_send_them() {
        assert_eq!(
            origin("https://Auth.Example.com").as_str(),
            "https://auth.example.com"
        );
        assert_eq!(
            origin("https://auth.example.com:443/").as_str(),
            "https://auth.example.com"
        );
        assert_eq!(
            origin("http://127.0.0.1:8080").as_str(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(origin("http://localhost:80").as_str(), "http://localhost");
        assert_eq!(origin("http://[::1]:8080").as_str(), "http://[::1]:8080");
        assert!(origin("https://a.example").is_https());
        assert!(!origin("http://a.example").is_https());
        assert!(origin("http://127.0.0.1:8080").is_loopback());
        assert!(origin("http://localhost:8080").is_loopback());
        assert!(origin("http://app.localhost").is_loopback());
        assert!(origin("http://[::1]").is_loopback());
        assert!(!origin("http://example.com").is_loopback());
        for bad in [
            "auth.example.com",
            "ftp://a.example",
            "https://",
            "https://a.example/path",
            "https://a.example?x=1",
            "https://user@a.example",
            "https://a.example:99999",
            "https://a.example:",
            "https://[::1",
            "https://a .example",
        ] {
            assert!(bad.parse::<SiteOrigin>().is_err(), "{bad}");
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in pairs {
            h.append(*n, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn unsafe_requests_need_the_header_or_the_sites_origin() {
        let site = Site::Origin(origin("https://auth.example.com"));
        let host = Site::RequestHost { https_only: true };
        let plain = Site::RequestHost { https_only: false };
        let post = Method::POST;
        let ok = |pairs: &[(&'static str, &str)], site: &Site| {
            same_site_proof(&post, &headers(pairs), site)
        };
        assert!(same_site_proof(&Method::GET, &HeaderMap::new(), &site));
        assert!(ok(&[(CSRF_HEADER, "1")], &site));
        assert!(ok(&[("origin", "https://auth.example.com")], &site));
        assert!(!ok(&[], &site));
        assert!(!ok(&[("origin", "null")], &site));
        assert!(!ok(&[("origin", "https://evil.example")], &site));
        assert!(!ok(&[("origin", "http://auth.example.com")], &site));
        assert!(!ok(
            &[
                ("origin", "https://auth.example.com"),
                ("origin", "https://evil.example")
            ],
            &site
        ));
        // Without a configured origin: the Host the request was sent to.
        let loopback = [
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080"),
        ];
        assert!(ok(&loopback, &host), "loopback is secure over http");
        assert!(ok(&loopback, &plain));
        let other_port = [
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:9999"),
        ];
        assert!(!ok(&other_port, &host));
        // Issue 19: with Secure cookies (an https site), a page on
        // http://the same host is another origin, which anyone on the path
        // can write: refused.
        let https = [
            ("host", "auth.example.com"),
            ("origin", "https://auth.example.com"),
        ];
        let http = [
            ("host", "auth.example.com"),
            ("origin", "http://auth.example.com"),
        ];
        assert!(ok(&https, &host));
        assert!(!ok(&http, &host));
        assert!(
            ok(&http, &plain),
            "without Secure cookies, http is the site"
        );
        for local in ["localhost:8080", "[::1]:8080", "app.localhost"] {
            let h = [("host", local), ("origin", &format!("http://{local}"))];
            assert!(ok(&h, &host), "{local}");
        }
        // A configured origin wins over Host.
        assert!(!ok(&loopback, &site));
    }

    #[test]
    fn a_proxy_can_make_the_rule_stricter_never_looser() {
        let asking = |original: &str, extra: &[(&'static str, &str)]| {
            let mut h = headers(extra);
            h.insert(
                "x-original-method",
                HeaderValue::from_str(original).unwrap(),
            );
            same_site_proof(&Method::GET, &h, &Site::RequestHost { https_only: false })
        };
        assert!(asking("GET", &[]));
        assert!(!asking("POST", &[]));
        assert!(!asking(" delete ", &[]));
        assert!(asking("POST", &[(CSRF_HEADER, "1")]));
        let any = Site::RequestHost { https_only: false };
        let h = headers(&[("x-forwarded-method", "PUT")]);
        assert!(!same_site_proof(&Method::GET, &h, &any));
        // A safe original method does not lift the rule for an unsafe request.
        let h = headers(&[("x-original-method", "GET")]);
        assert!(!same_site_proof(&Method::POST, &h, &any));
    }
}
