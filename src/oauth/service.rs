//! Access tokens on demand: from memory when fresh, else refreshed (authorization code)
//! or acquired (client credentials), one upstream call per connection at a time.

use crate::auth::TenantScope;
use oauth2::basic::{BasicClient, BasicErrorResponseType};
use oauth2::{ClientId, ClientSecret, RefreshToken, RequestTokenError, TokenResponse, TokenUrl};
use serde_json::json;
use time::OffsetDateTime;

use super::apps::resolve_app;
use super::client_credentials::{self, CredentialsFailure};
use super::flow::token_type_name;
use super::http_client::UreqClient;
use super::store::{self as tokens, NewTokens, TokenRow};
use super::{CachedToken, OAuth, OAuthError};
use crate::catalog::{AuthMode, Provider};
use crate::connections::request::expand_url;
use crate::connections::{ConnectionRow, Credentials, Status, find_connection, open_credentials, set_status};
use crate::time::format_rfc3339;
use crate::vault::Secret;

/// What `/token` answers.
#[derive(Debug, Clone)]
pub struct TokenGrant {
    pub access_token: Secret,
    pub token_type: String,
    pub expires_at: Option<OffsetDateTime>,
    /// Whether this call went upstream (refresh or acquire).
    pub renewed: bool,
}

/// Why a refresh or acquire failed.
#[derive(Debug)]
pub enum RenewFailure {
    /// The provider said no for good (`invalid_grant`, bad client): re-authorize.
    Rejected(String),
    /// Network trouble or a server error: try again later.
    Transient(String),
}

impl From<CredentialsFailure> for RenewFailure {
    fn from(f: CredentialsFailure) -> Self {
        match f {
            CredentialsFailure::Rejected(m) => RenewFailure::Rejected(m),
            CredentialsFailure::Transient(m) => RenewFailure::Transient(m),
        }
    }
}

fn token_provider(app: &OAuth, tenant_id: &str, key: &str) -> Result<std::sync::Arc<Provider>, OAuthError> {
    app.catalogs
        .provider(tenant_id, key)
        .ok_or_else(|| OAuthError::UnknownProvider(key.to_owned()))
}

/// The access token of a tenant's `oauth2` or `client_credentials` connection, renewed
/// first when it expires within the read margin (or always, with `force`). Blocking.
pub fn ensure_token(
    app: &OAuth,
    scope: &TenantScope,
    provider_key: &str,
    force: bool,
) -> Result<TokenGrant, OAuthError> {
    let tenant_id = scope.id();
    let provider = token_provider(app, tenant_id, provider_key)?;
    let provider = &*provider;
    let row = app
        .store
        .read(|conn| find_connection(conn, scope, provider_key))?
        .ok_or_else(|| OAuthError::NotFound(provider_key.to_owned()))?;
    app.broker.remember_connection(tenant_id, provider_key, &row.id);
    if !row.auth_mode.uses_access_token() {
        return Err(OAuthError::NotSupported(format!(
            "this connection uses auth mode `{}`, which has no access token; read it with /credentials",
            row.auth_mode.as_str()
        )));
    }
    let margin = app.settings.read_margin;
    if !force
        && let Some(cached) = app.broker.cached(&row.id)
        && cached.expires_at.is_none_or(|at| at - app.clock.now() > margin)
    {
        return Ok(TokenGrant {
            access_token: cached.access_token,
            token_type: cached.token_type,
            expires_at: cached.expires_at,
            renewed: false,
        });
    }
    let requested_at = app.clock.now();
    renew_under_lock(
        app,
        provider,
        &row,
        Renew::IfExpiring {
            margin,
            force_since: force.then_some(requested_at),
        },
    )
}

#[derive(Debug, Clone, Copy)]
pub enum Renew {
    /// Renew when the token expires within `margin`; with `force_since`, also renew unless
    /// another caller already renewed it after that moment (so forced callers share one).
    IfExpiring {
        margin: std::time::Duration,
        force_since: Option<OffsetDateTime>,
    },
}

