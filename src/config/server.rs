//! Settings of the listener itself: how long a client may take, how many may be
//! connected, and which proxies in front of tessera are believed about the client.

use std::time::Duration;

use super::parse::{self, IpNet};

#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// A request's headers must arrive within this, counted from when the connection
    /// starts waiting for them (`header_read_timeout_secs`, default 10).
    pub header_read_timeout: Duration,
    /// A request's whole body must arrive within this after its headers
    /// (`request_body_timeout_secs`, default 30).
    pub request_body_timeout: Duration,
    /// A kept-alive connection with no request for this long is closed
    /// (`idle_timeout_secs`, default 5; at most the header read timeout).
    pub idle_timeout: Duration,
    /// Open client connections at most; more wait in the listen backlog
    /// (`max_connections`, default 1024).
    pub max_connections: usize,
    /// Proxies whose `X-Forwarded-For` / `Forwarded` headers name the client
    /// (`trusted_proxies`, CIDRs; default none: the socket's peer is the client).
    pub trusted_proxies: Vec<IpNet>,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            header_read_timeout: Duration::from_secs(10),
            request_body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(5),
            max_connections: 1024,
            trusted_proxies: Vec::new(),
        }
    }
}

impl ServerSettings {
    /// Applies one named setting; `Ok(false)` when the name is not one of these.
    pub fn apply(&mut self, name: &str, value: &str) -> Result<bool, String> {
        let secs = |value: &str| -> Result<Duration, String> {
            match value.trim().parse::<u64>() {
                Ok(n) if (1..=24 * 3600).contains(&n) => Ok(Duration::from_secs(n)),
                _ => Err("expected a number of seconds from 1 to 86400".into()),
            }
        };
        match name {
            "header_read_timeout_secs" => self.header_read_timeout = secs(value)?,
            "request_body_timeout_secs" => self.request_body_timeout = secs(value)?,
            "idle_timeout_secs" => self.idle_timeout = secs(value)?,
            "max_connections" => {
                self.max_connections = value
                    .trim()
                    .parse()
                    .ok()
                    .filter(|n| (1..=1_000_000).contains(n))
                    .ok_or("expected a number of connections from 1 to 1000000")?;
            }
            "trusted_proxies" => {
                self.trusted_proxies = parse::networks(value)?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses_nonsense() {
        let mut s = ServerSettings::default();
        assert!(s.apply("header_read_timeout_secs", "3").unwrap());
        assert_eq!(s.header_read_timeout, Duration::from_secs(3));
        assert!(s.apply("trusted_proxies", "127.0.0.1/32, 10.0.0.0/8,::1/128").unwrap());
        assert_eq!(s.trusted_proxies.len(), 3);
        assert!(s.apply("trusted_proxies", "10.0.0.0/99").is_err());
        assert!(s.apply("max_connections", "0").is_err());
        assert!(s.apply("idle_timeout_secs", "soon").is_err());
        assert!(!s.apply("listen", "x").unwrap());
    }
}
