use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use super::{Tenant, Tier, list_tenants, slugify, validate_emails, validate_name, validate_slug};
use crate::api::extract::{ApiJson, ApiQuery};
use crate::api::pagination::{Page, PageQuery};
use crate::app::AppState;
use crate::auth::{Caller, PlatformAccess, TenantAccess};
use crate::error::{ApiError, ApiResult};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    name: String,
    slug: Option<String>,
    tier: Option<String>,
    #[serde(default)]
    notification_emails: Vec<String>,
}

fn parse_tier(value: &str) -> Result<Tier, ApiError> {
    Tier::parse(value).ok_or_else(|| ApiError::invalid_field("tier", "must be free, pro or enterprise"))
}

pub async fn create_tenant(
    State(state): State<AppState>,
    auth: PlatformAccess,
    ApiJson(body): ApiJson<CreateTenant>,
) -> ApiResult<(StatusCode, Json<Tenant>)> {
    let name = validate_name(&body.name)?;
    let slug = match body.slug.as_deref() {
        Some(s) => s.trim().to_owned(),
        None => {
            let derived = slugify(&name);
            if derived.is_empty() {
                "tenant".to_owned()
            } else {
                derived
            }
        }
    };
    validate_slug(&slug)?;
    let tier = body.tier.as_deref().map(parse_tier).transpose()?.unwrap_or(Tier::Free);
    let notification_emails = validate_emails(&body.notification_emails)?;
    let now = crate::time::now_rfc3339();
    let tenant = Tenant {
        id: crate::ids::new_id(),
        slug,
        name,
        tier,
        notification_emails,
        created_at: now.clone(),
        updated_at: now,
    };
    let entry = auth.audit(Some(&tenant.id), "tenant.created", Some(&tenant.id));
    let created = state.tenants.create(tenant, entry).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<Tenant>>> {
    let limit = page.limit();
    let reach = caller.reach.clone();
    let rows = state
        .store
        .read_async(move |conn| list_tenants(conn, &reach, page.cursor.as_deref(), limit))
        .await?;
    Ok(Json(Page::from_rows(rows, limit, |t| t.id.clone())))
}

pub async fn get_tenant(access: TenantAccess) -> Json<Tenant> {
    Json(access.tenant)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchTenant {
    name: Option<String>,
    slug: Option<String>,
    tier: Option<String>,
    notification_emails: Option<Vec<String>>,
}

pub async fn patch_tenant(
    State(state): State<AppState>,
    access: TenantAccess,
    ApiJson(body): ApiJson<PatchTenant>,
) -> ApiResult<Json<Tenant>> {
    let mut tenant = access.tenant.clone();
    if let Some(name) = &body.name {
        tenant.name = validate_name(name)?;
    }
    if let Some(slug) = &body.slug {
        validate_slug(slug.trim())?;
        tenant.slug = slug.trim().to_owned();
    }
    if let Some(tier) = &body.tier {
        if !access.principal.is_platform() {
            return Err(ApiError::forbidden("only the platform can change a tenant's tier"));
        }
        tenant.tier = parse_tier(tier)?;
    }
    if let Some(emails) = &body.notification_emails {
        tenant.notification_emails = validate_emails(emails)?;
    }
    tenant.updated_at = crate::time::now_rfc3339();
    let entry = access.audit("tenant.updated", Some(&tenant.id));
    let updated = state.tenants.update(tenant, entry).await?;
    Ok(Json(updated))
}

pub async fn delete(State(state): State<AppState>, platform: PlatformAccess) -> ApiResult<StatusCode> {
    let (_, tenant) = platform
        .tenant
        .as_ref()
        .ok_or_else(|| ApiError::not_found("no tenant in path"))?;
    let id = &tenant.id;
    // The tenant row goes: the entry keeps what names it for the platform's log.
    let entry = platform
        .audit(Some(id), "tenant.deleted", Some(id))
        .with_detail(serde_json::json!({"slug": tenant.slug, "name": tenant.name}));
    state.tenants.delete(id, entry).await?;
    Ok(StatusCode::NO_CONTENT)
}
