//! The rules for saving, showing and removing connections. Plain values and a
//! connection in, domain results out: no HTTP here.

use crate::auth::TenantScope;
use std::collections::BTreeMap;

use crate::store::sql::Db;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::credentials::Credentials;
use super::provided_token::{self, ProvidedToken};
use super::repo::{self, ConnectionRow};
use super::{ConnectionError, Status};
use crate::catalog::{AuthMode, Catalog, Field, PlaceholderError, Provider, expand};
use crate::error::FieldError;
use crate::vault::{KeyScope, Location, Vault};

/// Config options every provider understands, beside its own `config_fields`.
const GENERIC_CONFIG: &[(&str, &[&str])] = &[("invalid_signature", &["reject", "accept"])];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionInput {
    pub auth_mode: Option<String>,
    /// Omitted (e.g. a change of `config` only): the stored credentials stay.
    #[serde(default)]
    pub credentials: Map<String, Value>,
    pub config: Option<Map<String, Value>>,
}

impl std::fmt::Debug for ConnectionInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionInput")
            .field("auth_mode", &self.auth_mode)
            .field("credentials", &self.credentials.keys().collect::<Vec<_>>())
            .field("config", &self.config)
            .finish()
    }
}

/// What the API shows of a connection: secrets masked.
#[derive(Debug, Serialize)]
pub struct ConnectionView {
    pub provider: String,
    pub auth_mode: AuthMode,
    pub status: Status,
    pub credentials: BTreeMap<String, String>,
    pub config: Map<String, Value>,
    pub created_at: String,
    pub updated_at: String,
    pub last_verified_at: Option<String>,
    pub last_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

pub struct SaveOutcome {
    pub view: ConnectionView,
    pub created: bool,
    pub connection_id: String,
    /// The credentials the connection authenticates with changed: tokens obtained with
    /// the old ones were dropped and any in-memory copy must be forgotten.
    pub credentials_changed: bool,
    /// An OAuth token handed in with an `oauth2` connection; the caller stores it as the
    /// connection's tokens in the same transaction (`oauth::store::adopt`).
    pub provided_token: Option<ProvidedToken>,
}

/// The inbound signing secret does not take part in authenticating to the provider, so
/// changing it alone keeps the connection's status and tokens.
const SIGNING_ONLY_FIELD: &str = "webhook_secret";

fn same_authentication(a: &Credentials, b: &Credentials) -> bool {
    let without_signing = |c: &Credentials| {
        c.reveal()
            .iter()
            .filter(|(k, _)| k.as_str() != SIGNING_ONLY_FIELD)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<BTreeMap<_, _>>()
    };
    without_signing(a) == without_signing(b)
}

fn location<'a>(scope: &'a KeyScope, row_id: &'a str) -> Location<'a> {
    Location {
        scope,
        table: "connections",
        row_id,
        field: "credentials",
    }
}

pub fn seal_credentials(
    conn: &Db<'_>,
    vault: &Vault,
    tenant_id: &str,
    row_id: &str,
    credentials: &Credentials,
) -> Result<Vec<u8>, ConnectionError> {
    let plain = zeroize::Zeroizing::new(serde_json::to_vec(credentials).map_err(|_| crate::vault::VaultError::Crypto)?);
    let scope = KeyScope::Tenant(tenant_id.to_owned());
    Ok(vault.seal(conn, &location(&scope, row_id), &plain)?)
}

pub fn open_credentials(conn: &Db<'_>, vault: &Vault, row: &ConnectionRow) -> Result<Credentials, ConnectionError> {
    let scope = KeyScope::Tenant(row.tenant_id.clone());
    let plain = vault.open(conn, &location(&scope, &row.id), &row.credentials)?;
    serde_json::from_slice(&plain).map_err(|_| ConnectionError::Vault(crate::vault::VaultError::Malformed))
}

pub fn connection_view(
    conn: &Db<'_>,
    vault: &Vault,
    catalog: &Catalog,
    row: &ConnectionRow,
) -> Result<ConnectionView, ConnectionError> {
    let credentials = open_credentials(conn, vault, row)?;
    let masked = match catalog.get(&row.provider) {
        Some(provider) => credentials.masked(provider),
        // A provider dropped from the catalog: mask everything.
        None => credentials.names().map(|n| (n.to_owned(), "****".to_owned())).collect(),
    };
    Ok(ConnectionView {
        provider: row.provider.clone(),
        auth_mode: row.auth_mode,
        status: row.status,
        credentials: masked,
        config: row.config.clone(),
        created_at: row.created_at.clone(),
        updated_at: row.updated_at.clone(),
        last_verified_at: row.last_verified_at.clone(),
        last_error: row.last_error.clone(),
        expires_at: row.expires_at.clone(),
    })
}

/// The status a freshly saved connection starts in.
fn initial_status(provider: &Provider, mode: AuthMode) -> Status {
    match mode {
        AuthMode::Webhook => Status::Active,
        AuthMode::ApiKey | AuthMode::Basic | AuthMode::PrivateToken if provider.verify.is_none() => Status::Active,
        _ => Status::Pending,
    }
}

fn field_error(field: String, message: impl Into<String>) -> FieldError {
    FieldError {
        field,
        message: message.into(),
    }
}

/// Merges `given` over `existing` for one group of fields (credentials or config).
/// Omitted fields keep their stored value, so a form never has to send a stored secret
/// back; `""` or `null` clears an optional one.
fn merge_values(
    group: &str,
    fields: &[&Field],
    given: &Map<String, Value>,
    existing: BTreeMap<String, Value>,
    generic: &[(&str, &[&str])],
    errors: &mut Vec<FieldError>,
) -> BTreeMap<String, Value> {
    let mut merged = existing;
    for (name, value) in given {
        let path = format!("{group}.{name}");
        let known = fields.iter().any(|f| &f.name == name);
        let generic_allowed = generic.iter().find(|(g, _)| g == name).map(|(_, allowed)| *allowed);
        if !known && generic_allowed.is_none() {
            // Named only when it looks like a field name: a pasted secret is not repeated.
            if crate::error::input::is_field_name(name) {
                errors.push(field_error(path, "unknown field for this provider and auth mode"));
            } else {
                errors.push(field_error(
                    group.to_owned(),
                    "has a field this provider and auth mode do not know",
                ));
            }
            continue;
        }
        let text = match value {
            Value::Null => None,
            Value::String(s) => Some(s.trim().to_owned()),
            Value::Number(n) if group == "config" => Some(n.to_string()),
            Value::Bool(b) if group == "config" => Some(b.to_string()),
            _ => {
                errors.push(field_error(path, "must be a string"));
                continue;
            }
        };
        match text {
            None => {
                merged.remove(name);
            }
            Some(t) if t.is_empty() => {
                merged.remove(name);
            }
            Some(t) if t.starts_with("****") => {
                errors.push(field_error(
                    path,
                    "looks like a masked value; send the real value or omit the field",
                ));
            }
            Some(t) if t.len() > 16 * 1024 => errors.push(field_error(path, "is too long")),
            Some(t) => {
                if let Some(allowed) = generic_allowed
                    && !allowed.contains(&t.as_str())
                {
                    errors.push(field_error(path, format!("must be one of: {}", allowed.join(", "))));
                    continue;
                }
                // Keep numbers numbers in config (e.g. Brevo's list id).
                let stored = match value {
                    Value::Number(_) | Value::Bool(_) => value.clone(),
                    _ => Value::String(t),
                };
                merged.insert(name.clone(), stored);
            }
        }
    }
    for field in fields.iter().filter(|f| f.required) {
        if !merged.contains_key(&field.name) {
            errors.push(field_error(format!("{group}.{}", field.name), "is required"));
        }
    }
    merged
}

/// Checks every catalog URL that uses config placeholders expands safely.
fn check_urls(provider: &Provider, config: &Map<String, Value>, errors: &mut Vec<FieldError>) {
    let urls = [
        &provider.api_base_url,
        &provider.authorization_url,
        &provider.token_url,
        &provider.revocation_url,
    ];
    for template in urls.into_iter().flatten() {
        if let Err(PlaceholderError::Unsafe(name)) = expand(template, |k| config.get(k).and_then(Value::as_str)) {
            let path = format!("config.{name}");
            if !errors.iter().any(|e| e.field == path) {
                errors.push(field_error(path, "is not a valid value for this provider's URLs"));
            }
        }
    }
}

/// The SSRF guard at save time: every catalog URL a submitted config value shapes
/// (`{base_url}/...`, `https://{shop}/...`) must not point at an internal address.
/// Resolves names (blocking); a name that does not resolve is left to connect time.
pub fn refuse_internal_targets(
    provider: &Provider,
    config: &Map<String, Value>,
    policy: &crate::net::TargetPolicy,
    names: &dyn crate::net::NameResolver,
) -> Vec<FieldError> {
    let mut errors: Vec<FieldError> = Vec::new();
    let urls = [
        &provider.api_base_url,
        &provider.authorization_url,
        &provider.token_url,
        &provider.revocation_url,
    ];
    for template in urls.into_iter().flatten() {
        let Some(name) = template
            .split_once('{')
            .and_then(|(_, rest)| rest.split_once('}'))
            .map(|(n, _)| n)
        else {
            continue;
        };
        if !config.contains_key(name) {
            continue;
        }
        let Ok(url) = expand(template, |k| config.get(k).and_then(Value::as_str)) else {
            continue;
        };
        if let Err(crate::net::TargetError::Refused(refusal)) = crate::net::ssrf::check_target(&url, policy, names) {
            let path = format!("config.{name}");
            if !errors.iter().any(|e| e.field == path) {
                errors.push(field_error(path, format!("points at an internal address: {refusal}")));
            }
        }
    }
    errors
}

/// Who is saving: a caller that may read the stored secrets (`credentials:reveal`) may
/// also move them to another host; anyone else must send them again to do so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretsAccess {
    MayReveal,
    WriteOnly,
}

