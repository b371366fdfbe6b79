//! HTTP handlers for `/api/v1/tenants/{tenant}/webhook-endpoints`. Thin: parse, authorise,
//! call the domain functions, answer.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::endpoints::{self, EndpointRow, EndpointView, RetryPolicy};
use super::history::{self, DeliveryView, HourBucket, ReplaySelection};
use super::{OutboundError, rfc3339_to_ms};
use crate::api::extract::{ApiJson, ApiQuery};
use crate::api::pagination::{Page, PageQuery};
use crate::app::AppState;
use crate::audit;
use crate::auth::TenantAccess;
use crate::error::{ApiError, ApiResult};
use crate::store::sql::Db;
use crate::time::{ms_to_rfc3339, now_ms};

/// May hold a plaintext secret: deliberately not `Debug`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateEndpoint {
    url: String,
    events: Vec<String>,
    description: Option<String>,
    secret: Option<String>,
    active: Option<bool>,
    retry_policy: Option<String>,
    /// An installed plugin whose transformation reshapes this endpoint's messages.
    transform: Option<String>,
}

/// Checks a `transform` (an installed plugin with an outbound entry point) in `tx`.
fn check_transform(tx: &Db<'_>, tenant_id: &str, plugin: &str) -> Result<(), OutboundError> {
    crate::plugins::runtime::check_endpoint_transform(tx, tenant_id, plugin)
        .map_err(|message| OutboundError::invalid("transform", message))
}

pub async fn create_endpoint(
    State(state): State<AppState>,
    access: TenantAccess,
    ApiJson(body): ApiJson<CreateEndpoint>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let events = endpoints::validate_events(&body.events)?;
    let description = endpoints::validate_description(body.description.as_deref().unwrap_or(""))?;
    let retry_policy = RetryPolicy::parse(body.retry_policy.as_deref().unwrap_or("exponential"))?;
    let secret = endpoints::secret_or_generated(body.secret.as_deref())?;
    let app = state.clone();
    let (view, secret) = state
        .store
        .run(move |store| {
            let url = endpoints::validate_url(&body.url, app.outbound.policy(), app.outbound.names())?;
            store.write(|tx| {
                let now = crate::time::now_rfc3339();
                let id = crate::ids::new_id();
                let active = body.active.unwrap_or(true);
                if let Some(plugin) = &body.transform {
                    check_transform(tx, &access.tenant.id, plugin)?;
                }
                let row = EndpointRow {
                    secret: endpoints::seal_secret(tx, &app.vault, &access.tenant.id, &id, "secret", &secret)?,
                    id,
                    tenant_id: access.tenant.id.clone(),
                    url,
                    description,
                    events,
                    active,
                    retry_policy,
                    previous_secret: None,
                    previous_secret_expires_at: None,
                    disabled_reason: (!active).then(|| "manual".to_owned()),
                    disabled_at: (!active).then(now_ms),
                    failing_since: None,
                    created_at: now.clone(),
                    updated_at: now,
                    transform_plugin: body.transform.clone(),
                };
                endpoints::insert(tx, &row)?;
                audit::record(
                    tx,
                    &access
                        .audit("webhook_endpoint.created", Some(&row.id))
                        .with_detail(json!({"url": row.url, "events": row.events})),
                )?;
                Ok::<_, OutboundError>((EndpointView::from(&row), secret))
            })
        })
        .await?;
    let mut body = serde_json::to_value(&view).map_err(|e| ApiError::internal("serialise endpoint", &e))?;
    body["secret"] = Value::String(secret.expose().to_owned());
    Ok((StatusCode::CREATED, Json(body)))
}

