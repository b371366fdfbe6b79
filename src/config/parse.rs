//! Parsers for setting values. Each turns the text of one setting (from the file, where
//! arrays arrive comma-joined, or from the environment) into a typed value, or says in
//! words what was expected.

use std::net::IpAddr;
use std::time::Duration;

pub use ipnet::IpNet;

/// Longest delay a retry schedule may name.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(30 * 86_400);

pub fn flag(value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        other => Err(format!("`{other}` is not true or false")),
    }
}

/// A positive whole number (limits, intervals).
pub fn positive_count(value: &str) -> Result<u32, String> {
    match value.trim().parse::<u32>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("`{value}` is not a positive whole number")),
    }
}

/// Any whole number of `unit` (`"threads"`, `"bytes"`, ...).
pub fn number<T: std::str::FromStr>(value: &str, unit: &str) -> Result<T, String> {
    value.trim().parse().map_err(|_| format!("expected a number of {unit}"))
}

/// Whole seconds.
pub fn whole_seconds(value: &str) -> Result<Duration, String> {
    number::<u64>(value, "seconds").map(Duration::from_secs)
}

/// Whole milliseconds.
pub fn milliseconds(value: &str) -> Result<Duration, String> {
    number::<u64>(value, "milliseconds").map(Duration::from_millis)
}

/// Whole or fractional seconds (`"0.5"`, `"600"`).
pub fn seconds(value: &str) -> Result<Duration, String> {
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| format!("`{value}` is not a number of seconds"))
}

/// Comma-separated items, trimmed, empty ones dropped.
pub fn list(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// Comma-separated delays in seconds (fractions allowed, e.g. `0.2,0.5,1`), each at most
/// 30 days. An empty list is a valid schedule: "never retry".
pub fn delays(value: &str) -> Result<Vec<Duration>, String> {
    list(value)
        .map(|s| {
            s.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0 && *v <= MAX_RETRY_DELAY.as_secs_f64())
                .map(Duration::from_secs_f64)
                .ok_or_else(|| format!("`{s}` is not a number of seconds"))
        })
        .collect()
}

/// One IP network in CIDR form (`10.0.0.0/8`, `fd00::/8`) or a single address.
pub fn network(value: &str) -> Result<IpNet, String> {
    let text = value.trim();
    match text.split_once('/') {
        None => text
            .parse::<IpAddr>()
            .map(IpNet::from)
            .map_err(|_| format!("`{text}` is not an IP network")),
        Some((addr, _)) => {
            addr.parse::<IpAddr>()
                .map_err(|_| format!("`{text}` is not an IP network"))?;
            text.parse::<IpNet>()
                .map_err(|_| format!("`{text}` has a bad prefix length"))
        }
    }
}

/// Comma-separated IP networks.
pub fn networks(value: &str) -> Result<Vec<IpNet>, String> {
    list(value).map(network).collect()
}

/// An absolute http(s) URL, without a trailing slash.
pub fn base_url(value: &str) -> Result<String, String> {
    let trimmed = value.trim().trim_end_matches('/');
    let parsed = url::Url::parse(trimmed).map_err(|e| format!("`{value}` is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("must be an http or https URL".into());
    }
    Ok(trimmed.to_owned())
}

/// Comma-separated URLs, each reduced to its origin (`https://app.example:8443`).
pub fn origins(value: &str) -> Result<Vec<String>, String> {
    list(value)
        .map(|item| {
            url::Url::parse(item)
                .map(|url| url.origin().ascii_serialization())
                .map_err(|e| format!("`{item}` is not a URL: {e}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_whole_and_fractional() {
        assert_eq!(seconds("0.5").unwrap(), Duration::from_millis(500));
        assert!(seconds("-1").is_err());
        assert!(seconds("soon").is_err());
        assert_eq!(whole_seconds(" 30 ").unwrap(), Duration::from_secs(30));
        assert!(whole_seconds("0.5").is_err());
    }

    #[test]
    fn retry_delays() {
        assert_eq!(
            delays("1, 2,0.5").unwrap(),
            [
                Duration::from_secs(1),
                Duration::from_secs(2),
                Duration::from_millis(500)
            ]
        );
        assert!(delays("").unwrap().is_empty());
        assert!(delays("1,x").unwrap_err().contains("`x`"));
        assert!(delays("3000000").is_err(), "over 30 days");
    }

    #[test]
    fn networks_with_and_without_prefix() {
        let parsed = networks("10.1.0.0/16, fd12:3456::/32,127.0.0.1").unwrap();
        assert_eq!(parsed.len(), 3);
        assert!(parsed[0].contains(&"10.1.2.3".parse::<IpAddr>().unwrap()));
        assert!(!parsed[0].contains(&"10.2.0.1".parse::<IpAddr>().unwrap()));
        assert!(parsed[2].contains(&"127.0.0.1".parse::<IpAddr>().unwrap()));
        assert!(!parsed[2].contains(&"127.0.0.2".parse::<IpAddr>().unwrap()));
        assert!(
            network("100.64.0.0/10")
                .unwrap()
                .contains(&"100.127.255.255".parse::<IpAddr>().unwrap())
        );
        assert!(
            !network("100.64.0.0/10")
                .unwrap()
                .contains(&"::1".parse::<IpAddr>().unwrap())
        );
        assert!(network("10.0.0.0/33").unwrap_err().contains("prefix"));
        assert!(network("nope").unwrap_err().contains("not an IP network"));
    }

    #[test]
    fn counts_flags_and_urls() {
        assert_eq!(positive_count("100").unwrap(), 100);
        assert!(positive_count("0").is_err());
        assert!(flag("yes").unwrap());
        assert!(!flag("").unwrap());
        assert!(flag("maybe").is_err());
        assert_eq!(base_url("https://hub.example/").unwrap(), "https://hub.example");
        assert!(base_url("ftp://hub.example").is_err());
        assert_eq!(
            origins("https://app.example/x, http://localhost:3000").unwrap(),
            ["https://app.example", "http://localhost:3000"]
        );
    }
}