/// Each secret the connection keeps from its stored values while a URL-shaping config
/// field changes: the stored secret would go to the new host without the caller ever
/// having known it.
fn secrets_that_would_move(
    provider: &Provider,
    stored: &ConnectionRow,
    config: &Map<String, Value>,
    stored_secrets: &[String],
    given: &Map<String, Value>,
) -> Vec<FieldError> {
    let Some(moved) = provider
        .url_shaping_fields()
        .into_iter()
        .find(|name| stored.config.get(*name) != config.get(*name))
    else {
        return Vec::new();
    };
    let sent_again = |name: &str| {
        given
            .get(name)
            .and_then(Value::as_str)
            .is_some_and(|v| !v.trim().is_empty() && !v.trim().starts_with("****"))
    };
    stored_secrets
        .iter()
        .filter(|name| !sent_again(name))
        .map(|name| {
            field_error(
                format!("credentials.{name}"),
                format!(
                    "must be sent again when config.{moved} changes (a stored secret is not sent to another host), \
                     unless the caller holds credentials:reveal"
                ),
            )
        })
        .collect()
}

/// Config values outside the hosts the catalog allows for their field.
fn check_allowed_hosts(provider: &Provider, given: &Map<String, Value>, errors: &mut Vec<FieldError>) {
    for (name, value) in given {
        if let Some(text) = value.as_str()
            && !text.trim().is_empty()
            && !provider.allows_host(name, text.trim())
        {
            errors.push(field_error(
                format!("config.{name}"),
                format!(
                    "is not a host {} uses (see `allowed` in GET /api/v1/providers/{})",
                    provider.name, provider.key
                ),
            ));
        }
    }
}

