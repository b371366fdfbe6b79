//! Calls to the outside world: one way to build an HTTP agent (timeouts on, redirects
//! off, HTTP statuses as values), used on blocking threads only.

use std::time::Duration;

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

/// How an outside call ended, in words safe to show a user (never a secret or a body).
pub fn describe_transport_error(err: &ureq::Error) -> String {
    match err {
        ureq::Error::Timeout(_) => "timed out".into(),
        ureq::Error::HostNotFound => "host not found".into(),
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
