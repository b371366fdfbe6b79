use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Catalog;
use crate::api::extract::ApiQuery;
use crate::app::AppState;
use crate::auth::{Caller, Reach};
use crate::error::{ApiError, ApiResult};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogQuery {
    /// A platform principal may ask for one tenant's catalog (its plugins included).
    tenant: Option<String>,
}

/// A tenant principal sees its tenant's catalog; a platform principal the platform's
/// (built-ins, providers file, platform-wide plugins), or a named tenant's.
async fn catalog_for(state: &AppState, caller: &Caller, tenant: Option<String>) -> ApiResult<std::sync::Arc<Catalog>> {
    match (tenant, &caller.reach) {
        (Some(reference), _) => {
            let (_, tenant) = caller.tenant_named(state, &reference).await?;
            Ok(state.catalogs.for_tenant(&tenant.id))
        }
        (None, Reach::Tenant(own)) => Ok(state.catalogs.for_tenant(own.id())),
        (None, Reach::Platform(_)) => Ok(state.catalogs.platform()),
    }
}

pub async fn list_providers(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<CatalogQuery>,
) -> ApiResult<Json<Value>> {
    let catalog = catalog_for(&state, &caller, query.tenant).await?;
    let items: Vec<_> = catalog.all().map(|p| p.summary()).collect();
    Ok(Json(json!({ "items": items, "next_cursor": null })))
}

pub async fn get_provider(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
    ApiQuery(query): ApiQuery<CatalogQuery>,
) -> ApiResult<Json<Value>> {
    let catalog = catalog_for(&state, &caller, query.tenant).await?;
    let provider = catalog
        .get(&key)
        .ok_or_else(|| ApiError::not_found("no such provider in the catalog"))?;
    Ok(Json(json!(provider.summary())))
}
