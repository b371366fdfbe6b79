//! Events API, webhook set-up info and the hourly chart data.

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::InboundError;
use super::events::{self, EventFilter, EventView};
use crate::api::extract::ApiQuery;
use crate::api::pagination::{Page, PageQuery};
use crate::app::AppState;
use crate::auth::TenantAccess;
use crate::connections::{Status, find_connection, open_credentials};
use crate::error::{ApiError, ApiResult};

const EVENT_STATUSES: &[&str] = &["received", "processed", "failed", "rejected"];

#[derive(Debug, Default, Deserialize)]
pub struct EventQuery {
    // Not `#[serde(flatten)]`: flattened query fields lose their numeric types.
    #[serde(flatten)]
    page: PageQuery,
    provider: Option<String>,
    #[serde(rename = "type")]
    event_type: Option<String>,
    status: Option<String>,
}

pub async fn list_events(
    State(state): State<AppState>,
    access: TenantAccess,
    ApiQuery(query): ApiQuery<EventQuery>,
) -> ApiResult<Json<Page<EventView>>> {
    if let Some(status) = &query.status
        && !EVENT_STATUSES.contains(&status.as_str())
    {
        return Err(ApiError::invalid_field(
            "status",
            "expected received, processed, failed or rejected",
        ));
    }
    let limit = query.page.limit();
    let filter = EventFilter {
        provider: query.provider,
        event_type: query.event_type,
        status: query.status,
        before: query.page.cursor,
    };
    let rows = state
        .store
        .read_async(move |conn| events::list(conn, &access.scope, &filter, limit))
        .await?;
    let page = Page::from_rows(rows, limit, |e| e.id.clone());
    Ok(Json(page.map(|mut e| {
        e.headers = None;
        e
    })))
}

pub async fn get_event(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<EventView>> {
    let vault = state.vault.clone();
    let view = state
        .store
        .read_async(move |conn| -> Result<EventView, InboundError> {
            let event = events::find(conn, &access.scope, &id)?.ok_or(InboundError::EventNotFound)?;
            let body = events::open_payload(conn, &vault, &event)?;
            let mut view = event.view;
            view.payload = Some(match body {
                Some(bytes) => serde_json::from_slice(&bytes)
                    .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned())),
                None => Value::Null,
            });
            Ok(view)
        })
        .await?;
    Ok(Json(view))
}

pub async fn replay_event(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<(axum::http::StatusCode, Json<Value>)> {
    let entry = access.audit("event.replay", Some(&id));
    let tenant_id = access.tenant.id.clone();
    let scope = access.scope.clone();
    let jobs = state.jobs.clone();
    let job_id = state
        .store
        .write_async(move |tx| -> Result<String, InboundError> {
            let event = events::find(tx, &scope, &id)?.ok_or(InboundError::EventNotFound)?;
            if event.view.status == "rejected" {
                return Err(InboundError::Invalid(
                    "rejected deliveries failed verification and are never processed".into(),
                ));
            }
            let job = events::replay(tx, &jobs, &tenant_id, &id)?;
            crate::audit::record(tx, &entry)?;
            Ok(job)
        })
        .await?;
    state.jobs.wake();
    Ok((
        axum::http::StatusCode::ACCEPTED,
        Json(json!({ "replayed": true, "job_id": job_id })),
    ))
}

#[derive(Debug, Default, Deserialize)]
pub struct StatsQuery {
    hours: Option<i64>,
}

pub async fn event_stats(
    State(state): State<AppState>,
    access: TenantAccess,
    ApiQuery(query): ApiQuery<StatsQuery>,
) -> ApiResult<Json<Value>> {
    let hours = query.hours.unwrap_or(24);
    if !(1..=24 * 31).contains(&hours) {
        return Err(ApiError::invalid_field("hours", "expected 1 to 744"));
    }
    let now = crate::time::now().unix_timestamp();
    let buckets = state
        .store
        .read_async(move |conn| events::hourly_stats(conn, &access.scope, now, hours))
        .await?;
    Ok(Json(json!({ "buckets": buckets })))
}

/// Rejected deliveries of the tenant: how many rows are stored (up to the bound) and the
/// hourly counts of those summarised beyond it.
pub async fn rejections(State(state): State<AppState>, access: TenantAccess) -> ApiResult<Json<Value>> {
    let max = state.config.rejected_events_max;
    let (stored, summarised) = state
        .store
        .read_async(move |conn| -> Result<_, InboundError> {
            let stored = super::rejections::stored_count(conn, &access.scope, max)?;
            let summarised = super::rejections::summarised(conn, &access.scope, 1000)?;
            Ok((stored, summarised))
        })
        .await?;
    Ok(Json(json!({
        "stored": stored,
        "max_stored": max,
        "retention_days": state.config.rejected_events_days,
        "summarised": summarised,
    })))
}

/// Everything a tenant admin needs to point a provider at tessera.
pub async fn webhook_info(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, key)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let provider = state
        .catalogs
        .provider(&access.tenant.id, &key)
        .ok_or_else(|| InboundError::UnknownProvider(key.clone()))?;
    let spec = provider
        .webhook
        .clone()
        .ok_or_else(|| InboundError::NoWebhooks(provider.name.clone()))?;
    let vault = state.vault.clone();
    let scope = access.scope.clone();
    let provider_key = provider.key.clone();
    let (secret_configured, active) = state
        .store
        .read_async(move |conn| -> Result<(bool, bool), InboundError> {
            let Some(row) = find_connection(conn, &scope, &provider_key)? else {
                return Ok((false, false));
            };
            let has_secret = open_credentials(conn, &vault, &row)
                .ok()
                .and_then(|c| c.get("webhook_secret"))
                .is_some_and(|s| !s.expose().is_empty());
            Ok((has_secret, row.status == Status::Active))
        })
        .await?;
    let unsigned = spec.scheme == "eventbrite-fetch";
    let mut signature = json!({ "scheme": spec.scheme, "header": spec.header });
    if spec.scheme == "stripe" || spec.scheme == "standard-webhooks" {
        signature["tolerance_secs"] = json!(spec.tolerance_secs.unwrap_or(300));
    }
    if unsigned {
        signature["note"] = json!(
            "This provider does not sign webhooks: tessera trusts only the api_url on its API host and fetches the data there with your token."
        );
    }
    Ok(Json(json!({
        "provider": provider.key,
        "webhook_url": format!("{}/webhooks/{}/{}", state.config.public_url(), provider.key, access.tenant.slug),
        // For an unsigned provider the "secret" is the API credential used to fetch.
        "secret_configured": if unsigned { active } else { secret_configured },
        "connection_active": active,
        "signature": signature,
        "supported_events": spec.events,
        "processed_events": spec.handlers.keys().collect::<Vec<_>>(),
        "setup_steps": provider.setup_steps,
    })))
}

/// `POST .../webhooks/{provider}/test`: the catalog's sample event, signed with the
/// tenant's stored secret, through the tenant's own webhook URL; answers once processed
/// (or after a short wait, with the status so far). Audited.
pub async fn send_test(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, key)): Path<(String, String)>,
) -> ApiResult<Json<super::sample::SampleOutcome>> {
    let outcome = state.inbound.send_sample(&access.scope, &access.tenant, &key).await?;
    let entry = access
        .audit("webhook.tested", Some(&key))
        .with_detail(json!({"status": outcome.status, "event_id": outcome.event_id}));
    state
        .store
        .write_async(move |tx| crate::audit::record(tx, &entry))
        .await?;
    Ok(Json(outcome))
}
