//! The SSRF guard for tenant-supplied URLs.
//!
//! A URL is parsed (the WHATWG parser in `url` turns `0x7f000001`, `2130706433` and
//! `0177.0.0.1` into `127.0.0.1`), its host resolved, and refused when any address is
//! internal: loopback, private, link-local, CGNAT, multicast, unspecified, broadcast,
//! documentation/benchmark ranges, or an IPv4 address embedded in IPv6 (mapped, NAT64,
//! 6to4, IPv4-compatible) that is itself internal. The same check runs inside the HTTP
//! agent's resolver ([`GuardedResolver`]), so the connection goes only to addresses that
//! were vetted at connect time — a DNS answer that changes after validation gains nothing.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use ipnet::IpNet;

use ureq::config::Config as UreqConfig;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

/// What tenant-supplied targets may reach.
#[derive(Debug, Clone, Default)]
pub struct TargetPolicy {
    /// Everything allowed (development and tests only).
    pub allow_private: bool,
    /// Internal networks opened explicitly (e.g. a VPN range of the operator's).
    pub allowed: Vec<IpNet>,
}

impl TargetPolicy {
    pub fn new(allow_private: bool, allowed: Vec<IpNet>) -> TargetPolicy {
        TargetPolicy { allow_private, allowed }
    }

    /// Why `ip` may not be reached, if it may not.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), Refusal> {
        if self.allow_private || self.allowed.iter().any(|net| net.contains(&ip)) {
            return Ok(());
        }
        match internal_range(ip) {
            Some(range) => Err(Refusal { ip, range }),
            None => Ok(()),
        }
    }
}

/// An address the guard refused, and the range it falls in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub ip: IpAddr,
    pub range: &'static str,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} is an internal address ({}); tessera does not call internal addresses unless \
             TESSERA_ALLOW_PRIVATE_TARGETS or TESSERA_ALLOWED_TARGET_CIDRS allows them",
            self.ip, self.range
        )
    }
}

/// The internal range `ip` belongs to, if any.
pub fn internal_range(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => internal_v4(v4),
        IpAddr::V6(v6) => internal_v6(v6),
    }
}

fn internal_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    let range = match (a, b, c) {
        (0, _, _) => "\"this network\" (0.0.0.0/8)",
        (10, _, _) => "private (10.0.0.0/8)",
        (100, 64..=127, _) => "carrier-grade NAT (100.64.0.0/10)",
        (127, _, _) => "loopback",
        (169, 254, _) => "link-local",
        (172, 16..=31, _) => "private (172.16.0.0/12)",
        (192, 0, 0) => "IETF protocol assignment (192.0.0.0/24)",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation",
        (192, 88, 99) => "6to4 relay anycast",
        (192, 168, _) => "private (192.168.0.0/16)",
        (198, 18..=19, _) => "benchmarking (198.18.0.0/15)",
        (224..=239, _, _) => "multicast",
        (240..=255, _, _) if ip == Ipv4Addr::BROADCAST => "broadcast",
        (240..=255, _, _) => "reserved (240.0.0.0/4)",
        _ => return None,
    };
    Some(range)
}

fn internal_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let seg = ip.segments();
    if ip.is_unspecified() {
        return Some("unspecified");
    }
    if ip.is_loopback() {
        return Some("loopback");
    }
    // IPv4 carried inside IPv6: judge the embedded address, and refuse the carrier forms
    // outright when they embed an internal one.
    let embedded = if seg[..5] == [0, 0, 0, 0, 0] && seg[5] == 0xffff {
        Some(("IPv4-mapped", v4_from(seg[6], seg[7])))
    } else if seg[..6] == [0, 0, 0, 0, 0, 0] {
        Some(("IPv4-compatible", v4_from(seg[6], seg[7])))
    } else if seg[0] == 0x64 && seg[1] == 0xff9b && seg[2..6] == [0, 0, 0, 0] {
        Some(("NAT64", v4_from(seg[6], seg[7])))
    } else if seg[0] == 0x64 && seg[1] == 0xff9b && seg[2] == 1 {
        return Some("local-use NAT64 (64:ff9b:1::/48)");
    } else if seg[0] == 0x2002 {
        Some(("6to4", v4_from(seg[1], seg[2])))
    } else {
        None
    };
    if let Some((form, v4)) = embedded {
        // IPv4-compatible and NAT64 forms are deprecated or translation-only: refuse them
        // all rather than reason about which gateway would carry them where.
        return match internal_v4(v4) {
            Some(_) => Some(match form {
                "IPv4-mapped" => "IPv4-mapped internal",
                "IPv4-compatible" => "IPv4-compatible internal",
                "NAT64" => "NAT64 internal",
                _ => "6to4 internal",
            }),
            None if form == "IPv4-mapped" => None,
            None => Some(match form {
                "IPv4-compatible" => "IPv4-compatible (deprecated)",
                "NAT64" => "NAT64-translated",
                _ => "6to4",
            }),
        };
    }
    let range = match seg[0] {
        0x0100 if seg[1..4] == [0, 0, 0] => "discard-only (100::/64)",
        0x2001 if seg[1] == 0x0db8 => "documentation (2001:db8::/32)",
        0x2001 if seg[1] < 0x0200 => "IETF protocol assignment (2001::/23)",
        0x3fff if seg[1] < 0x1000 => "documentation (3fff::/20)",
        s if s & 0xfe00 == 0xfc00 => "unique local (fc00::/7)",
        s if s & 0xffc0 == 0xfe80 => "link-local",
        s if s & 0xffc0 == 0xfec0 => "site-local (deprecated)",
        s if s & 0xff00 == 0xff00 => "multicast",
        _ => return None,
    };
    Some(range)
}

