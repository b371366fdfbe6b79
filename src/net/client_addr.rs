//! Who is on the other end of a request. Behind a TLS proxy the socket's peer is the
//! proxy; its `Forwarded` (RFC 7239) or `X-Forwarded-For` header names the client. Those
//! headers are believed only from `trusted_proxies`: anyone else could write them.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::HeaderMap;

use ipnet::IpNet;

/// The client's address as tessera decides it: set on every request by the request frame
/// ([`crate::api::frame`]), read by sign-in limits, rate limits and the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl ClientAddr {
    /// Walks the forwarding chain from the nearest hop outwards, skipping trusted
    /// proxies; the first untrusted hop is the client. A hop that does not parse (an
    /// obfuscated or `unknown` node) ends the walk at the last address known.
    pub fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> ClientAddr {
        let peer = canonical(peer);
        if !is_trusted(peer, trusted) {
            return ClientAddr(peer);
        }
        let mut hops = forwarded_for(headers);
        let mut client = peer;
        while is_trusted(client, trusted) {
            match hops.pop() {
                Some(Some(hop)) => client = canonical(hop),
                _ => break,
            }
        }
        ClientAddr(client)
    }

    /// The key of per-address budgets: an IPv4 address, or the /64 of an IPv6 one (a
    /// single host is usually given a whole /64, so one address per budget would let
    /// it rotate through 2^64 budgets).
    pub fn budget_key(&self) -> String {
        match self.0 {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        }
    }
}

impl std::fmt::Display for ClientAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

fn is_trusted(ip: IpAddr, trusted: &[IpNet]) -> bool {
    trusted.iter().any(|c| c.contains(&ip))
}

/// `::ffff:10.0.0.1` is `10.0.0.1`: a dual-stack socket reports IPv4 peers that way.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// The forwarding chain, client first: `Forwarded` when present, else `X-Forwarded-For`.
/// `None` marks a hop that is not an address.
fn forwarded_for(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let forwarded: Vec<&str> = headers
        .get_all("forwarded")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if !forwarded.is_empty() {
        return forwarded
            .iter()
            .flat_map(|v| v.split(','))
            .map(|element| {
                let node = element.split(';').find_map(|pair| {
                    let (key, value) = pair.split_once('=')?;
                    key.trim().eq_ignore_ascii_case("for").then(|| value.trim())
                });
                node.and_then(parse_node)
            })
            .collect();
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|hop| parse_node(hop.trim()))
        .collect()
}

/// `192.0.2.1`, `192.0.2.1:443`, `"[2001:db8::1]:4711"`, `2001:db8::1`.
fn parse_node(node: &str) -> Option<IpAddr> {
    let node = node.trim().trim_matches('"');
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(addr) = node.parse::<SocketAddr>() {
        return Some(addr.ip());
    }
    let bracketed = node.strip_prefix('[')?.split(']').next()?;
    bracketed.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
}

/// The client address of a request: what the request frame decided, else the peer.
pub fn client_addr_of(extensions: &axum::http::Extensions) -> Option<ClientAddr> {
    extensions.get::<ClientAddr>().copied().or_else(|| {
        extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| ClientAddr(canonical(peer.ip())))
    })
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(client_addr_of(&parts.extensions).unwrap_or(ClientAddr(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))))
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    fn cidrs(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|c| crate::config::parse::network(c).unwrap()).collect()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn headers_from_an_untrusted_peer_are_ignored() {
        let h = headers(&[("x-forwarded-for", "203.0.113.9"), ("forwarded", "for=198.51.100.1")]);
        assert_eq!(ClientAddr::resolve(ip("192.0.2.7"), &h, &[]).0, ip("192.0.2.7"));
        let trusted = cidrs(&["10.0.0.0/8"]);
        assert_eq!(ClientAddr::resolve(ip("192.0.2.7"), &h, &trusted).0, ip("192.0.2.7"));
    }

    #[test]
    fn the_first_untrusted_hop_from_the_right_is_the_client() {
        let trusted = cidrs(&["127.0.0.1", "10.0.0.0/8"]);
        // A client-supplied first entry is not believed: only what trusted hops appended.
        let h = headers(&[("x-forwarded-for", "1.2.3.4, 203.0.113.9, 10.0.0.2")]);
        assert_eq!(ClientAddr::resolve(ip("127.0.0.1"), &h, &trusted).0, ip("203.0.113.9"));
        let h = headers(&[("forwarded", "for=1.2.3.4, for=\"[2001:db8::17]:4711\";proto=https")]);
        assert_eq!(ClientAddr::resolve(ip("10.1.1.1"), &h, &trusted).0, ip("2001:db8::17"));
        // Forwarded wins over X-Forwarded-For.
        let h = headers(&[
            ("forwarded", "for=198.51.100.4:5000"),
            ("x-forwarded-for", "203.0.113.1"),
        ]);
        assert_eq!(ClientAddr::resolve(ip("127.0.0.1"), &h, &trusted).0, ip("198.51.100.4"));
        // No header: the proxy itself.
        assert_eq!(
            ClientAddr::resolve(ip("127.0.0.1"), &HeaderMap::new(), &trusted).0,
            ip("127.0.0.1")
        );
        // An unparsable hop stops the walk at the last known address.
        let h = headers(&[("forwarded", "for=unknown, for=10.0.0.3")]);
        assert_eq!(ClientAddr::resolve(ip("127.0.0.1"), &h, &trusted).0, ip("10.0.0.3"));
        // A mapped IPv4 peer is the IPv4 address.
        assert_eq!(
            ClientAddr::resolve(
                ip("::ffff:127.0.0.1"),
                &headers(&[("x-forwarded-for", "203.0.113.5")]),
                &trusted
            )
            .0,
            ip("203.0.113.5")
        );
    }

    #[test]
    fn ipv6_budgets_are_per_64() {
        assert_eq!(ClientAddr(ip("2001:db8:1:2:aaaa::1")).budget_key(), "2001:db8:1:2::/64");
        assert_eq!(
            ClientAddr(ip("2001:db8:1:2:bbbb::9")).budget_key(),
            ClientAddr(ip("2001:db8:1:2::5")).budget_key()
        );
        assert_eq!(ClientAddr(ip("192.0.2.1")).budget_key(), "192.0.2.1");
    }
}