pub async fn list_endpoints(
    State(state): State<AppState>,
    access: TenantAccess,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<EndpointView>>> {
    let limit = page.limit();
    let rows = state
        .store
        .read_async(move |conn| endpoints::list(conn, &access.scope, page.cursor.as_deref(), limit))
        .await?;
    Ok(Json(
        Page::from_rows(rows, limit, |r| r.id.clone()).map(|r| EndpointView::from(&r)),
    ))
}

pub async fn get_endpoint(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<EndpointView>> {
    let row = state
        .store
        .read_async(move |conn| endpoints::get(conn, &access.scope, &id))
        .await?;
    Ok(Json(EndpointView::from(&row)))
}

/// May hold a plaintext secret: deliberately not `Debug`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchEndpoint {
    url: Option<String>,
    events: Option<Vec<String>>,
    description: Option<String>,
    active: Option<bool>,
    retry_policy: Option<String>,
    /// Starts a rotation with a fresh secret (or `secret`, when given).
    #[serde(default)]
    rotate_secret: bool,
    secret: Option<String>,
    /// A plugin id to reshape messages with, or `null` to send them as they are.
    #[serde(default, deserialize_with = "crate::api::extract::present")]
    transform: Option<Value>,
}

pub async fn patch_endpoint(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<PatchEndpoint>,
) -> ApiResult<Json<Value>> {
    let events = body.events.as_deref().map(endpoints::validate_events).transpose()?;
    let description = body
        .description
        .as_deref()
        .map(endpoints::validate_description)
        .transpose()?;
    let retry_policy = body.retry_policy.as_deref().map(RetryPolicy::parse).transpose()?;
    if body.secret.is_some() && !body.rotate_secret {
        return Err(ApiError::invalid_field(
            "secret",
            "a new secret is set by rotation: send it with \"rotate_secret\": true",
        ));
    }
    let new_secret = body
        .rotate_secret
        .then(|| endpoints::secret_or_generated(body.secret.as_deref()))
        .transpose()?;
    let app = state.clone();
    let endpoint_id = id.clone();
    let (view, rotated, missed) = state
        .store
        .run(move |store| {
            let url = body
                .url
                .as_deref()
                .map(|u| endpoints::validate_url(u, app.outbound.policy(), app.outbound.names()))
                .transpose()?;
            store.write(|tx| {
                let now = now_ms();
                let mut row = endpoints::get(tx, &access.scope, &id)?;
                let mut changed: Vec<&str> = Vec::new();
                if let Some(url) = url {
                    row.url = url;
                    changed.push("url");
                }
                if let Some(events) = events {
                    row.events = events;
                    changed.push("events");
                }
                if let Some(description) = description {
                    row.description = description;
                    changed.push("description");
                }
                if let Some(policy) = retry_policy {
                    row.retry_policy = policy;
                    changed.push("retry_policy");
                }
                if let Some(secret) = &new_secret {
                    endpoints::rotate_secret(tx, &app.vault, &mut row, secret, now)?;
                    changed.push("secret");
                }
                match &body.transform {
                    None => {}
                    Some(Value::Null) => {
                        row.transform_plugin = None;
                        changed.push("transform");
                    }
                    Some(Value::String(plugin)) => {
                        check_transform(tx, &access.tenant.id, plugin)?;
                        row.transform_plugin = Some(plugin.clone());
                        changed.push("transform");
                    }
                    Some(_) => return Err(OutboundError::invalid("transform", "a plugin id or null")),
                }
                let mut missed = None;
                match body.active {
                    Some(true) if !row.active => {
                        missed = history::missed_since(tx, &row, now)?;
                        row.active = true;
                        row.disabled_reason = None;
                        row.disabled_at = None;
                        row.failing_since = None;
                        changed.push("active");
                    }
                    Some(false) if row.active => {
                        changed.push("active");
                        endpoints::disable(tx, &mut row, "manual", now)?;
                    }
                    _ => {}
                }
                row.updated_at = ms_to_rfc3339(now);
                endpoints::update(tx, &row)?;
                audit::record(
                    tx,
                    &access
                        .audit("webhook_endpoint.updated", Some(&row.id))
                        .with_detail(json!({"fields": changed})),
                )?;
                Ok::<_, OutboundError>((EndpointView::from(&row), new_secret, missed))
            })
        })
        .await?;
    state.outbound.endpoint_changed(&endpoint_id);
    let mut body = serde_json::to_value(&view).map_err(|e| ApiError::internal("serialise endpoint", &e))?;
    if let Some(secret) = rotated {
        // The new secret is shown once here (and at GET .../secret).
        body["secret"] = Value::String(secret.expose().to_owned());
    }
    if let Some(missed) = missed {
        body["missed"] = missed;
    }
    Ok(Json(body))
}

pub async fn delete_endpoint(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let endpoint_id = id.clone();
    state
        .store
        .write_async(move |tx| {
            endpoints::delete(tx, &access.scope, &id)?;
            audit::record(tx, &access.audit("webhook_endpoint.deleted", Some(&id)))?;
            Ok::<_, OutboundError>(())
        })
        .await?;
    state.outbound.endpoint_changed(&endpoint_id);
    Ok(StatusCode::NO_CONTENT)
}

pub async fn reveal_secret(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let app = state.clone();
    let body = state
        .store
        .write_async(move |tx| {
            let now = now_ms();
            let row = endpoints::get(tx, &access.scope, &id)?;
            let (current, previous) = endpoints::open_secrets(tx, &app.vault, &row, now)?;
            audit::record(tx, &access.audit("webhook_endpoint.secret_revealed", Some(&row.id)))?;
            let mut body = json!({"secret": current.expose()});
            if let (Some(previous), Some(until)) = (previous, row.previous_secret_expires_at) {
                body["previous_secret"] = json!(previous.expose());
                body["previous_secret_expires_at"] = json!(ms_to_rfc3339(until));
            }
            Ok::<_, OutboundError>(body)
        })
        .await?;
    Ok(Json(body))
}

pub async fn send_test(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<(StatusCode, Json<DeliveryView>)> {
    let view = state
        .store
        .write_async(move |tx| {
            let row = endpoints::get(tx, &access.scope, &id)?;
            history::send_test(tx, &row)
        })
        .await?;
    state.outbound.claim_soon();
    Ok((StatusCode::ACCEPTED, Json(view)))
}

#[derive(Debug, Default, Deserialize)]
pub struct DeliveryQuery {
    #[serde(flatten)]
    page: PageQuery,
    status: Option<String>,
}

pub async fn list_deliveries(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, id)): Path<(String, String)>,
    ApiQuery(query): ApiQuery<DeliveryQuery>,
) -> ApiResult<Json<Page<DeliveryView>>> {
    if let Some(status) = &query.status
        && !["pending", "succeeded", "failed", "exhausted"].contains(&status.as_str())
    {
        return Err(ApiError::invalid_field(
            "status",
            "must be pending, succeeded, failed or exhausted",
        ));
    }
    let limit = query.page.limit();
    let rows = state
        .store
        .read_async(move |conn| {
            endpoints::get(conn, &access.scope, &id)?;
            history::list(
                conn,
                &access.scope,
                &id,
                query.status.as_deref(),
                query.page.cursor.as_deref(),
                limit,
            )
        })
        .await?;
    Ok(Json(Page::from_rows(rows, limit, |d| d.id.clone())))
}

