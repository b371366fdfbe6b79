//! Per-tenant field mappings (`bindings`) over the catalog's defaults.
//! `GET|PUT /api/v1/tenants/{tenant}/bindings/{provider}`.

use crate::auth::TenantScope;
use std::collections::BTreeMap;

use crate::store::sql::{Db, params};
use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Map, Value, json};

use super::InboundError;
use crate::api::extract::ApiJson;
use crate::app::AppState;
use crate::auth::TenantAccess;
use crate::catalog::{Catalog, EventHandler, Provider};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::store::{OptionalRow, StoreError};

/// Fields a mapping may name.
pub const FIELDS: &[&str] = &["email", "first_name", "last_name", "name", "reference", "event_name"];

pub type Overrides = BTreeMap<String, BTreeMap<String, String>>;

pub fn load(conn: &Db<'_>, scope: &TenantScope, provider: &str) -> Result<Overrides, StoreError> {
    let tenant_id = scope.id();
    let text: Option<String> = conn
        .query_row(
            "SELECT mapping FROM inbound_bindings WHERE tenant_id = ?1 AND provider = ?2",
            params![tenant_id, provider],
            |r| r.get(0),
        )
        .optional_row()?;
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default())
}

/// The catalog's handler for `event_type` with the tenant's overrides applied.
pub fn effective_handler(
    conn: &Db<'_>,
    scope: &TenantScope,
    provider: &Provider,
    event_type: &str,
) -> Result<Option<EventHandler>, StoreError> {
    let Some(mut handler) = provider
        .webhook
        .as_ref()
        .and_then(|w| w.handlers.get(event_type))
        .cloned()
    else {
        return Ok(None);
    };
    if let Some(overrides) = load(conn, scope, &provider.key)?.remove(event_type) {
        for (field, pointer) in overrides {
            if pointer.is_empty() {
                handler.mapping.remove(&field);
            } else {
                handler.mapping.insert(field, pointer);
            }
        }
    }
    Ok(Some(handler))
}

fn view(provider: &Provider, overrides: &Overrides) -> Value {
    let mut effective = Map::new();
    if let Some(spec) = &provider.webhook {
        for (event_type, handler) in &spec.handlers {
            let mut mapping: BTreeMap<String, String> = handler.mapping.clone();
            if let Some(own) = overrides.get(event_type) {
                for (field, pointer) in own {
                    if pointer.is_empty() {
                        mapping.remove(field);
                    } else {
                        mapping.insert(field.clone(), pointer.clone());
                    }
                }
            }
            effective.insert(event_type.clone(), json!(mapping));
        }
    }
    // The contract's shape: `{"<event type>": {"field": "/pointer"}}`, effective values.
    Value::Object(effective)
}

fn provider_with_handlers(catalog: &Catalog, key: &str) -> Result<Provider, InboundError> {
    let provider = catalog
        .get(key)
        .ok_or_else(|| InboundError::UnknownProvider(key.to_owned()))?;
    match &provider.webhook {
        Some(spec) if !spec.handlers.is_empty() => Ok(provider.clone()),
        _ => Err(InboundError::NoWebhooks(provider.name.clone())),
    }
}

pub async fn get_bindings(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, key)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let provider = provider_with_handlers(&state.catalogs.for_tenant(&access.tenant.id), &key)?;
    let scope = access.scope.clone();
    let overrides = state.store.read_async(move |conn| load(conn, &scope, &key)).await?;
    Ok(Json(view(&provider, &overrides)))
}

