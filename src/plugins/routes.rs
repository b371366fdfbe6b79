//! The marketplace (`/api/v1/plugins`) and a tenant's installations
//! (`/api/v1/tenants/{tenant}/plugins`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::PluginError;
use super::manifest::Package;
use super::service::{InstallationView, PluginDetail, PluginView};
use crate::api::extract::{ApiJson, ApiQuery};
use crate::app::AppState;
use crate::auth::{Caller, PlatformAccess, TenantAccess};
use crate::error::{ApiError, ApiResult};

pub async fn publish(
    State(state): State<AppState>,
    auth: PlatformAccess,
    ApiJson(package): ApiJson<Package>,
) -> ApiResult<(StatusCode, Json<PluginView>)> {
    let entry = auth.audit(None, "plugin.published", Some(&package.manifest.id));
    let plugins = state.plugins.clone();
    let publication = state
        .store
        .run(move |_| plugins.publish(&auth.scope, package, entry).map_err(ApiError::from))
        .await?;
    let status = if publication.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(publication.view)))
}

pub async fn list(State(state): State<AppState>, _auth: Caller) -> ApiResult<Json<Value>> {
    let plugins = state.plugins.clone();
    let items = state.store.run(move |_| plugins.list().map_err(ApiError::from)).await?;
    Ok(Json(json!({"items": items, "next_cursor": null})))
}

pub async fn get_one(
    State(state): State<AppState>,
    _auth: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<PluginDetail>> {
    let plugins = state.plugins.clone();
    let detail = state
        .store
        .run(move |_| plugins.detail(&id).map_err(ApiError::from))
        .await?;
    Ok(Json(detail))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteQuery {
    #[serde(default)]
    force: Option<String>,
}

pub async fn delete(
    State(state): State<AppState>,
    auth: PlatformAccess,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<DeleteQuery>,
) -> ApiResult<StatusCode> {
    let force = match query.force.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(ApiError::invalid_field("force", "expected true or false")),
    };
    let entry = auth.audit(None, "plugin.deleted", Some(&id));
    let plugins = state.plugins.clone();
    state
        .store
        .run(move |_| plugins.delete(&auth.scope, &id, force, entry).map_err(ApiError::from))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `{"configuration": {...}}`; the integration guide's `workspace_id` is accepted when it
/// names the tenant in the path.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigurationInput {
    #[serde(default)]
    configuration: Option<Map<String, Value>>,
    #[serde(default)]
    workspace_id: Option<String>,
}

impl std::fmt::Debug for ConfigurationInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigurationInput")
            .field(
                "configuration",
                &self.configuration.as_ref().map(|c| c.keys().collect::<Vec<_>>()),
            )
            .finish_non_exhaustive()
    }
}

fn configuration_of(access: &TenantAccess, input: ConfigurationInput) -> ApiResult<Map<String, Value>> {
    if let Some(workspace) = &input.workspace_id
        && workspace != &access.tenant.id
        && workspace != &access.tenant.slug
    {
        return Err(ApiError::invalid_field(
            "workspace_id",
            "names another tenant than the one in the path",
        ));
    }
    Ok(input.configuration.unwrap_or_default())
}

pub async fn install(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, id)): Path<(String, String)>,
    ApiJson(input): ApiJson<ConfigurationInput>,
) -> ApiResult<(StatusCode, Json<InstallationView>)> {
    let given = configuration_of(&access, input)?;
    let entry = access.audit("plugin.installed", Some(&id));
    let plugins = state.plugins.clone();
    let scope = access.scope.clone();
    let view = state
        .store
        .run(move |_| plugins.install(&scope, &id, &given, entry).map_err(ApiError::from))
        .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

pub async fn list_installed(State(state): State<AppState>, access: TenantAccess) -> ApiResult<Json<Value>> {
    let plugins = state.plugins.clone();
    let items = state
        .store
        .run(move |_| plugins.installed_list(&access.scope).map_err(ApiError::from))
        .await?;
    Ok(Json(json!({"items": items, "next_cursor": null})))
}

pub async fn get_installed(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<InstallationView>> {
    let plugins = state.plugins.clone();
    let view = state
        .store
        .run(move |_| plugins.installation(&access.scope, &id).map_err(ApiError::from))
        .await?;
    Ok(Json(view))
}

pub async fn configure(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, id)): Path<(String, String)>,
    ApiJson(input): ApiJson<ConfigurationInput>,
) -> ApiResult<Json<InstallationView>> {
    let given = configuration_of(&access, input)?;
    let entry = access.audit("plugin.configured", Some(&id));
    let plugins = state.plugins.clone();
    let scope = access.scope.clone();
    let view = state
        .store
        .run(move |_| plugins.configure(&scope, &id, &given, entry).map_err(ApiError::from))
        .await?;
    Ok(Json(view))
}

pub async fn uninstall(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let entry = access.audit("plugin.uninstalled", Some(&id));
    let plugins = state.plugins.clone();
    let scope = access.scope.clone();
    state
        .store
        .run(move |_| plugins.uninstall(&scope, &id, entry).map_err(ApiError::from))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

impl From<PluginError> for crate::jobs::JobFailure {
    fn from(e: PluginError) -> Self {
        match e {
            PluginError::Store(_) | PluginError::Vault(_) => crate::jobs::JobFailure::Retry(e.to_string()),
            other => crate::jobs::JobFailure::Retry(other.to_string()),
        }
    }
}