/// How long a renewal waits for another node's renewal of the same connection: longer
/// than that node's upstream calls can take, short enough to answer a caller.
const RENEWAL_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

fn renewal_lock_name(connection_id: &str) -> String {
    format!("oauth-renewal:{connection_id}")
}

/// Takes the connection's lock, re-reads the stored token (another caller may have just
/// renewed it), and renews it only if still needed.
pub fn renew_under_lock(
    app: &OAuth,
    provider: &Provider,
    row: &ConnectionRow,
    renew: Renew,
) -> Result<TokenGrant, OAuthError> {
    // This node's callers queue on the in-memory lock; one of them at a time then queues
    // with the other nodes', so a rotating refresh token is spent once across all nodes.
    let lock = app.broker.lock_for(&row.id);
    let _guard = lock.lock().unwrap_or_else(|e| e.into_inner());
    let _across_nodes = app
        .store
        .lock_across_nodes(&renewal_lock_name(&row.id), RENEWAL_LOCK_WAIT)
        .map_err(|e| {
            if e.is_lock_timeout() {
                OAuthError::Upstream("another node is still renewing this connection's token; try again".into())
            } else {
                e.into()
            }
        })?;
    let Renew::IfExpiring { margin, force_since } = renew;
    let (current, credentials) = app.store.read(|conn| {
        let current = tokens::load(conn, &app.vault, &row.tenant_id, &row.id)?;
        let credentials = open_credentials(conn, &app.vault, row)?;
        Ok::<_, OAuthError>((current, credentials))
    })?;
    let now = app.clock.now();
    if let Some(current) = &current {
        let renewed_meanwhile = force_since.is_some_and(|since| current.obtained_at >= since);
        let wanted = force_since.is_some() && !renewed_meanwhile;
        if !wanted && current.fresh_for(now, margin) {
            return Ok(grant(app, current, false));
        }
        // Backing off after transient failures: keep serving the token while it is valid.
        if !wanted && current.retry_at.is_some_and(|at| at > now) && current.usable_at(now) {
            return Ok(grant(app, current, false));
        }
    }
    // Already refused by the provider: do not ask again on every read (each refusal
    // would emit another event); a forced refresh or new credentials try again.
    if force_since.is_none() && matches!(row.status, Status::NeedsReauth | Status::Invalid) {
        return match &current {
            Some(current) if current.usable_at(now) => Ok(grant(app, current, false)),
            _ => Err(refused(
                row,
                row.last_error
                    .clone()
                    .unwrap_or_else(|| "the provider refused the last renewal".into()),
            )),
        };
    }
    let outcome = match row.auth_mode {
        AuthMode::Oauth2 => {
            let Some(refresh_token) = current.as_ref().and_then(|c| c.refresh_token.clone()) else {
                return match &current {
                    Some(current) if current.usable_at(now) => Ok(grant(app, current, false)),
                    Some(_) => {
                        mark_needs_reauth(
                            app,
                            row,
                            "the access token expired and the provider issued no refresh token",
                        )?;
                        Err(OAuthError::NeedsReauth(
                            "the access token expired and there is no refresh token".into(),
                        ))
                    }
                    None => Err(OAuthError::NotSupported(
                        "this connection has no tokens yet: authorize it first".into(),
                    )),
                };
            };
            refresh(app, provider, row, &credentials, &refresh_token)
        }
        AuthMode::ClientCredentials => {
            client_credentials::acquire(app, provider, row, &credentials).map_err(Into::into)
        }
        other => {
            return Err(OAuthError::NotSupported(format!(
                "auth mode `{}` has no access token",
                other.as_str()
            )));
        }
    };
    app.metrics.token_refresh(&row.provider, outcome.is_ok());
    match outcome {
        Ok(new_tokens) => {
            // Stamped on completion: forced callers who asked before this moment share it.
            let now = app.clock.now();
            let saved = app.store.write(|tx| {
                let saved = tokens::save(tx, &app.vault, &row.tenant_id, &row.id, &new_tokens, now)?;
                let verified = format_rfc3339(now);
                set_status(
                    tx,
                    &crate::auth::PlatformScope::for_server_work().narrow_to(&row.tenant_id),
                    &row.id,
                    Status::Active,
                    None,
                    Some(&verified),
                )?;
                // Other nodes drop the token they hold (a forced renewal replaced it).
                tx.announce(&crate::store::postgres::changes::connection(&row.id))?;
                Ok::<_, OAuthError>(saved)
            })?;
            Ok(grant(app, &saved, true))
        }
        Err(RenewFailure::Rejected(reason)) => {
            mark_needs_reauth(app, row, &reason)?;
            Err(refused(row, reason))
        }
        Err(RenewFailure::Transient(reason)) => {
            let failures = current.as_ref().map_or(0, |c| c.failures) + 1;
            if current.is_some() {
                app.store
                    .write(|tx| tokens::record_failure(tx, &row.id, failures, now + tokens::backoff(failures)))?;
            }
            tracing::warn!(provider = %row.provider, tenant = %row.tenant_id, failures, %reason, "token renewal failed; will retry");
            match &current {
                Some(current) if current.usable_at(now) => Ok(grant(app, current, false)),
                _ => Err(OAuthError::Upstream(reason)),
            }
        }
    }
}