/// Creates or replaces a tenant's connection to `provider_key`.
pub fn save_connection(
    conn: &Db<'_>,
    vault: &Vault,
    catalog: &Catalog,
    scope: &TenantScope,
    provider_key: &str,
    input: &ConnectionInput,
    access: SecretsAccess,
) -> Result<SaveOutcome, ConnectionError> {
    let tenant_id = scope.id();
    let provider = catalog
        .get(provider_key)
        .ok_or_else(|| ConnectionError::UnknownProvider(provider_key.to_owned()))?;
    let existing = repo::find_connection(conn, scope, provider_key)?;
    let mut errors = Vec::new();

    let mode = match input.auth_mode.as_deref() {
        Some(text) => match AuthMode::parse(text).filter(|m| provider.supports(*m)) {
            Some(mode) => mode,
            None => {
                let modes: Vec<&str> = provider.auth_modes.iter().map(|m| m.as_str()).collect();
                return Err(ConnectionError::Invalid(vec![field_error(
                    "auth_mode".into(),
                    format!("{} supports only: {}", provider.name, modes.join(", ")),
                )]));
            }
        },
        None => existing
            .as_ref()
            .map(|e| e.auth_mode)
            .unwrap_or_else(|| provider.default_mode()),
    };

    // Stored values carry over only within the same auth mode.
    let (old_credentials, old_config) = match &existing {
        Some(row) if row.auth_mode == mode => {
            let creds = open_credentials(conn, vault, row)?;
            let creds = creds
                .reveal()
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect::<BTreeMap<_, _>>();
            (creds, row.config.clone().into_iter().collect::<BTreeMap<_, _>>())
        }
        Some(row) => (BTreeMap::new(), row.config.clone().into_iter().collect()),
        None => (BTreeMap::new(), BTreeMap::new()),
    };

    let (given_credentials, provided_token) = if mode == AuthMode::Oauth2 {
        provided_token::split(&input.credentials, &mut errors)
    } else {
        (input.credentials.clone(), None)
    };
    let credential_fields: Vec<&Field> = provider.fields.iter().filter(|f| f.applies_to(mode)).collect();
    let stored_secrets: Vec<String> = credential_fields
        .iter()
        .filter(|f| f.secret && old_credentials.contains_key(&f.name))
        .map(|f| f.name.clone())
        .collect();
    let merged_credentials = merge_values(
        "credentials",
        &credential_fields,
        &given_credentials,
        old_credentials,
        &[],
        &mut errors,
    );
    let config_fields: Vec<&Field> = provider.config_fields.iter().filter(|f| f.applies_to(mode)).collect();
    let given_config = input.config.clone().unwrap_or_default();
    let merged_config = merge_values(
        "config",
        &config_fields,
        &given_config,
        old_config,
        GENERIC_CONFIG,
        &mut errors,
    );
    let config: Map<String, Value> = merged_config.into_iter().collect();
    check_urls(provider, &config, &mut errors);
    check_allowed_hosts(provider, &given_config, &mut errors);
    if access == SecretsAccess::WriteOnly
        && let Some(row) = existing.as_ref().filter(|row| row.auth_mode == mode)
    {
        errors.extend(secrets_that_would_move(
            provider,
            row,
            &config,
            &stored_secrets,
            &input.credentials,
        ));
    }
    if !errors.is_empty() {
        return Err(ConnectionError::Invalid(errors));
    }

    let mut credentials = Credentials::default();
    for (name, value) in &merged_credentials {
        if let Value::String(s) = value {
            credentials.insert(name, s);
        }
    }

    let now = crate::time::now_rfc3339();
    let created = existing.is_none();
    let mut credentials_changed = false;
    let row = match existing {
        Some(old) => {
            let old_credentials = open_credentials(conn, vault, &old)?;
            let same_auth =
                old.auth_mode == mode && old.config == config && same_authentication(&old_credentials, &credentials);
            let unchanged = same_auth && old_credentials == credentials;
            let status = if same_auth {
                old.status
            } else {
                initial_status(provider, mode)
            };
            if !same_auth {
                // Tokens obtained with the old credentials must not be served for the new.
                credentials_changed = true;
                conn.execute("DELETE FROM oauth_tokens WHERE connection_id = ?1", [&old.id])?;
            }
            let row = ConnectionRow {
                auth_mode: mode,
                status,
                credentials: seal_credentials(conn, vault, tenant_id, &old.id, &credentials)?,
                config,
                updated_at: now,
                last_error: if unchanged { old.last_error.clone() } else { None },
                ..old
            };
            repo::replace(conn, &row)?;
            row
        }
        None => {
            let id = crate::ids::new_id();
            let row = ConnectionRow {
                credentials: seal_credentials(conn, vault, tenant_id, &id, &credentials)?,
                id,
                tenant_id: tenant_id.to_owned(),
                provider: provider_key.to_owned(),
                auth_mode: mode,
                status: initial_status(provider, mode),
                config,
                created_at: now.clone(),
                updated_at: now,
                last_verified_at: None,
                last_error: None,
                expires_at: None,
            };
            repo::insert(conn, &row)?;
            row
        }
    };
    let event = if created {
        "connection.created"
    } else {
        "connection.updated"
    };
    crate::outbox::emit(
        conn,
        tenant_id,
        event,
        json!({"provider": provider_key, "auth_mode": mode, "status": row.status}),
    )?;
    let view = connection_view(conn, vault, catalog, &row)?;
    Ok(SaveOutcome {
        view,
        created,
        connection_id: row.id.clone(),
        credentials_changed: credentials_changed || provided_token.is_some(),
        provided_token,
    })
}

/// Removes a connection. Returns the removed row (its sealed tokens are gone with it).
pub fn delete_connection(
    conn: &Db<'_>,
    scope: &TenantScope,
    provider_key: &str,
) -> Result<ConnectionRow, ConnectionError> {
    let tenant_id = scope.id();
    let row = repo::find_connection(conn, scope, provider_key)?
        .ok_or_else(|| ConnectionError::NotFound(provider_key.to_owned()))?;
    repo::delete(conn, scope, provider_key)?;
    crate::outbox::emit(conn, tenant_id, "connection.deleted", json!({"provider": provider_key}))?;
    Ok(row)
}
