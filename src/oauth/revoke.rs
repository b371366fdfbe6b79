//! Disconnect: revoke the connection's tokens at the provider (RFC 7009) where the catalog
//! has a `revocation_url`, before the connection (and with it the sealed tokens) is deleted.

use oauth2::basic::BasicClient;
use oauth2::{
    AccessToken, ClientId, ClientSecret, RefreshToken, RevocationUrl, StandardRevocableToken,
};

use super::OAuthError;
use super::apps::resolve_app;
use super::http_client::UreqClient;
use super::store as tokens;
use crate::app::AppState;
use crate::connections::request::expand_url;
use crate::connections::{find_connection, open_credentials};

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
pub fn revoke_connection_tokens(app: &AppState, tenant_id: &str, provider_key: &str) -> Result<Revocation, OAuthError> {
    let Some(provider) = app.catalog.get(provider_key) else {
        return Ok(Revocation::NotApplicable);
    };
    let loaded = app.store.read(|conn| {
        let Some(row) = find_connection(conn, tenant_id, provider_key)? else {
            return Ok::<_, OAuthError>(None);
        };
        let stored = tokens::load(conn, &app.vault, tenant_id, &row.id)?;
        let credentials = open_credentials(conn, &app.vault, &row)?;
        let client = resolve_app(conn, &app.vault, &app.config, provider_key, &credentials).ok();
        Ok(Some((row, stored, client)))
    })?;
    let Some((row, stored, client_app)) = loaded else {
        return Ok(Revocation::NotApplicable);
    };
    app.oauth.forget(&row.id);
    let (Some(stored), Some(template)) = (stored, provider.revocation_url.as_deref()) else {
        return Ok(Revocation::NotApplicable);
    };
    let Some(client_app) = client_app else {
        return Ok(Revocation::Failed);
    };
    let Ok(url) = expand_url(template, &row.config) else {
        return Ok(Revocation::Failed);
    };
    let Ok(revocation_url) = RevocationUrl::new(url) else {
        return Ok(Revocation::Failed);
    };
    let mut client = BasicClient::new(ClientId::new(client_app.client_id.clone())).set_revocation_url(revocation_url);
    if let Some(secret) = &client_app.client_secret {
        client = client.set_client_secret(ClientSecret::new(secret.expose().to_owned()));
    }
    let mut revocable = Vec::new();
    if let Some(refresh) = &stored.refresh_token {
        revocable.push(StandardRevocableToken::RefreshToken(RefreshToken::new(
            refresh.expose().to_owned(),
        )));
    }
    revocable.push(StandardRevocableToken::AccessToken(AccessToken::new(
        stored.access_token.expose().to_owned(),
    )));
    let mut outcome = Revocation::Revoked;
    for token in revocable {
        let result = match client.revoke_token(token) {
            Ok(request) => request.request(&UreqClient(&app.http)).map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(error) = result {
            tracing::warn!(provider = provider_key, %error, "token revocation failed");
            outcome = Revocation::Failed;
        }
    }
    Ok(outcome)
}

/// Called by the connection DELETE handler before it deletes. Never fails the delete.
pub async fn before_delete(app: &AppState, tenant_id: &str, provider_key: &str) -> Revocation {
    let (app, tenant_id, provider_key) = (app.clone(), tenant_id.to_owned(), provider_key.to_owned());
    match tokio::task::spawn_blocking(move || revoke_connection_tokens(&app, &tenant_id, &provider_key)).await {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "token revocation skipped");
            Revocation::Failed
        }
        Err(_) => Revocation::Failed,
    }
}
