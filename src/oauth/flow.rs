//! Authorization code with PKCE: `authorize` builds the provider URL and remembers the
//! request under the hash of its `state`; the callback consumes that state once,
//! exchanges the code and stores the tokens.

use crate::auth::TenantScope;
use crate::store::sql::{Db, params};
use oauth2::basic::{BasicClient, BasicTokenType};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl,
    RequestTokenError, Scope, TokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use time::{Duration, OffsetDateTime};

use super::apps::{ClientApp, resolve_app};
use super::http_client::UreqClient;
use super::store::{self as tokens, NewTokens};
use super::{CachedToken, OAuth, OAuthError, OAuthSettings};
use crate::audit::{self, AuditEntry};
use crate::catalog::{AuthMode, Provider};
use crate::connections::request::expand_url;
use crate::connections::{
    ConnectionInput, ConnectionRow, Credentials, SecretsAccess, Status, find_connection, open_credentials,
    save_connection, set_status,
};
use crate::store::OptionalRow;
use crate::time::{format_rfc3339, parse_rfc3339};
use crate::vault::{KeyScope, Location, Secret, Vault, hash_token, random_token};

/// How long an authorization request stays open.
pub const STATE_TTL: Duration = Duration::minutes(10);

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizeInput {
    pub return_to: Option<String>,
    pub scopes: Option<Vec<String>>,
}

#[derive(Debug, Serialize)]
pub struct AuthorizeOutcome {
    pub authorization_url: String,
    pub expires_at: String,
}

pub fn redirect_uri(settings: &OAuthSettings) -> String {
    format!("{}/oauth/callback", settings.public_url)
}

/// `return_to` must stay on the public URL's origin or an allow-listed one: no open redirect.
pub fn check_return_to(settings: &OAuthSettings, return_to: Option<&str>) -> Result<String, OAuthError> {
    let public = &settings.public_url;
    let Some(value) = return_to.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(format!("{public}/"));
    };
    let bad = |message: &str| OAuthError::InvalidField {
        field: "return_to".into(),
        message: message.into(),
    };
    let url = url::Url::parse(value).map_err(|_| bad("must be an absolute http(s) URL"))?;
    if !matches!(url.scheme(), "http" | "https") || !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must be an absolute http(s) URL without credentials"));
    }
    let origin = url.origin().ascii_serialization();
    let public_origin = url::Url::parse(public)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    if origin != public_origin && !settings.allowed_return_origins.contains(&origin) {
        return Err(bad(
            "must be on tessera's public URL or an origin listed in allowed_return_origins",
        ));
    }
    Ok(url.to_string())
}

fn verifier_location<'a>(scope: &'a KeyScope, id: &'a str) -> Location<'a> {
    Location {
        scope,
        table: "oauth_states",
        row_id: id,
        field: "pkce_verifier",
    }
}

fn oauth_provider(app: &OAuth, tenant_id: &str, key: &str) -> Result<std::sync::Arc<Provider>, OAuthError> {
    let provider = app
        .catalogs
        .provider(tenant_id, key)
        .ok_or_else(|| OAuthError::UnknownProvider(key.to_owned()))?;
    if !provider.supports(AuthMode::Oauth2) {
        return Err(OAuthError::NotSupported(format!(
            "{} does not support OAuth authorization",
            provider.name
        )));
    }
    Ok(provider)
}

/// The tenant's `oauth2` connection, created `pending` when it has none yet.
fn oauth_connection(
    conn: &Db<'_>,
    app: &OAuth,
    scope: &TenantScope,
    provider: &Provider,
) -> Result<ConnectionRow, OAuthError> {
    let tenant_id = scope.id();
    if let Some(row) = find_connection(conn, scope, &provider.key)? {
        if row.auth_mode != AuthMode::Oauth2 {
            return Err(OAuthError::NotSupported(format!(
                "this connection uses auth mode `{}`; PUT it with \"auth_mode\": \"oauth2\" first",
                row.auth_mode.as_str()
            )));
        }
        return Ok(row);
    }
    let input = ConnectionInput {
        auth_mode: Some("oauth2".into()),
        credentials: Map::new(),
        config: None,
    };
    // A new connection: there are no stored secrets to move.
    save_connection(
        conn,
        &app.vault,
        &app.catalogs.for_tenant(tenant_id),
        scope,
        &provider.key,
        &input,
        SecretsAccess::WriteOnly,
    )?;
    find_connection(conn, scope, &provider.key)?.ok_or_else(|| OAuthError::NotFound(provider.key.clone()))
}

