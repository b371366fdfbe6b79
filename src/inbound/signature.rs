//! Inbound signature schemes, checked on the raw body in constant time before anything
//! else looks at a delivery. An unknown scheme or an empty secret fails closed.

use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::catalog::WebhookSpec;

type HmacSha256 = Hmac<Sha256>;

/// Default allowed clock difference for timestamped schemes.
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

/// Scheme names the catalog may use.
pub const SCHEMES: &[&str] = &[
    "hmac-sha256-hex",
    "hmac-sha256-base64",
    "stripe",
    "standard-webhooks",
    "eventbrite-fetch",
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signature header `{0}` is missing")]
    Missing(String),
    #[error("the signature header is malformed")]
    Malformed,
    #[error("the signature does not match")]
    Mismatch,
    #[error("the signature timestamp is outside the {0} s tolerance")]
    Stale(i64),
    #[error("no webhook secret is configured for this connection")]
    NoSecret,
    #[error("signature scheme `{0}` is not supported")]
    UnknownScheme(String),
    #[error("api_url is missing or not on the provider's API host")]
    UntrustedUrl,
}

impl SignatureError {
    /// A short machine-readable reason stored with the rejected event.
    pub fn reason(&self) -> &'static str {
        match self {
            SignatureError::Missing(_) => "missing_signature",
            SignatureError::Malformed => "malformed_signature",
            SignatureError::Mismatch => "signature_mismatch",
            SignatureError::Stale(_) => "stale_timestamp",
            SignatureError::NoSecret => "no_secret",
            SignatureError::UnknownScheme(_) => "unknown_scheme",
            SignatureError::UntrustedUrl => "untrusted_api_url",
        }
    }
}

/// What verification needs besides the request.
pub struct VerifyInput<'a> {
    pub spec: &'a WebhookSpec,
    pub secret: Option<&'a str>,
    /// For `eventbrite-fetch`: the provider API base whose host `api_url` must be on.
    pub api_base_url: Option<&'a str>,
    pub now_unix: i64,
}

pub fn verify(input: &VerifyInput<'_>, headers: &HeaderMap, body: &[u8]) -> Result<(), SignatureError> {
    let spec = input.spec;
    if spec.scheme == "eventbrite-fetch" {
        return trusted_api_url(body, input.api_base_url).map(|_| ());
    }
    if !SCHEMES.contains(&spec.scheme.as_str()) {
        return Err(SignatureError::UnknownScheme(spec.scheme.clone()));
    }
    let secret = input.secret.filter(|s| !s.is_empty()).ok_or(SignatureError::NoSecret)?;
    let tolerance = spec.tolerance_secs.map_or(DEFAULT_TOLERANCE_SECS, |t| t as i64);
    let header = |name: &str| -> Result<&str, SignatureError> {
        headers
            .get(name)
            .ok_or_else(|| SignatureError::Missing(name.to_owned()))?
            .to_str()
            .map_err(|_| SignatureError::Malformed)
    };
    match spec.scheme.as_str() {
        "hmac-sha256-hex" => {
            let value = header(&spec.header)?.trim();
            let value = value.strip_prefix("sha256=").unwrap_or(value);
            let given = hex::decode(value).map_err(|_| SignatureError::Malformed)?;
            check(&[&given], &mac(secret.as_bytes(), &[body]))
        }
        "hmac-sha256-base64" => {
            let given = STANDARD
                .decode(header(&spec.header)?.trim())
                .map_err(|_| SignatureError::Malformed)?;
            check(&[&given], &mac(secret.as_bytes(), &[body]))
        }
        "stripe" => {
            let (timestamp, signatures) = parse_stripe(header(&spec.header)?)?;
            fresh(timestamp, input.now_unix, tolerance)?;
            let expected = mac(secret.as_bytes(), &[timestamp.to_string().as_bytes(), b".", body]);
            let given: Vec<&[u8]> = signatures.iter().map(Vec::as_slice).collect();
            check(&given, &expected)
        }
        "standard-webhooks" => {
            let id = header("webhook-id")?;
            let timestamp: i64 = header("webhook-timestamp")?
                .trim()
                .parse()
                .map_err(|_| SignatureError::Malformed)?;
            let signatures = header("webhook-signature")?;
            fresh(timestamp, input.now_unix, tolerance)?;
            let key = standard_webhooks_key(secret)?;
            let expected = mac(
                &key,
                &[id.as_bytes(), b".", timestamp.to_string().as_bytes(), b".", body],
            );
            let given: Vec<Vec<u8>> = signatures
                .split(' ')
                .filter_map(|s| s.strip_prefix("v1,"))
                .filter_map(|s| STANDARD.decode(s).ok())
                .collect();
            if given.is_empty() {
                return Err(SignatureError::Malformed);
            }
            let given: Vec<&[u8]> = given.iter().map(Vec::as_slice).collect();
            check(&given, &expected)
        }
        other => Err(SignatureError::UnknownScheme(other.to_owned())),
    }
}

