//! The client address behind trusted proxies: `X-Forwarded-For` and
//! `Forwarded` headers (one `Name: value` per line, as on the wire), and
//! the `PASSCARD_TRUSTED_PROXIES` list (a first line `trusted: LIST`
//! replaces the default `10.0.0.0/8, fd00::/8, 192.0.2.1`).
//!
//! Beyond not panicking, for each header kind and several peers:
//! * a peer that is not a trusted proxy is the client, whatever it sends;
//! * without the configured header the peer is the client, and the other
//!   header is never read;
//! * what the client wrote itself (hops left of the first untrusted one
//!   from the right) never matters: prepending hops keeps the answer;
//! * one more trusted proxy in the chain is transparent;
//! * addresses come out canonical (no IPv4-mapped IPv6);
//! * each trusted range prints as text that parses back to it.
#![no_main]

use std::net::IpAddr;

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use passcard::config::{ForwardedHeader, IpNet, canonical, parse_list};
use passcard::http::fuzzing::client_address;

const PEERS: [&str; 4] = ["10.0.0.1", "fd00::1", "::ffff:10.0.0.1", "198.51.100.1"];

fuzz_target!(|data: &[u8]| {
    let (trusted, headers) = parse(data);
    for net in &trusted {
        let text = net.to_string();
        assert_eq!(
            text.parse::<IpNet>().ok(),
            Some(*net),
            "{text} reads back otherwise"
        );
        let addr: IpAddr = text
            .split('/')
            .next()
            .unwrap_or("")
            .parse()
            .expect("an address");
        assert!(net.contains(addr), "{text} does not hold its own address");
    }
    for peer in PEERS {
        let peer: IpAddr = peer.parse().expect("peer");
        for kind in [ForwardedHeader::XForwardedFor, ForwardedHeader::Forwarded] {
            check(peer, &headers, &trusted, kind);
        }
    }
});

fn parse(data: &[u8]) -> (Vec<IpNet>, HeaderMap) {
    let mut trusted = None;
    let mut headers = HeaderMap::new();
    for (name, value) in passcard_fuzz::header_lines(data) {
        if trusted.is_none() && name.eq_ignore_ascii_case(b"trusted") {
            trusted = std::str::from_utf8(value)
                .ok()
                .and_then(|v| parse_list(v).ok());
            continue;
        }
        if let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
        {
            headers.append(name, value);
        }
    }
    let trusted = trusted
        .unwrap_or_else(|| parse_list("10.0.0.0/8, fd00::/8, 192.0.2.1").expect("default list"));
    (trusted, headers)
}

fn names(kind: ForwardedHeader) -> (&'static str, &'static str) {
    match kind {
        ForwardedHeader::XForwardedFor => ("x-forwarded-for", "forwarded"),
        ForwardedHeader::Forwarded => ("forwarded", "x-forwarded-for"),
    }
}

/// `headers` with `first` as the first instance of `name`, and `last` as
/// its last.
fn with(headers: &HeaderMap, name: &str, first: Option<&str>, last: Option<&str>) -> HeaderMap {
    let mut out = HeaderMap::new();
    if let Some(first) = first {
        out.append(
            HeaderName::from_bytes(name.as_bytes()).expect("name"),
            HeaderValue::from_str(first).expect("value"),
        );
    }
    for (k, v) in headers {
        out.append(k.clone(), v.clone());
    }
    if let Some(last) = last {
        out.append(
            HeaderName::from_bytes(name.as_bytes()).expect("name"),
            HeaderValue::from_str(last).expect("value"),
        );
    }
    out
}

fn hop(kind: ForwardedHeader, ip: IpAddr) -> String {
    match (kind, ip) {
        (ForwardedHeader::XForwardedFor, ip) => ip.to_string(),
        (ForwardedHeader::Forwarded, IpAddr::V6(ip)) => format!("for=\"[{ip}]\""),
        (ForwardedHeader::Forwarded, IpAddr::V4(ip)) => format!("for={ip}"),
    }
}

fn check(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet], kind: ForwardedHeader) {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(ip));
    let (name, other) = names(kind);
    let client = client_address(peer, headers, trusted, kind);
    assert_eq!(client, canonical(client), "a mapped address came out");
    if !is_trusted(peer) || !headers.contains_key(name) {
        assert_eq!(client, canonical(peer), "the peer is not the client");
    }
    let mut without_other = headers.clone();
    without_other.remove(other);
    assert_eq!(
        client_address(peer, &without_other, trusted, kind),
        client,
        "the other header was read"
    );
    if !is_trusted(client) {
        let spoof = match kind {
            ForwardedHeader::XForwardedFor => "203.0.113.66, ::ffff:203.0.113.67",
            ForwardedHeader::Forwarded => "for=203.0.113.66, for=\"[2001:db8::1]:80\"",
        };
        let prepended = with(headers, name, Some(spoof), None);
        assert_eq!(
            client_address(peer, &prepended, trusted, kind),
            client,
            "what the client wrote changed the answer"
        );
    }
    // Another trusted proxy in front of this one, which adds our peer as a
    // hop: the same client.
    let front: IpAddr = match peer {
        IpAddr::V4(_) => "10.0.0.2",
        IpAddr::V6(_) => "fd00::2",
    }
    .parse()
    .expect("address");
    if is_trusted(peer)
        && is_trusted(front)
        && headers.get_all(name).iter().all(|v| v.to_str().is_ok())
    {
        let chained = with(headers, name, None, Some(&hop(kind, canonical(peer))));
        assert_eq!(
            client_address(front, &chained, trusted, kind),
            client,
            "one more trusted proxy changed the answer"
        );
    }
}
