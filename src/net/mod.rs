//! Calls to the outside world: one way to build an HTTP agent (timeouts on, redirects
//! off, HTTP statuses as values), used on blocking threads only.

pub mod client_addr;
pub mod ssrf;

use std::sync::Arc;
use std::time::Duration;

pub use client_addr::ClientAddr;
pub use ssrf::{NameResolver, SystemResolver, TargetError, TargetPolicy};

/// A blocking HTTP agent for provider APIs named by the catalog.
pub fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .max_redirects(0)
        .http_status_as_error(false)
        .user_agent(concat!("tessera/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

/// A blocking HTTP agent for calls tessera makes to itself (test deliveries to its own
/// webhook URL): like [`agent`], but never through a proxy from the environment.
pub fn own_agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .max_redirects(0)
        .http_status_as_error(false)
        .proxy(None)
        .user_agent(concat!("tessera/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

/// The base URL at which this server reaches itself: its listen address, with an
/// unspecified address (`0.0.0.0`, `::`) replaced by loopback.
pub fn own_base_url(listen: std::net::SocketAddr) -> String {
    let ip = match listen.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => std::net::IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", std::net::SocketAddr::new(ip, listen.port()))
}

/// A blocking HTTP agent for tenant-supplied URLs: like [`agent`], plus every address is
/// vetted by the SSRF guard at connect time, redirects are off and no proxy from the
/// environment is used (a proxy would resolve the target where the guard cannot see it).
pub fn guarded_agent(timeout: Duration, policy: &TargetPolicy) -> ureq::Agent {
    guarded_agent_with(timeout, policy, Arc::new(SystemResolver))
}

/// [`guarded_agent`] with a chosen name resolver (tests).
pub fn guarded_agent_with(timeout: Duration, policy: &TargetPolicy, names: Arc<dyn NameResolver>) -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .max_redirects(0)
        .max_redirects_will_error(false)
        .http_status_as_error(false)
        .proxy(None)
        .max_idle_connections(256)
        .max_idle_connections_per_host(64)
        .user_agent(concat!("tessera-webhooks/", env!("CARGO_PKG_VERSION")))
        .build();
    ureq::Agent::with_parts(
        config,
        ureq::unversioned::transport::DefaultConnector::default(),
        ssrf::GuardedResolver::new(policy.clone(), names),
    )
}

/// The two agents outside calls go through. Cheap to clone.
#[derive(Clone)]
pub struct Agents {
    /// For fixed provider URLs (timeouts on, redirects off): keeps connections warm.
    fixed: ureq::Agent,
    /// For URLs a tenant's config shapes (`{base_url}`, `{shop}`): every address is
    /// vetted by the SSRF guard.
    tenant_shaped: ureq::Agent,
}

impl std::fmt::Debug for Agents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Agents")
    }
}

impl Agents {
    pub fn new(timeout: Duration, policy: &TargetPolicy) -> Agents {
        Agents {
            fixed: agent(timeout),
            tenant_shaped: guarded_agent(timeout, policy),
        }
    }

    /// The agent for a URL built from catalog `template`: the SSRF-guarded one when a
    /// tenant's config fills a placeholder in it, the shared one for fixed provider URLs.
    pub fn for_template(&self, template: Option<&str>) -> &ureq::Agent {
        if template.is_some_and(crate::catalog::is_tenant_shaped) {
            &self.tenant_shaped
        } else {
            &self.fixed
        }
    }

    /// The agent for fixed URLs (tessera's own, a catalog URL without placeholders).
    pub fn fixed(&self) -> &ureq::Agent {
        &self.fixed
    }
}

/// How an outside call ended, in words safe to show a user (never a secret or a body).
pub fn describe_transport_error(err: &ureq::Error) -> String {
    match err {
        ureq::Error::Timeout(_) => "timed out".into(),
        ureq::Error::HostNotFound => "host not found".into(),
        ureq::Error::Io(e) if e.kind() == ssrf::REFUSED_KIND => format!("refused: {e}"),
        ureq::Error::Io(e) => format!("connection failed: {}", e.kind()),
        ureq::Error::ConnectionFailed => "connection failed".into(),
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) => "TLS handshake failed".into(),
        ureq::Error::BodyExceedsLimit(limit) => format!("response larger than {limit} bytes"),
        other => format!(
            "request failed: {}",
            other.to_string().chars().take(120).collect::<String>()
        ),
    }
}