fn url_of<T>(
    template: Option<&str>,
    config: &Map<String, Value>,
    what: &str,
    build: fn(String) -> Result<T, url::ParseError>,
) -> Result<T, OAuthError> {
    let template = template.ok_or_else(|| OAuthError::NotSupported(format!("the catalog has no {what}")))?;
    let expanded = expand_url(template, config).map_err(|e| OAuthError::Invalid(e.to_string()))?;
    build(expanded).map_err(|e| OAuthError::Invalid(format!("{what} is not a valid URL: {e}")))
}

pub(super) fn valid_scopes(scopes: &[String]) -> Result<(), OAuthError> {
    for (i, scope) in scopes.iter().enumerate() {
        if scope.is_empty() || scope.len() > 200 || scope.chars().any(|c| c.is_whitespace() || c == '"' || c == '\\') {
            return Err(OAuthError::InvalidField {
                field: format!("scopes[{i}]"),
                message: "is not a valid OAuth scope".into(),
            });
        }
    }
    Ok(())
}

/// Starts an authorization: stores the state (hash only) and the sealed PKCE verifier.
pub fn authorize(
    app: &OAuth,
    scope: &TenantScope,
    provider_key: &str,
    input: &AuthorizeInput,
    audit_entry: AuditEntry,
    now: OffsetDateTime,
) -> Result<AuthorizeOutcome, OAuthError> {
    let tenant_id = scope.id();
    let provider = oauth_provider(app, tenant_id, provider_key)?;
    let provider = &*provider;
    let return_to = check_return_to(&app.settings, input.return_to.as_deref())?;
    app.store.write(|tx| {
        let row = oauth_connection(tx, app, scope, provider)?;
        let credentials = open_credentials(tx, &app.vault, &row)?;
        let client_app = resolve_app(tx, &app.vault, &app.settings.platform_apps, provider_key, &credentials)?;
        let scopes = input
            .scopes
            .clone()
            .or_else(|| client_app.scopes.clone())
            .unwrap_or_else(|| provider.scopes.clone());
        valid_scopes(&scopes)?;

        let auth_url = url_of(
            provider.authorization_url.as_deref(),
            &row.config,
            "authorization URL",
            AuthUrl::new,
        )?;
        let redirect = RedirectUrl::new(redirect_uri(&app.settings))
            .map_err(|e| OAuthError::Invalid(format!("public_url gives a bad redirect URI: {e}")))?;
        let client = BasicClient::new(ClientId::new(client_app.client_id.clone()))
            .set_auth_uri(auth_url)
            .set_redirect_uri(redirect);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let state = random_token("");
        let state_for_url = state.expose().to_owned();
        let (url, _) = client
            .authorize_url(move || CsrfToken::new(state_for_url))
            .add_scopes(scopes.iter().cloned().map(Scope::new))
            .set_pkce_challenge(challenge)
            .url();

        tx.execute("DELETE FROM oauth_states WHERE expires_at < ?1", [format_rfc3339(now)])?;
        let id = crate::ids::new_id();
        let scope = KeyScope::Tenant(tenant_id.to_owned());
        let sealed = app
            .vault
            .seal(tx, &verifier_location(&scope, &id), verifier.secret().as_bytes())?;
        let expires_at = format_rfc3339(now + STATE_TTL);
        tx.execute(
            "INSERT INTO oauth_states (id, state_hash, tenant_id, provider, pkce_verifier, return_to, scopes,
                                       created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                id,
                hash_token(state.expose()),
                tenant_id,
                provider_key,
                sealed,
                return_to,
                json!(scopes).to_string(),
                format_rfc3339(now),
                expires_at
            ],
        )?;
        audit::record(
            tx,
            &audit_entry.with_detail(json!({"scopes": scopes, "app": client_app.source})),
        )?;
        Ok(AuthorizeOutcome {
            authorization_url: url.to_string(),
            expires_at,
        })
    })
}

/// A consumed authorization request.
struct PendingAuthorization {
    tenant_id: String,
    provider: String,
    verifier: Secret,
    return_to: String,
    scopes: Vec<String>,
}