pub async fn get_delivery(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, id, delivery_id)): Path<(String, String, String)>,
) -> ApiResult<Json<DeliveryView>> {
    let view = state
        .store
        .read_async(move |conn| history::get(conn, &access.scope, &id, &delivery_id))
        .await?;
    Ok(Json(view))
}

pub async fn retry_delivery(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, id, delivery_id)): Path<(String, String, String)>,
) -> ApiResult<(StatusCode, Json<DeliveryView>)> {
    let view = state
        .store
        .write_async(move |tx| {
            let row = endpoints::get(tx, &access.scope, &id)?;
            let view = history::retry_now(tx, &row, &delivery_id)?;
            audit::record(tx, &access.audit("webhook_delivery.retried", Some(&delivery_id)))?;
            Ok::<_, OutboundError>(view)
        })
        .await?;
    state.outbound.claim_soon();
    Ok((StatusCode::ACCEPTED, Json(view)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    event_id: Option<String>,
    since: Option<String>,
    until: Option<String>,
    /// With a range: skip events this endpoint already received.
    #[serde(default)]
    only_undelivered: bool,
}

pub async fn replay(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<ReplayRequest>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let selection = match (body.event_id, body.since) {
        (Some(event_id), None) if body.until.is_none() => ReplaySelection::Event(event_id),
        (None, Some(since)) => {
            let since_ms = rfc3339_to_ms("since", &since)?;
            let until_ms = match &body.until {
                Some(u) => rfc3339_to_ms("until", u)?,
                None => now_ms(),
            };
            if until_ms < since_ms {
                return Err(ApiError::invalid_field("until", "must not be before `since`"));
            }
            ReplaySelection::Range {
                since: ms_to_rfc3339(since_ms),
                until: ms_to_rfc3339(until_ms),
                only_undelivered: body.only_undelivered,
            }
        }
        _ => {
            return Err(ApiError::invalid_input(
                "send either {\"event_id\"} or {\"since\", \"until\"?} (RFC 3339)",
            ));
        }
    };
    let scheduled = state
        .store
        .write_async(move |tx| {
            let row = endpoints::get(tx, &access.scope, &id)?;
            let scheduled = history::replay(tx, &row, &selection)?;
            audit::record(
                tx,
                &access
                    .audit("webhook_endpoint.replayed", Some(&row.id))
                    .with_detail(json!({"scheduled": scheduled})),
            )?;
            Ok::<_, OutboundError>(scheduled)
        })
        .await?;
    state.outbound.claim_soon();
    Ok((StatusCode::ACCEPTED, Json(json!({"scheduled": scheduled}))))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatsQuery {
    hours: Option<u32>,
    endpoint_id: Option<String>,
}

#[derive(Debug, serde::Serialize)]
pub struct Stats {
    buckets: Vec<HourBucket>,
}

pub async fn stats(
    State(state): State<AppState>,
    access: TenantAccess,
    ApiQuery(query): ApiQuery<StatsQuery>,
) -> ApiResult<Json<Stats>> {
    let hours = query.hours.unwrap_or(24);
    if !(1..=24 * 31).contains(&hours) {
        return Err(ApiError::invalid_field("hours", "must be between 1 and 744"));
    }
    let buckets = state
        .store
        .read_async(move |conn| {
            if let Some(id) = &query.endpoint_id {
                endpoints::get(conn, &access.scope, id)?;
            }
            history::stats(conn, &access.tenant.id, query.endpoint_id.as_deref(), hours, now_ms())
        })
        .await?;
    Ok(Json(Stats { buckets }))
}
