//! Platform-level OAuth apps (Level 1): the operator registers the platform's own app per
//! provider once; a tenant's own `client_id`/`client_secret` in its connection wins.

use std::collections::BTreeMap;

use crate::store::sql::{Db, params};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::OAuthError;
use crate::api::extract::ApiJson;
use crate::app::AppState;
use crate::audit;
use crate::auth::PlatformAccess;
use crate::catalog::{AuthMode, Catalog};
use crate::config::PlatformApp;
use crate::connections::{Credentials, mask};
use crate::error::{ApiError, ApiResult};
use crate::store::OptionalRow;
use crate::vault::{KeyScope, Location, Secret, Vault};

/// The OAuth client tessera acts as for one connection.
#[derive(Debug, Clone)]
pub struct ClientApp {
    pub client_id: String,
    pub client_secret: Option<Secret>,
    /// Scopes the operator chose for the platform app (instead of the catalog's).
    pub scopes: Option<Vec<String>>,
    pub source: AppSource,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AppSource {
    Tenant,
    Platform,
    Environment,
}

fn location(provider: &str) -> Location<'_> {
    Location {
        scope: &KeyScope::Platform,
        table: "platform_apps",
        row_id: provider,
        field: "client_secret",
    }
}

/// The app for a connection: the tenant's own credentials when it has a client id, else
/// the platform app stored through the API, else the one in the environment.
pub fn resolve_app(
    conn: &Db<'_>,
    vault: &Vault,
    platform_apps: &BTreeMap<String, PlatformApp>,
    provider: &str,
    tenant_credentials: &Credentials,
) -> Result<ClientApp, OAuthError> {
    if let Some(client_id) = tenant_credentials.get("client_id").filter(|v| !v.expose().is_empty()) {
        return Ok(ClientApp {
            client_id: client_id.expose().to_owned(),
            client_secret: tenant_credentials.get("client_secret"),
            scopes: None,
            source: AppSource::Tenant,
        });
    }
    if let Some(app) = find_app(conn, vault, provider)? {
        return Ok(app);
    }
    if let Some(PlatformApp {
        client_id: Some(client_id),
        client_secret,
    }) = platform_apps.get(provider)
    {
        return Ok(ClientApp {
            client_id: client_id.clone(),
            client_secret: client_secret.clone(),
            scopes: None,
            source: AppSource::Environment,
        });
    }
    Err(OAuthError::NoApp(provider.to_owned()))
}

pub fn find_app(conn: &Db<'_>, vault: &Vault, provider: &str) -> Result<Option<ClientApp>, OAuthError> {
    let row: Option<(String, Vec<u8>, Option<String>)> = conn
        .query_row(
            "SELECT client_id, client_secret, scopes FROM platform_apps WHERE provider = ?1",
            [provider],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional_row()?;
    let Some((client_id, sealed, scopes)) = row else {
        return Ok(None);
    };
    let secret = vault.open_string(conn, &location(provider), &sealed)?;
    Ok(Some(ClientApp {
        client_id,
        client_secret: Some(secret),
        scopes: scopes.and_then(|s| serde_json::from_str(&s).ok()),
        source: AppSource::Platform,
    }))
}

/// Holds a plaintext client secret: deliberately not `Debug`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppInput {
    pub client_id: String,
    pub client_secret: String,
    pub scopes: Option<Vec<String>>,
}

