//! Client-credentials grants the catalog's way: Zoom Server-to-Server
//! (`grant_type=account_credentials` + `account_id`), Genesys Cloud (per-region token URL)
//! and the generic `client_credentials` grant. Built by hand rather than with the `oauth2`
//! crate, whose client-credentials request fixes `grant_type`. Blocking.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

use super::OAuth;
use super::store::NewTokens;
use crate::catalog::{ClientAuth, Provider};
use crate::connections::request::expand_url;
use crate::connections::{ConnectionRow, Credentials};
use crate::vault::Secret;

const MAX_RESPONSE_BYTES: u64 = 256 * 1024;

#[derive(Debug)]
pub enum CredentialsFailure {
    /// The provider refused the client (wrong id/secret/account): fix the credentials.
    Rejected(String),
    Transient(String),
}

#[derive(Deserialize)]
struct TokenBody {
    access_token: String,
    token_type: Option<String>,
    expires_in: Option<serde_json::Value>,
    scope: Option<String>,
}

/// A token endpoint's refusal: RFC 6749 §5.2 `error` / `error_description`, Zoom's
/// `reason`, Genesys' `description`.
#[derive(Deserialize)]
struct ErrorBody {
    error: Option<String>,
    error_description: Option<String>,
    reason: Option<String>,
    description: Option<String>,
}

/// The provider's own words for a refusal, shown to the tenant: printable, short, and
/// never containing the secret that was sent.
fn refusal_text(status: u16, text: &str, secret: &Secret) -> String {
    let body = serde_json::from_str::<ErrorBody>(text).ok();
    let code = body.as_ref().and_then(|b| b.error.clone());
    let words = body.and_then(|b| b.error_description.or(b.reason).or(b.description));
    let described = match (code, words) {
        (Some(code), Some(words)) if words != code => format!("{code} ({words})"),
        (Some(code), _) => code,
        (None, Some(words)) => words,
        (None, None) => format!("HTTP {status}"),
    };
    let mut clean: String = described.chars().filter(|c| !c.is_control()).take(200).collect();
    if !secret.expose().is_empty() {
        clean = clean.replace(secret.expose(), "****");
    }
    clean
}

fn required(credentials: &Credentials, name: &str) -> Result<Secret, CredentialsFailure> {
    credentials
        .get(name)
        .filter(|v| !v.expose().is_empty())
        .ok_or_else(|| CredentialsFailure::Rejected(format!("credential field `{name}` is not set")))
}

/// Requests a new access token from the provider's token endpoint.
pub fn acquire(
    app: &OAuth,
    provider: &Provider,
    row: &ConnectionRow,
    credentials: &Credentials,
) -> Result<NewTokens, CredentialsFailure> {
    let grant = provider.client_credentials.clone();
    let grant_type = grant
        .as_ref()
        .map_or("client_credentials", |g| g.grant_type.as_str())
        .to_owned();
    let client_auth = grant.as_ref().map_or(ClientAuth::Basic, |g| g.client_auth);
    let template = provider
        .token_url
        .as_deref()
        .ok_or_else(|| CredentialsFailure::Rejected("the catalog has no token URL".into()))?;
    let url = expand_url(template, &row.config).map_err(|e| CredentialsFailure::Rejected(e.to_string()))?;
    let client_id = required(credentials, "client_id")?;
    let client_secret = required(credentials, "client_secret")?;

    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair("grant_type", &grant_type);
    for name in grant.as_ref().map(|g| g.params.as_slice()).unwrap_or_default() {
        form.append_pair(name, required(credentials, name)?.expose());
    }
    if !provider.scopes.is_empty() {
        form.append_pair("scope", &provider.scopes.join(" "));
    }
    let mut request = ureq::http::Request::builder()
        .method("POST")
        .uri(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json");
    match client_auth {
        ClientAuth::Basic => {
            let pair = format!("{}:{}", client_id.expose(), client_secret.expose());
            request = request.header("authorization", format!("Basic {}", STANDARD.encode(pair)));
        }
        ClientAuth::Body => {
            form.append_pair("client_id", client_id.expose());
            form.append_pair("client_secret", client_secret.expose());
        }
    }
    let body = zeroize::Zeroizing::new(form.finish());
    let request = request
        .body(body.as_bytes().to_vec())
        .map_err(|_| CredentialsFailure::Rejected("the token URL is not valid".into()))?;
    let response = app
        .agents
        .for_template(Some(template))
        .run(request)
        .map_err(|e| CredentialsFailure::Transient(crate::net::describe_transport_error(&e)))?;
    let status = response.status().as_u16();
    let text = response
        .into_body()
        .with_config()
        .limit(MAX_RESPONSE_BYTES)
        .read_to_string()
        .map_err(|e| CredentialsFailure::Transient(crate::net::describe_transport_error(&e)))?;
    if !(200..300).contains(&status) {
        let described = refusal_text(status, &text, &client_secret);
        // 400 (RFC 6749 §5.2: invalid_client, invalid_grant, ...), 401 and 403 are the
        // credentials being refused; asking again cannot help until they change.
        return Err(match status {
            400 | 401 | 403 => CredentialsFailure::Rejected(described),
            _ => CredentialsFailure::Transient(format!("the provider answered {described}")),
        });
    }
    let parsed: TokenBody = serde_json::from_str(&text)
        .map_err(|_| CredentialsFailure::Transient("the token response was not understood".into()))?;
    let expires_in = match parsed.expires_in {
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.parse().ok(),
        _ => None,
    };
    Ok(NewTokens {
        access_token: Secret::new(parsed.access_token),
        refresh_token: None,
        token_type: normalise_token_type(parsed.token_type.as_deref()),
        scopes: parsed.scope,
        expires_in: expires_in.map(std::time::Duration::from_secs),
    })
}

fn normalise_token_type(kind: Option<&str>) -> String {
    match kind {
        None => "Bearer".into(),
        Some(k) if k.eq_ignore_ascii_case("bearer") => "Bearer".into(),
        Some(k) => k.to_owned(),
    }
}