/// Checks a mapping document: known event types, known fields, JSON pointers.
pub fn validate(provider: &Provider, input: &Map<String, Value>) -> Result<Overrides, Vec<FieldError>> {
    let handlers = provider.webhook.as_ref().map(|w| &w.handlers);
    let mut errors = Vec::new();
    let mut out = Overrides::new();
    for (event_type, mapping) in input {
        if !handlers.is_some_and(|h| h.contains_key(event_type)) {
            errors.push(field_error(event_type, "tessera does not process this event type"));
            continue;
        }
        let Some(mapping) = mapping.as_object() else {
            errors.push(field_error(event_type, "expected an object of field → JSON pointer"));
            continue;
        };
        let mut fields = BTreeMap::new();
        for (field, pointer) in mapping {
            let name = format!("{event_type}.{field}");
            if !FIELDS.contains(&field.as_str()) {
                errors.push(field_error(
                    &name,
                    format!("unknown field; expected one of {}", FIELDS.join(", ")),
                ));
                continue;
            }
            match pointer.as_str() {
                Some(p) if p.is_empty() || p.starts_with('/') => {
                    fields.insert(field.clone(), p.to_owned());
                }
                _ => errors.push(field_error(
                    &name,
                    "expected a JSON pointer such as \"/data/email\" (or \"\" to unset)",
                )),
            }
        }
        out.insert(event_type.clone(), fields);
    }
    if errors.is_empty() { Ok(out) } else { Err(errors) }
}

pub async fn put_bindings(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, key)): Path<(String, String)>,
    ApiJson(input): ApiJson<Map<String, Value>>,
) -> ApiResult<Json<Value>> {
    let provider = provider_with_handlers(&state.catalogs.for_tenant(&access.tenant.id), &key)?;
    let overrides = validate(&provider, &input).map_err(ApiError::invalid_fields)?;
    let stored = overrides.clone();
    let entry = access.audit("bindings.update", Some(&key));
    let tenant_id = access.tenant.id.clone();
    state
        .store
        .write_async(move |tx| {
                tx.execute(
                    "INSERT INTO inbound_bindings (tenant_id, provider, mapping, updated_at) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT(tenant_id, provider) DO UPDATE SET mapping = excluded.mapping, updated_at = excluded.updated_at",
                    params![tenant_id, key, json!(stored).to_string(), crate::time::now_rfc3339()],
                )?;
                crate::audit::record(tx, &entry)
            })
        .await?;
    Ok(Json(view(&provider, &overrides)))
}

fn field_error(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.to_owned(),
        message: message.into(),
    }
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncRequest {
    /// Only events received at or after this time (RFC 3339); every stored event when absent.
    #[serde(default)]
    since: Option<String>,
}

/// `POST .../bindings/{provider}/sync`: processes the tenant's stored events of this
/// provider again with the current mapping, as a job (202 with its id; its result holds
/// `{"events","processed","unhandled","failed","done"}`).
pub async fn sync_bindings(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, key)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> ApiResult<(axum::http::StatusCode, Json<Value>)> {
    // Any provider whose webhooks tessera receives (a plugin's too: its onInbound decides).
    let provider = state
        .catalogs
        .provider(&access.tenant.id, &key)
        .ok_or_else(|| InboundError::UnknownProvider(key.clone()))?;
    if provider.webhook.is_none() {
        return Err(InboundError::NoWebhooks(provider.name.clone()).into());
    }
    // The body is optional: nothing or `{}` means every stored event.
    let request: SyncRequest = if body.iter().all(u8::is_ascii_whitespace) {
        SyncRequest::default()
    } else {
        crate::api::extract::parse_json(&body)?
    };
    let since_unix = match &request.since {
        Some(text) => Some(
            crate::time::parse_rfc3339(text)
                .ok_or_else(|| ApiError::invalid_field("since", "expected an RFC 3339 time"))?
                .unix_timestamp(),
        ),
        None => None,
    };
    let payload = serde_json::to_value(super::sync::SyncPayload {
        provider: key.clone(),
        since_unix,
        after: None,
        origin: None,
        totals: Default::default(),
    })
    .map_err(|e| ApiError::internal("sync payload", &e))?;
    let entry = access
        .audit("bindings.sync", Some(&key))
        .with_detail(json!({"since": request.since}));
    let (tenant_id, jobs) = (access.tenant.id.clone(), state.jobs.clone());
    let job_id = state
        .store
        .write_async(move |tx| {
            let id = jobs.enqueue(tx, Some(&tenant_id), super::JOB_SYNC_BINDING, &payload)?;
            crate::audit::record(tx, &entry)?;
            Ok::<_, StoreError>(id)
        })
        .await?;
    state.jobs.wake();
    Ok((
        axum::http::StatusCode::ACCEPTED,
        Json(json!({"job_id": job_id, "status": "pending"})),
    ))
}
