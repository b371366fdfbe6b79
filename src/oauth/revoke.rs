//! Disconnect: revoke the connection's tokens at the provider (RFC 7009) where the catalog
//! has a `revocation_url`, before the connection (and with it the sealed tokens) is deleted.
//! Built by hand: the `oauth2` crate refuses non-HTTPS revocation URLs, which rules out
//! local authorization servers; here HTTP is allowed for loopback only.

use crate::auth::TenantScope;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::apps::{ClientApp, resolve_app};
use super::store as tokens;
use super::{OAuth, OAuthError};
use crate::connections::request::expand_url;
use crate::connections::{find_connection, open_credentials};
use crate::vault::Secret;

/// What revocation achieved, for the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Revocation {
    /// Nothing to revoke (key mode, no tokens, or no revocation URL in the catalog).
    NotApplicable,
    Revoked,
    /// The provider could not be reached or refused; the tokens are deleted anyway.
    Failed,
}

/// Revokes the refresh token (which ends the grant) and the access token. Best effort:
/// a disconnect must not fail because the provider is down. Blocking.
pub fn revoke_connection_tokens(
    app: &OAuth,
    scope: &TenantScope,
    provider_key: &str,
) -> Result<Revocation, OAuthError> {
    let tenant_id = scope.id();
    let Some(provider) = app.catalogs.provider(tenant_id, provider_key) else {
        return Ok(Revocation::NotApplicable);
    };
    let loaded = app.store.read(|conn| {
        let Some(row) = find_connection(conn, scope, provider_key)? else {
            return Ok::<_, OAuthError>(None);
        };
        let stored = tokens::load(conn, &app.vault, tenant_id, &row.id)?;
        let credentials = open_credentials(conn, &app.vault, &row)?;
        let client = resolve_app(
            conn,
            &app.vault,
            &app.settings.platform_apps,
            provider_key,
            &credentials,
        )
        .ok();
        Ok(Some((row, stored, client)))
    })?;
    let Some((row, stored, client_app)) = loaded else {
        return Ok(Revocation::NotApplicable);
    };
    app.broker.forget(&row.id);
    app.store
        .announce(&crate::store::postgres::changes::connection(&row.id))?;
    let (Some(stored), Some(template)) = (stored, provider.revocation_url.as_deref()) else {
        return Ok(Revocation::NotApplicable);
    };
    let Some(client_app) = client_app else {
        return Ok(Revocation::Failed);
    };
    let Ok(url) = expand_url(template, &row.config) else {
        return Ok(Revocation::Failed);
    };
    // RFC 7009 §2 wants HTTPS; plain HTTP is accepted for loopback only (local servers).
    let Ok(parsed) = url::Url::parse(&url) else {
        return Ok(Revocation::Failed);
    };
    let loopback = matches!(parsed.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    if parsed.scheme() != "https" && !(parsed.scheme() == "http" && loopback) {
        tracing::warn!(
            provider = provider_key,
            "revocation URL is not HTTPS; tokens not revoked"
        );
        return Ok(Revocation::Failed);
    }
    let mut revocable = Vec::new();
    if let Some(refresh) = &stored.refresh_token {
        revocable.push((refresh.clone(), "refresh_token"));
    }
    revocable.push((stored.access_token.clone(), "access_token"));
    let mut outcome = Revocation::Revoked;
    for (token, hint) in revocable {
        if let Err(error) = revoke_one(app, template, &url, &client_app, &token, hint) {
            tracing::warn!(provider = provider_key, %error, "token revocation failed");
            outcome = Revocation::Failed;
        }
    }
    Ok(outcome)
}

/// One RFC 7009 request: the token and its type hint, with client authentication.
fn revoke_one(
    app: &OAuth,
    template: &str,
    url: &str,
    client: &ClientApp,
    token: &Secret,
    hint: &str,
) -> Result<(), String> {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair("token", token.expose());
    form.append_pair("token_type_hint", hint);
    let mut request = ureq::http::Request::builder()
        .method("POST")
        .uri(url)
        .header("content-type", "application/x-www-form-urlencoded");
    match &client.client_secret {
        Some(secret) => {
            let pair = format!("{}:{}", form_encode(&client.client_id), form_encode(secret.expose()));
            request = request.header("authorization", format!("Basic {}", STANDARD.encode(pair)));
        }
        None => {
            form.append_pair("client_id", &client.client_id);
        }
    }
    let body = zeroize::Zeroizing::new(form.finish());
    let request = request
        .body(body.as_bytes().to_vec())
        .map_err(|_| "bad revocation request".to_owned())?;
    let response = app
        .agents
        .for_template(Some(template))
        .run(request)
        .map_err(|e| crate::net::describe_transport_error(&e))?;
    // RFC 7009 §2.2: 200 also for tokens the server no longer knows.
    match response.status().as_u16() {
        200 => Ok(()),
        status => Err(format!("the provider answered {status}")),
    }
}

/// RFC 6749 §2.3.1: client id and secret are form-encoded before Basic encoding.
fn form_encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Called by the connection DELETE handler before it deletes. Never fails the delete.
pub async fn before_delete(app: &OAuth, scope: &TenantScope, provider_key: &str) -> Revocation {
    let (app, scope, provider_key) = (app.clone(), scope.clone(), provider_key.to_owned());
    match tokio::task::spawn_blocking(move || revoke_connection_tokens(&app, &scope, &provider_key)).await {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "token revocation skipped");
            Revocation::Failed
        }
        Err(_) => Revocation::Failed,
    }
}