/// A refusal in the connection's terms: client credentials are wrong credentials; an
/// authorization-code grant needs the tenant to authorize again.
fn refused(row: &ConnectionRow, reason: String) -> OAuthError {
    if row.auth_mode == AuthMode::ClientCredentials {
        OAuthError::CredentialsRefused(reason)
    } else {
        OAuthError::NeedsReauth(reason)
    }
}

fn grant(app: &OAuth, row: &TokenRow, renewed: bool) -> TokenGrant {
    app.broker.remember(
        &row.connection_id,
        CachedToken {
            access_token: row.access_token.clone(),
            token_type: row.token_type.clone(),
            expires_at: row.expires_at,
        },
    );
    TokenGrant {
        access_token: row.access_token.clone(),
        token_type: row.token_type.clone(),
        expires_at: row.expires_at,
        renewed,
    }
}

/// The provider refused for good: `needs_reauth` (client credentials: `invalid`), the
/// `connection.refresh_failed` event and an admin notification, in one transaction.
pub fn mark_needs_reauth(app: &OAuth, row: &ConnectionRow, reason: &str) -> Result<(), OAuthError> {
    let status = if row.auth_mode == AuthMode::ClientCredentials {
        Status::Invalid
    } else {
        Status::NeedsReauth
    };
    let (title, text) = if row.auth_mode == AuthMode::ClientCredentials {
        (
            format!("Correct the {} credentials", row.provider),
            format!("{} refused the stored client credentials: {reason}", row.provider),
        )
    } else {
        (
            format!("Reconnect {}", row.provider),
            format!("The provider refused to renew the {} token: {reason}", row.provider),
        )
    };
    app.store.write(|tx| {
        set_status(
            tx,
            &crate::auth::PlatformScope::for_server_work().narrow_to(&row.tenant_id),
            &row.id,
            status,
            Some(reason),
            None,
        )?;
        crate::outbox::emit(
            tx,
            &row.tenant_id,
            "connection.refresh_failed",
            json!({"provider": row.provider, "auth_mode": row.auth_mode, "status": status, "reason": reason}),
        )?;
        crate::notifications::notify(
            tx,
            &row.tenant_id,
            "connection.refresh_failed",
            &title,
            &text,
            json!({"provider": row.provider}),
        )?;
        tx.announce(&crate::store::postgres::changes::connection(&row.id))?;
        Ok::<_, OAuthError>(())
    })?;
    app.broker.forget(&row.id);
    app.outbound.wake();
    Ok(())
}