fn v4_from(hi: u16, lo: u16) -> Ipv4Addr {
    Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8)
}

/// Why a tenant-supplied URL cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("not a valid URL: {0}")]
    Invalid(String),
    #[error("only http and https URLs are allowed")]
    Scheme,
    #[error("the URL must not carry a user name or password")]
    Credentials,
    #[error("the host `{0}` does not resolve")]
    Unresolvable(String),
    #[error("{0}")]
    Refused(Refusal),
}

/// Resolves `host:port` to addresses. Pluggable so tests can decide what names resolve to.
pub trait NameResolver: Send + Sync + 'static {
    fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>>;
}

/// The system resolver (getaddrinfo).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemResolver;

impl NameResolver for SystemResolver {
    fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        Ok((host, port).to_socket_addrs()?.collect())
    }
}

/// Parses and normalises a tenant-supplied URL without resolving it.
pub fn parse_target(raw: &str) -> Result<url::Url, TargetError> {
    let url = url::Url::parse(raw.trim()).map_err(|e| TargetError::Invalid(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(TargetError::Scheme);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(TargetError::Credentials);
    }
    if url.host().is_none() {
        return Err(TargetError::Invalid("no host".into()));
    }
    Ok(url)
}

/// Checks every address `url`'s host stands for; returns them when all are allowed.
pub fn vet_url(
    url: &url::Url,
    policy: &TargetPolicy,
    resolver: &dyn NameResolver,
) -> Result<Vec<SocketAddr>, TargetError> {
    let port = url.port_or_known_default().unwrap_or(80);
    let addrs = match url.host() {
        Some(url::Host::Ipv4(ip)) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
        Some(url::Host::Ipv6(ip)) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
        Some(url::Host::Domain(name)) => resolver
            .resolve(name, port)
            .map_err(|_| TargetError::Unresolvable(name.to_owned()))?,
        None => return Err(TargetError::Invalid("no host".into())),
    };
    if addrs.is_empty() {
        return Err(TargetError::Unresolvable(url.host_str().unwrap_or("").to_owned()));
    }
    for addr in &addrs {
        policy.check_ip(addr.ip()).map_err(TargetError::Refused)?;
    }
    Ok(addrs)
}

/// Parses, normalises and vets a tenant-supplied URL; returns the normalised URL.
pub fn check_target(raw: &str, policy: &TargetPolicy, resolver: &dyn NameResolver) -> Result<url::Url, TargetError> {
    let url = parse_target(raw)?;
    vet_url(&url, policy, resolver)?;
    Ok(url)
}

/// ureq resolver that vets every address before the agent may connect to it.
pub struct GuardedResolver {
    policy: TargetPolicy,
    names: Arc<dyn NameResolver>,
}

impl GuardedResolver {
    pub fn new(policy: TargetPolicy, names: Arc<dyn NameResolver>) -> Self {
        GuardedResolver { policy, names }
    }
}

impl fmt::Debug for GuardedResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GuardedResolver").field("policy", &self.policy).finish()
    }
}

/// The io error kind that marks a refusal by the guard (its message is safe to show).
pub const REFUSED_KIND: io::ErrorKind = io::ErrorKind::PermissionDenied;

impl Resolver for GuardedResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &UreqConfig,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let _ = (config, timeout);
        // Re-parse through the WHATWG parser so numeric host forms mean what a browser
        // would take them to mean, whatever getaddrinfo would make of them.
        let url =
            parse_target(&uri.to_string()).map_err(|e| ureq::Error::Io(io::Error::new(REFUSED_KIND, e.to_string())))?;
        let addrs = vet_url(&url, &self.policy, self.names.as_ref()).map_err(|e| match e {
            TargetError::Unresolvable(_) => ureq::Error::HostNotFound,
            other => ureq::Error::Io(io::Error::new(REFUSED_KIND, other.to_string())),
        })?;
        let mut out = DefaultResolver::default().empty();
        for addr in addrs.into_iter().take(16) {
            out.push(addr);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