#[derive(Debug, Serialize)]
pub struct AppView {
    pub provider: String,
    pub client_id: String,
    pub client_secret: String,
    pub scopes: Option<Vec<String>>,
    pub source: AppSource,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

/// Stores (or replaces) the platform app for `provider`. Returns whether it was new.
pub fn save_app(
    conn: &Db<'_>,
    vault: &Vault,
    catalog: &Catalog,
    provider: &str,
    input: &AppInput,
) -> Result<bool, OAuthError> {
    let known = catalog
        .get(provider)
        .ok_or_else(|| OAuthError::UnknownProvider(provider.to_owned()))?;
    if !known.supports(AuthMode::Oauth2) {
        return Err(OAuthError::Invalid(format!(
            "{} does not use OAuth authorization; it needs no platform app",
            known.name
        )));
    }
    let client_id = input.client_id.trim();
    let secret = input.client_secret.trim();
    for (field, value) in [("client_id", client_id), ("client_secret", secret)] {
        if value.is_empty() || value.len() > 4096 {
            return Err(OAuthError::InvalidField {
                field: field.into(),
                message: "must be a non-empty string of at most 4096 characters".into(),
            });
        }
    }
    if secret.starts_with("****") {
        return Err(OAuthError::InvalidField {
            field: "client_secret".into(),
            message: "looks like a masked value; send the real secret".into(),
        });
    }
    if let Some(scopes) = &input.scopes {
        super::flow::valid_scopes(scopes)?;
    }
    let sealed = vault.seal(conn, &location(provider), secret.as_bytes())?;
    let scopes = input.scopes.as_ref().map(|s| json!(s).to_string());
    let now = crate::time::now_rfc3339();
    let existed: Option<i64> = conn
        .query_row("SELECT 1 FROM platform_apps WHERE provider = ?1", [provider], |r| {
            r.get(0)
        })
        .optional_row()?;
    conn.execute(
        "INSERT INTO platform_apps (provider, client_id, client_secret, scopes, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)
         ON CONFLICT(provider) DO UPDATE SET client_id = excluded.client_id,
             client_secret = excluded.client_secret, scopes = excluded.scopes, updated_at = excluded.updated_at",
        params![provider, client_id, sealed, scopes, now],
    )?;
    Ok(existed.is_none())
}

pub fn list_apps(
    conn: &Db<'_>,
    vault: &Vault,
    platform_apps: &BTreeMap<String, PlatformApp>,
) -> Result<Vec<AppView>, OAuthError> {
    type Row = (String, String, Vec<u8>, Option<String>, String, String);
    let rows: Vec<Row> = conn.query(
        "SELECT provider, client_id, client_secret, scopes, created_at, updated_at FROM platform_apps ORDER BY provider", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
        })?;
    let mut views = Vec::new();
    for (provider, client_id, sealed, scopes, created_at, updated_at) in rows {
        let secret = vault.open_string(conn, &location(&provider), &sealed)?;
        views.push(AppView {
            client_secret: mask(secret.expose()),
            provider,
            client_id,
            scopes: scopes.and_then(|s| serde_json::from_str(&s).ok()),
            source: AppSource::Platform,
            created_at: Some(created_at),
            updated_at: Some(updated_at),
        });
    }
    for (provider, app) in platform_apps {
        if let Some(client_id) = &app.client_id
            && !views.iter().any(|v| &v.provider == provider)
        {
            views.push(AppView {
                provider: provider.clone(),
                client_id: client_id.clone(),
                client_secret: app.client_secret.as_ref().map(|s| mask(s.expose())).unwrap_or_default(),
                scopes: None,
                source: AppSource::Environment,
                created_at: None,
                updated_at: None,
            });
        }
    }
    Ok(views)
}

pub async fn put_platform_app(
    State(state): State<AppState>,
    auth: PlatformAccess,
    Path(provider): Path<String>,
    ApiJson(input): ApiJson<AppInput>,
) -> ApiResult<(StatusCode, Json<AppView>)> {
    let app = state.clone();
    let (created, view) = state
        .store
        .write_async(move |tx| {
            let created = save_app(tx, &app.vault, &app.catalogs.platform(), &provider, &input)?;
            let action = if created {
                "platform_app.created"
            } else {
                "platform_app.updated"
            };
            audit::record(tx, &auth.audit(None, action, Some(&provider)))?;
            let view = list_apps(tx, &app.vault, &app.oauth.settings.platform_apps)?
                .into_iter()
                .find(|v| v.provider == provider)
                .ok_or_else(|| OAuthError::NotFound(provider.clone()))?;
            Ok::<_, ApiError>((created, view))
        })
        .await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(view)))
}

pub async fn list_platform_apps(
    State(state): State<AppState>,
    _: PlatformAccess,
) -> ApiResult<Json<serde_json::Value>> {
    let app = state.clone();
    let items = state
        .store
        .read_async(move |conn| list_apps(conn, &app.vault, &app.oauth.settings.platform_apps))
        .await
        .map_err(ApiError::from)?;
    Ok(Json(json!({ "items": items, "next_cursor": null })))
}

pub async fn delete_platform_app(
    State(state): State<AppState>,
    auth: PlatformAccess,
    Path(provider): Path<String>,
) -> ApiResult<StatusCode> {
    state
        .store
        .write_async(move |tx| {
            let removed = tx.execute("DELETE FROM platform_apps WHERE provider = ?1", [&provider])?;
            if removed == 0 {
                return Err(ApiError::not_found(format!("no platform app for `{provider}`")));
            }
            audit::record(tx, &auth.audit(None, "platform_app.deleted", Some(&provider)))?;
            Ok(())
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