/// Deletes the state row and returns it, in one statement: a state works at most once,
/// even when two callbacks race. Expired or unknown → `InvalidState`.
fn consume_state(
    conn: &Db<'_>,
    vault: &Vault,
    state: &str,
    now: OffsetDateTime,
) -> Result<PendingAuthorization, OAuthError> {
    type Raw = (String, String, String, Vec<u8>, Option<String>, String, String);
    let raw: Option<Raw> = conn
        .query_row(
            "DELETE FROM oauth_states WHERE state_hash = ?1
             RETURNING id, tenant_id, provider, pkce_verifier, return_to, scopes, expires_at",
            [hash_token(state)],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            },
        )
        .optional_row()?;
    let (id, tenant_id, provider, sealed, return_to, scopes, expires_at) = raw.ok_or(OAuthError::InvalidState)?;
    if parse_rfc3339(&expires_at).is_none_or(|at| at <= now) {
        return Err(OAuthError::InvalidState);
    }
    let scope = KeyScope::Tenant(tenant_id.clone());
    let verifier = vault.open_string(conn, &verifier_location(&scope, &id), &sealed)?;
    Ok(PendingAuthorization {
        tenant_id,
        provider,
        verifier,
        return_to: return_to.unwrap_or_default(),
        scopes: serde_json::from_str(&scopes).unwrap_or_default(),
    })
}

/// RFC 9207: when the provider names its issuer, it must be the one we expect.
fn check_issuer(provider: &Provider, config: &Map<String, Value>, iss: Option<&str>) -> Result<(), OAuthError> {
    let Some(iss) = iss else {
        return Ok(());
    };
    let expected = match &provider.issuer {
        Some(issuer) => expand_url(issuer, config).map_err(|e| OAuthError::Invalid(e.to_string()))?,
        None => {
            let auth = provider.authorization_url.as_deref().unwrap_or_default();
            let auth = expand_url(auth, config).map_err(|e| OAuthError::Invalid(e.to_string()))?;
            let origin = |u: &str| url::Url::parse(u).map(|u| u.origin().ascii_serialization()).ok();
            return match (origin(iss), origin(&auth)) {
                (Some(a), Some(b)) if a == b => Ok(()),
                _ => Err(OAuthError::Invalid(
                    "the `iss` of the authorization response is not this provider's".into(),
                )),
            };
        }
    };
    if iss.trim_end_matches('/') != expected.trim_end_matches('/') {
        return Err(OAuthError::Invalid(
            "the `iss` of the authorization response is not this provider's".into(),
        ));
    }
    Ok(())
}

/// What the callback learned from the provider's redirect.
#[derive(Debug, Default, Deserialize)]
pub struct CallbackParams {
    pub code: Option<String>,
    pub state: Option<String>,
    pub iss: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// Where the browser goes after the callback.
#[derive(Debug)]
pub struct CallbackOutcome {
    pub redirect_to: String,
}

fn with_query(base: &str, pairs: &[(&str, &str)]) -> String {
    match url::Url::parse(base) {
        Ok(mut url) => {
            {
                let mut query = url.query_pairs_mut();
                for (k, v) in pairs {
                    query.append_pair(k, v);
                }
            }
            url.to_string()
        }
        Err(_) => base.to_owned(),
    }
}

/// Handles the provider's redirect. Blocking (exchanges the code): run on a blocking thread.
pub fn callback(app: &OAuth, params: &CallbackParams, now: OffsetDateTime) -> Result<CallbackOutcome, OAuthError> {
    let state = params
        .state
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or(OAuthError::InvalidState)?;
    let pending = app.store.write(|tx| consume_state(tx, &app.vault, state, now))?;
    // The state row names the tenant that started this authorization.
    let scope = crate::auth::PlatformScope::for_server_work().narrow_to(&pending.tenant_id);
    let provider = oauth_provider(app, &pending.tenant_id, &pending.provider)?;
    let provider = &*provider;
    let (row, credentials) = app.store.read(|conn| {
        let row = find_connection(conn, &scope, &pending.provider)?
            .ok_or_else(|| OAuthError::NotFound(pending.provider.clone()))?;
        let credentials = open_credentials(conn, &app.vault, &row)?;
        Ok::<_, OAuthError>((row, credentials))
    })?;
    check_issuer(provider, &row.config, params.iss.as_deref())?;
    let entry = |action: &str| {
        AuditEntry::new(
            Some(&pending.tenant_id),
            "oauth:callback",
            action,
            Some(&pending.provider),
            &Default::default(),
        )
    };

    if let Some(error) = params.error.as_deref() {
        let error: String = error.chars().filter(|c| c.is_ascii_graphic()).take(64).collect();
        let detail = format!("the provider answered `{error}`");
        app.store.write(|tx| {
            set_status(tx, &scope, &row.id, row.status, Some(&detail), None)?;
            audit::record(tx, &entry("oauth.denied").with_detail(json!({"error": error})))?;
            Ok::<_, OAuthError>(())
        })?;
        return Ok(CallbackOutcome {
            redirect_to: with_query(
                &pending.return_to,
                &[("error", &error), ("provider", &pending.provider)],
            ),
        });
    }
    let code = params
        .code
        .as_deref()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| OAuthError::Invalid("the callback carries neither `code` nor `error`".into()))?;