/// RFC 6749 §6 refresh through the `oauth2` crate.
fn refresh(
    app: &OAuth,
    provider: &Provider,
    row: &ConnectionRow,
    credentials: &Credentials,
    refresh_token: &Secret,
) -> Result<NewTokens, RenewFailure> {
    let client_app = app
        .store
        .read(|conn| {
            resolve_app(
                conn,
                &app.vault,
                &app.settings.platform_apps,
                &provider.key,
                credentials,
            )
        })
        .map_err(|e| RenewFailure::Rejected(e.to_string()))?;
    let template = provider
        .token_url
        .as_deref()
        .ok_or_else(|| RenewFailure::Rejected("the catalog has no token URL".into()))?;
    let url = expand_url(template, &row.config).map_err(|e| RenewFailure::Rejected(e.to_string()))?;
    let token_url = TokenUrl::new(url).map_err(|e| RenewFailure::Rejected(format!("bad token URL: {e}")))?;
    let mut client = BasicClient::new(ClientId::new(client_app.client_id.clone())).set_token_uri(token_url);
    if let Some(secret) = &client_app.client_secret {
        client = client.set_client_secret(ClientSecret::new(secret.expose().to_owned()));
    }
    let response = client
        .exchange_refresh_token(&RefreshToken::new(refresh_token.expose().to_owned()))
        .request(&UreqClient(app.agents.for_template(Some(template))))
        .map_err(|e| match e {
            RequestTokenError::ServerResponse(r) => match r.error() {
                BasicErrorResponseType::InvalidGrant
                | BasicErrorResponseType::InvalidClient
                | BasicErrorResponseType::UnauthorizedClient => {
                    RenewFailure::Rejected(format!("the provider answered `{}`", r.error()))
                }
                other => RenewFailure::Transient(format!("the provider answered `{other}`")),
            },
            RequestTokenError::Request(e) => RenewFailure::Transient(e.to_string()),
            RequestTokenError::Parse(_, _) => RenewFailure::Transient("the token response was not understood".into()),
            RequestTokenError::Other(m) => RenewFailure::Transient(m),
        })?;
    Ok(NewTokens {
        access_token: Secret::new(response.access_token().secret().clone()),
        refresh_token: response.refresh_token().map(|t| Secret::new(t.secret().clone())),
        token_type: token_type_name(response.token_type()),
        scopes: response
            .scopes()
            .map(|s| s.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(" ")),
        expires_in: response.expires_in(),
    })
}

/// The access token for `verify`/`proxy` in token modes; `None` in key modes.
pub fn access_token_for(app: &OAuth, scope: &TenantScope, provider_key: &str) -> Result<Option<Secret>, OAuthError> {
    let mode = app
        .store
        .read(|conn| find_connection(conn, scope, provider_key))?
        .map(|row| row.auth_mode);
    match mode {
        Some(mode) if mode.uses_access_token() => Ok(Some(ensure_token(app, scope, provider_key, false)?.access_token)),
        _ => Ok(None),
    }
}

impl OAuth {
    /// `POST .../verify`: token modes obtain the access token first. A token endpoint that
    /// refuses is the answer itself (`invalid_credentials`, with the provider's words);
    /// one that cannot be reached is `unreachable`. Blocking.
    pub fn verify(
        &self,
        scope: &TenantScope,
        provider_key: &str,
        entry: crate::audit::AuditEntry,
    ) -> Result<crate::connections::VerifyOutcome, OAuthError> {
        use crate::connections::VerifyResult;
        let failed = |result, detail| {
            self.connections
                .record_token_failure(scope, provider_key, result, detail, entry.clone())
        };
        let outcome = match access_token_for(self, scope, provider_key) {
            Ok(token) => self.connections.verify(scope, provider_key, token, entry.clone())?,
            Err(e @ (OAuthError::CredentialsRefused(_) | OAuthError::NeedsReauth(_))) => {
                failed(VerifyResult::InvalidCredentials, e.to_string())?
            }
            Err(e @ OAuthError::Upstream(_)) => failed(VerifyResult::Unreachable, e.to_string())?,
            // No token yet (authorize first): the verify says what is missing.
            Err(OAuthError::NotSupported(_)) => self.connections.verify(scope, provider_key, None, entry.clone())?,
            Err(e) => return Err(e),
        };
        Ok(outcome)
    }
}