fn mac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC accepts keys of any length; this cannot fail.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Constant-time: true when any given signature equals the expected one.
fn check(given: &[&[u8]], expected: &[u8; 32]) -> Result<(), SignatureError> {
    let mut matched = subtle::Choice::from(0);
    for candidate in given {
        if candidate.len() == expected.len() {
            matched |= candidate.ct_eq(expected);
        }
    }
    if bool::from(matched) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

fn fresh(timestamp: i64, now: i64, tolerance: i64) -> Result<(), SignatureError> {
    if (now - timestamp).abs() > tolerance {
        return Err(SignatureError::Stale(tolerance));
    }
    Ok(())
}

/// `t=1700000000,v1=hex,v1=hex,v0=...` → (t, [v1 signatures]).
fn parse_stripe(value: &str) -> Result<(i64, Vec<Vec<u8>>), SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in value.split(',') {
        let (key, val) = part.trim().split_once('=').ok_or(SignatureError::Malformed)?;
        match key {
            "t" => timestamp = Some(val.parse::<i64>().map_err(|_| SignatureError::Malformed)?),
            "v1" => signatures.push(hex::decode(val).map_err(|_| SignatureError::Malformed)?),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    Ok((timestamp, signatures))
}

/// `whsec_<base64>` → key bytes. A secret without the prefix is used as base64 too.
fn standard_webhooks_key(secret: &str) -> Result<Vec<u8>, SignatureError> {
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    let key = STANDARD.decode(encoded).map_err(|_| SignatureError::NoSecret)?;
    if key.is_empty() {
        return Err(SignatureError::NoSecret);
    }
    Ok(key)
}

/// Eventbrite signs nothing: the only thing taken from the body is `api_url`, and only
/// when it points at the provider's own API host over the same scheme. The order is then
/// fetched from there with the tenant's token, which is what makes it authentic.
pub fn trusted_api_url(body: &[u8], api_base_url: Option<&str>) -> Result<String, SignatureError> {
    let base = api_base_url.ok_or(SignatureError::UntrustedUrl)?;
    let doc: serde_json::Value = serde_json::from_slice(body).map_err(|_| SignatureError::UntrustedUrl)?;
    let candidate = doc
        .get("api_url")
        .and_then(|v| v.as_str())
        .ok_or(SignatureError::UntrustedUrl)?;
    if !same_api_origin(candidate, base) {
        return Err(SignatureError::UntrustedUrl);
    }
    Ok(candidate.to_owned())
}

/// True when `candidate` is on the scheme, host and port of `base` and under its path,
/// with no credentials in it.
pub fn same_api_origin(candidate: &str, base: &str) -> bool {
    let (Ok(base), Ok(url)) = (url::Url::parse(base), url::Url::parse(candidate)) else {
        return false;
    };
    url.scheme() == base.scheme()
        && url.host_str().is_some()
        && url.host_str() == base.host_str()
        && url.port_or_known_default() == base.port_or_known_default()
        && url.username().is_empty()
        && url.password().is_none()
        && url.path().starts_with(base.path().trim_end_matches('/'))
}

/// Signs like the providers do: "Test with a sample event", tests and the ingest benchmark.
pub mod sign {
    use super::*;

    /// The headers a provider sends with `body` under `spec`'s scheme, signed with
    /// `secret`; `delivery_id` fills the id headers. Without a secret there is no
    /// signature header, so the delivery meets the same refusal an unsigned one does.
    pub fn delivery_headers(
        spec: &WebhookSpec,
        secret: Option<&str>,
        body: &[u8],
        now_unix: i64,
        delivery_id: &str,
    ) -> Vec<(String, String)> {
        let mut headers = Vec::new();
        let secret = secret.filter(|s| !s.is_empty());
        match (spec.scheme.as_str(), secret) {
            ("hmac-sha256-hex", Some(secret)) => headers.push((spec.header.clone(), hmac_hex(secret, body))),
            ("hmac-sha256-base64", Some(secret)) => headers.push((spec.header.clone(), hmac_base64(secret, body))),
            ("stripe", Some(secret)) => headers.push((spec.header.clone(), stripe(secret, now_unix, body))),
            ("standard-webhooks", _) => {
                headers.push(("webhook-id".into(), delivery_id.to_owned()));
                headers.push(("webhook-timestamp".into(), now_unix.to_string()));
                if let Some(secret) = secret {
                    let signature = standard_webhooks(secret, delivery_id, now_unix, body);
                    headers.push(("webhook-signature".into(), signature));
                }
            }
            _ => {}
        }
        if let Some(name) = &spec.id_header {
            headers.push((name.clone(), delivery_id.to_owned()));
        }
        headers
    }

    pub fn hmac_hex(secret: &str, body: &[u8]) -> String {
        hex::encode(mac(secret.as_bytes(), &[body]))
    }

    pub fn hmac_base64(secret: &str, body: &[u8]) -> String {
        STANDARD.encode(mac(secret.as_bytes(), &[body]))
    }

    pub fn stripe(secret: &str, timestamp: i64, body: &[u8]) -> String {
        let sig = mac(secret.as_bytes(), &[timestamp.to_string().as_bytes(), b".", body]);
        format!("t={timestamp},v1={}", hex::encode(sig))
    }

    pub fn standard_webhooks(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
        let key = standard_webhooks_key(secret).unwrap_or_default();
        let sig = mac(
            &key,
            &[id.as_bytes(), b".", timestamp.to_string().as_bytes(), b".", body],
        );
        format!("v1,{}", STANDARD.encode(sig))
    }
}

#[cfg(test)]
#[path = "signature_tests.rs"]
mod tests;