    match exchange_code(app, provider, &row, &credentials, code, &pending) {
        Ok(new_tokens) => {
            let saved = app.store.write(|tx| {
                let saved = tokens::save(tx, &app.vault, &pending.tenant_id, &row.id, &new_tokens, now)?;
                set_status(tx, &scope, &row.id, Status::Active, None, Some(&format_rfc3339(now)))?;
                audit::record(
                    tx,
                    &entry("oauth.connected").with_detail(json!({"scopes": new_tokens.scopes})),
                )?;
                crate::outbox::emit(
                    tx,
                    &pending.tenant_id,
                    "connection.updated",
                    json!({"provider": pending.provider, "auth_mode": "oauth2", "status": "active"}),
                )?;
                tx.announce(&crate::store::postgres::changes::connection(&row.id))?;
                Ok::<_, OAuthError>(saved)
            })?;
            app.broker.remember(
                &row.id,
                CachedToken {
                    access_token: saved.access_token,
                    token_type: saved.token_type,
                    expires_at: saved.expires_at,
                },
            );
            app.outbound.wake();
            Ok(CallbackOutcome {
                redirect_to: with_query(&pending.return_to, &[("connected", &pending.provider)]),
            })
        }
        Err(err) => {
            let detail = err.to_string();
            app.store.write(|tx| {
                set_status(tx, &scope, &row.id, row.status, Some(&detail), None)?;
                audit::record(tx, &entry("oauth.exchange_failed"))?;
                Ok::<_, OAuthError>(())
            })?;
            Ok(CallbackOutcome {
                redirect_to: with_query(
                    &pending.return_to,
                    &[("error", "token_exchange_failed"), ("provider", &pending.provider)],
                ),
            })
        }
    }
}

fn exchange_code(
    app: &OAuth,
    provider: &Provider,
    row: &ConnectionRow,
    credentials: &Credentials,
    code: &str,
    pending: &PendingAuthorization,
) -> Result<NewTokens, OAuthError> {
    let client_app: ClientApp = app.store.read(|conn| {
        resolve_app(
            conn,
            &app.vault,
            &app.settings.platform_apps,
            &provider.key,
            credentials,
        )
    })?;
    let token_url = url_of(provider.token_url.as_deref(), &row.config, "token URL", TokenUrl::new)?;
    let redirect = RedirectUrl::new(redirect_uri(&app.settings))
        .map_err(|e| OAuthError::Invalid(format!("public_url gives a bad redirect URI: {e}")))?;
    let mut client = BasicClient::new(ClientId::new(client_app.client_id.clone()))
        .set_token_uri(token_url)
        .set_redirect_uri(redirect);
    if let Some(secret) = &client_app.client_secret {
        client = client.set_client_secret(ClientSecret::new(secret.expose().to_owned()));
    }
    let response = client
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .set_pkce_verifier(PkceCodeVerifier::new(pending.verifier.expose().to_owned()))
        .request(&UreqClient(app.agents.for_template(provider.token_url.as_deref())))
        .map_err(|e| match e {
            RequestTokenError::ServerResponse(r) => {
                OAuthError::Upstream(format!("the provider refused the code: {}", r.error()))
            }
            RequestTokenError::Request(e) => OAuthError::Upstream(e.to_string()),
            RequestTokenError::Parse(_, _) => OAuthError::Upstream("the token response was not understood".into()),
            RequestTokenError::Other(m) => OAuthError::Upstream(m),
        })?;
    let granted = response
        .scopes()
        .map(|s| s.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| pending.scopes.join(" "));
    Ok(NewTokens {
        access_token: Secret::new(response.access_token().secret().clone()),
        refresh_token: response.refresh_token().map(|t| Secret::new(t.secret().clone())),
        token_type: token_type_name(response.token_type()),
        scopes: Some(granted),
        expires_in: response.expires_in(),
    })
}

pub fn token_type_name(kind: &BasicTokenType) -> String {
    match kind {
        BasicTokenType::Bearer => "Bearer".into(),
        BasicTokenType::Mac => "MAC".into(),
        BasicTokenType::Extension(other) => other.clone(),
    }
}
