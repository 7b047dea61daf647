//! Who the client is, by address: the TCP peer, or, when the peer is a
//! trusted proxy, the address that proxy says it forwarded for.
//!
//! Only a peer in `PASSCARD_TRUSTED_PROXIES` is believed, and only in the
//! one header it is configured to set (`X-Forwarded-For` or `Forwarded`),
//! so a client cannot name itself. The header lists hops oldest first,
//! each proxy appending its own peer; the client is the rightmost hop that
//! is not itself a trusted proxy (whatever is left of it, the client could
//! have written). A hop that cannot be read (`unknown`, an obfuscated
//! name, garbage) stops the walk: the request counts as the trusted peer's
//! own, which limits it more, never less.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;

use super::error::ApiError;
use super::state::AppState;
use crate::config::{ForwardedHeader, IpNet, canonical};

/// The client's address, as the limits and the logs key on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ClientAddr(pub(crate) IpAddr);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())
            .ok_or_else(|| ApiError::BadRequest("no client address".to_owned()))?;
        let http = &state.config.http;
        Ok(Self(client_address(
            peer,
            &parts.headers,
            &http.trusted_proxies,
            http.forwarded_header,
        )))
    }
}

/// The client's address: see the module's documentation.
pub(crate) fn client_address(
    peer: IpAddr,
    headers: &HeaderMap,
    trusted: &[IpNet],
    header: ForwardedHeader,
) -> IpAddr {
    let peer = canonical(peer);
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let name = match header {
        ForwardedHeader::XForwardedFor => "x-forwarded-for",
        ForwardedHeader::Forwarded => "forwarded",
    };
    // Every instance of the header, in order, is one list.
    let values: Vec<&str> = headers
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap_or("\u{0}"))
        .collect();
    let hops = values.iter().flat_map(|v| v.split(',')).rev();
    let mut client = peer;
    for hop in hops {
        let parsed = match header {
            ForwardedHeader::XForwardedFor => node(hop.trim()),
            ForwardedHeader::Forwarded => forwarded_for(hop),
        };
        let Some(ip) = parsed.map(canonical) else {
            return client;
        };
        client = ip;
        if !is_trusted(ip) {
            return ip;
        }
    }
    client
}

/// The `for=` node of one `Forwarded` element (RFC 7239 section 4).
fn forwarded_for(element: &str) -> Option<IpAddr> {
    let value = element.split(';').find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("for")
            .then_some(value.trim())
    })?;
    let value = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value);
    node(value)
}

/// An address, with or without a port (`192.0.2.1`, `192.0.2.1:4711`,
/// `2001:db8::1`, `[2001:db8::1]:4711`).
fn node(s: &str) -> Option<IpAddr> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Some(rest) = s.strip_prefix('[') {
        let (ip, after) = rest.split_once(']')?;
        if !(after.is_empty() || after.starts_with(':')) {
            return None;
        }
        return ip.parse().ok();
    }
    s.parse::<SocketAddr>().ok().map(|a| a.ip())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn headers(name: &str, values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(
                axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn trusted() -> Vec<IpNet> {
        crate::config::parse_list("10.0.0.0/8, fd00::/8").unwrap()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_says() {
        let h = headers("x-forwarded-for", &["203.0.113.9"]);
        let c = client_address(
            ip("198.51.100.1"),
            &h,
            &trusted(),
            ForwardedHeader::XForwardedFor,
        );
        assert_eq!(c, ip("198.51.100.1"));
        let none = client_address(ip("10.0.0.1"), &h, &[], ForwardedHeader::XForwardedFor);
        assert_eq!(none, ip("10.0.0.1"), "no trusted proxies: headers ignored");
    }

    #[test]
    fn behind_trusted_proxies_the_rightmost_untrusted_hop_is_the_client() {
        let xff = |values: &[&str]| {
            client_address(
                ip("10.0.0.1"),
                &headers("x-forwarded-for", values),
                &trusted(),
                ForwardedHeader::XForwardedFor,
            )
        };
        assert_eq!(xff(&["203.0.113.9"]), ip("203.0.113.9"));
        // The client wrote the leftmost one itself; it does not count.
        assert_eq!(xff(&["6.6.6.6, 203.0.113.9"]), ip("203.0.113.9"));
        // Two trusted proxies in a row.
        assert_eq!(xff(&["203.0.113.9, 10.1.2.3"]), ip("203.0.113.9"));
        assert_eq!(
            xff(&["6.6.6.6", "203.0.113.9, 10.1.2.3"]),
            ip("203.0.113.9")
        );
        assert_eq!(xff(&["[2001:db8::7]:443"]), ip("2001:db8::7"));
        assert_eq!(xff(&["::ffff:203.0.113.9"]), ip("203.0.113.9"));
        // Unreadable or missing: the trusted peer itself.
        assert_eq!(xff(&["garbage"]), ip("10.0.0.1"));
        assert_eq!(xff(&["203.0.113.9, unknown"]), ip("10.0.0.1"));
        assert_eq!(xff(&[]), ip("10.0.0.1"));
        // Only trusted hops: the leftmost of them.
        assert_eq!(xff(&["10.9.9.9, 10.1.2.3"]), ip("10.9.9.9"));
    }

    #[test]
    fn the_forwarded_header_is_read_per_rfc_7239() {
        let fwd = |values: &[&str]| {
            client_address(
                ip("fd00::1"),
                &headers("forwarded", values),
                &trusted(),
                ForwardedHeader::Forwarded,
            )
        };
        assert_eq!(
            fwd(&["for=192.0.2.60;proto=http;by=203.0.113.43"]),
            ip("192.0.2.60")
        );
        assert_eq!(
            fwd(&[r#"for="[2001:db8:cafe::17]:4711""#]),
            ip("2001:db8:cafe::17")
        );
        assert_eq!(
            fwd(&[r#"For="192.0.2.43:47011", for=198.51.100.17"#]),
            ip("198.51.100.17")
        );
        assert_eq!(fwd(&["for=192.0.2.43, for=10.2.3.4"]), ip("192.0.2.43"));
        assert_eq!(fwd(&["for=_hidden, for=10.2.3.4"]), ip("10.2.3.4"));
        assert_eq!(fwd(&["proto=https"]), ip("fd00::1"));
        // The other header is not read.
        let xff = headers("x-forwarded-for", &["203.0.113.9"]);
        assert_eq!(
            client_address(ip("fd00::1"), &xff, &trusted(), ForwardedHeader::Forwarded),
            ip("fd00::1")
        );
    }
}
