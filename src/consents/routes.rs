//! Consent handlers: thin wrappers over [`super::repo`].

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::repo::{self, Filter, NewConsent};
use super::{Consent, ConsentError, consent_type, required_text};
use crate::api::extract::{ApiJson, ApiQuery};
use crate::api::pagination::{Page, PageQuery};
use crate::app::AppState;
use crate::audit;
use crate::auth::TenantAccess;
use crate::error::{ApiError, ApiResult};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantConsent {
    consent_type: String,
    resource_type: String,
    resource_id: String,
    description: String,
    subject: Option<String>,
}

pub async fn grant(
    State(state): State<AppState>,
    access: TenantAccess,
    ApiJson(body): ApiJson<GrantConsent>,
) -> ApiResult<(StatusCode, Json<Consent>)> {
    let kind = consent_type(body.consent_type.trim())?;
    let resource_type = required_text("resource_type", &body.resource_type, 100)?;
    let resource_id = required_text("resource_id", &body.resource_id, 200)?;
    let description = required_text("description", &body.description, 2000)?;
    let subject = body
        .subject
        .as_deref()
        .map(|s| required_text("subject", s, 320))
        .transpose()?;
    let consent = state
        .store
        .write_async(move |tx| {
            let consent = repo::insert(
                tx,
                &access.scope,
                &NewConsent {
                    consent_type: &kind,
                    resource_type: &resource_type,
                    resource_id: &resource_id,
                    description: &description,
                    subject: subject.as_deref(),
                    granted_by: &access.principal.actor,
                },
            )?;
            let entry = access.audit("consent.granted", Some(&consent.id)).with_detail(json!({
                "consent_type": consent.consent_type,
                "resource_type": consent.resource_type,
                "resource_id": consent.resource_id,
            }));
            audit::record(tx, &entry)?;
            Ok::<_, ConsentError>(consent)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(consent)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[serde(flatten)]
    page: PageQuery,
    consent_type: Option<String>,
    resource_type: Option<String>,
    resource_id: Option<String>,
    subject: Option<String>,
    active: Option<bool>,
}

pub async fn list(
    State(state): State<AppState>,
    access: TenantAccess,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<Page<Consent>>> {
    let page = query.page.clone();
    let limit = page.limit();
    if let Some(kind) = &query.consent_type {
        consent_type(kind)?;
    }
    let filter = Filter {
        consent_type: query.consent_type,
        resource_type: query.resource_type,
        resource_id: query.resource_id,
        subject: query.subject,
        active: query.active,
    };
    let rows = state
        .store
        .read_async(move |conn| repo::list(conn, &access.scope, &filter, page.cursor.as_deref(), limit))
        .await?;
    Ok(Json(Page::from_rows(rows, limit, |c| c.id.clone())))
}

pub async fn get_one(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<Consent>> {
    let consent = state
        .store
        .read_async(move |conn| repo::find(conn, &access.scope, &id))
        .await?
        .ok_or_else(|| ApiError::not_found("no such consent"))?;
    Ok(Json(consent))
}

/// Revokes a consent; the record stays, with `revoked_at`. Repeating it is harmless.
pub async fn revoke(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<Consent>> {
    let consent = state
        .store
        .write_async(move |tx| {
            let (consent, changed) = repo::revoke(tx, &access.scope, &id, &access.principal.actor)?;
            if changed {
                audit::record(tx, &access.audit("consent.revoked", Some(&consent.id)))?;
            }
            Ok::<_, ConsentError>(consent)
        })
        .await?;
    Ok(Json(consent))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusQuery {
    resource_type: Option<String>,
    resource_id: Option<String>,
    subject: Option<String>,
}

/// Whether each consent type is currently granted for a resource (and optionally a subject).
pub async fn status(
    State(state): State<AppState>,
    access: TenantAccess,
    ApiQuery(query): ApiQuery<StatusQuery>,
) -> ApiResult<Json<Value>> {
    let resource_type = required_text("resource_type", query.resource_type.as_deref().unwrap_or(""), 100)?;
    let resource_id = required_text("resource_id", query.resource_id.as_deref().unwrap_or(""), 200)?;
    let filter = Filter {
        resource_type: Some(resource_type.clone()),
        resource_id: Some(resource_id.clone()),
        subject: query.subject.clone(),
        active: Some(true),
        ..Filter::default()
    };
    let active = state
        .store
        .read_async(move |conn| repo::list(conn, &access.scope, &filter, None, 10_000))
        .await?;
    let mut consents = serde_json::Map::new();
    for kind in super::CONSENT_TYPES {
        // Newest first, so the first match is the latest grant.
        let latest = active.iter().find(|c| c.consent_type == *kind);
        consents.insert(
            (*kind).to_owned(),
            json!({
                "granted": latest.is_some(),
                "consent_id": latest.map(|c| &c.id),
                "granted_at": latest.map(|c| &c.granted_at),
            }),
        );
    }
    Ok(Json(json!({
        "resource_type": resource_type,
        "resource_id": resource_id,
        "subject": query.subject,
        "consents": consents,
    })))
}
