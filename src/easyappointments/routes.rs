//! `POST .../easyappointments/import`, `POST .../easyappointments/sync-to-email-list`,
//! `GET .../easyappointments/stats` and `GET .../easyappointments/insights`.

use crate::auth::TenantScope;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::sync::{JOB_SYNC, SyncRequest};
use super::{EasyAppointments, ImportRequest, JOB_IMPORT, PROVIDER, insights, valid_date};
use crate::api::extract::{ApiJson, ApiQuery};
use crate::app::AppState;
use crate::audit::AuditEntry;
use crate::auth::TenantAccess;
use crate::error::{ApiError, ApiResult};
use crate::jobs::JobFailure;

fn check_range(from: &str, to: &str) -> ApiResult<()> {
    if !valid_date(from) {
        return Err(ApiError::invalid_field("date_from", "expected YYYY-MM-DD"));
    }
    if !valid_date(to) {
        return Err(ApiError::invalid_field("date_to", "expected YYYY-MM-DD"));
    }
    if from > to {
        return Err(ApiError::invalid_field("date_to", "must not be before date_from"));
    }
    Ok(())
}

/// The tenant's connection to `provider`, or 404.
async fn require_connection(
    state: &AppState,
    scope: TenantScope,
    provider: &'static str,
) -> ApiResult<crate::connections::ConnectionRow> {
    let found = state
        .store
        .read_async(move |conn| crate::connections::find_connection(conn, &scope, provider))
        .await?;
    found.ok_or_else(|| ApiError::not_found(format!("this tenant has no {provider} connection")))
}

/// Queues `kind` with `payload` as a durable job (it calls outside servers), audited.
async fn queue(
    state: &AppState,
    entry: AuditEntry,
    tenant_id: String,
    kind: &'static str,
    payload: Value,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let jobs = state.jobs.clone();
    let job_id = state
        .store
        .write_async(move |tx| {
            let id = jobs.enqueue(tx, Some(&tenant_id), kind, &payload)?;
            crate::audit::record(tx, &entry)?;
            Ok::<_, crate::store::StoreError>(id)
        })
        .await?;
    state.jobs.wake();
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "job_id": job_id, "status": "pending" })),
    ))
}

/// Queues the import and answers 202; the job records `{"found","imported","skipped"}`.
pub async fn import(
    State(state): State<AppState>,
    access: TenantAccess,
    ApiJson(request): ApiJson<ImportRequest>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    check_range(&request.date_from, &request.date_to)?;
    require_connection(&state, access.scope.clone(), PROVIDER).await?;
    let payload = serde_json::to_value(&request).map_err(|e| ApiError::internal("import payload", &e))?;
    let entry = access.audit("easyappointments.import", None);
    queue(&state, entry, access.tenant.id.clone(), JOB_IMPORT, payload).await
}

/// Queues the sync of the range's bookers into the tenant's Brevo list (the request's
/// `list_id`, else the Brevo connection's `config.list_id`) and answers 202.
pub async fn sync_to_email_list(
    State(state): State<AppState>,
    access: TenantAccess,
    ApiJson(mut request): ApiJson<SyncRequest>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    check_range(&request.date_from, &request.date_to)?;
    require_connection(&state, access.scope.clone(), PROVIDER).await?;
    let brevo = require_connection(&state, access.scope.clone(), "brevo").await?;
    if request.list_id.is_none() {
        request.list_id = crate::inbound::outside::brevo_list_id(&brevo.config);
    }
    match request.list_id {
        Some(id) if id > 0 => {}
        Some(_) => return Err(ApiError::invalid_field("list_id", "must be a positive Brevo list id")),
        None => {
            return Err(ApiError::invalid_field(
                "list_id",
                "give the Brevo list id, or set list_id in the Brevo connection's settings",
            ));
        }
    }
    let payload = serde_json::to_value(&request).map_err(|e| ApiError::internal("sync payload", &e))?;
    let entry = access
        .audit("easyappointments.sync_email_list", None)
        .with_detail(json!({"list_id": request.list_id}));
    queue(&state, entry, access.tenant.id.clone(), JOB_SYNC, payload).await
}

#[derive(Debug, Deserialize)]
pub struct StatsQuery {
    date_from: String,
    date_to: String,
}

/// Runs a blocking read of the tenant's Easy!Appointments; its failures are the
/// upstream's (502).
async fn blocking<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce(&EasyAppointments) -> Result<T, JobFailure> + Send + 'static,
) -> ApiResult<T> {
    let worker = state.easyappointments.clone();
    let result = tokio::task::spawn_blocking(move || work(&worker))
        .await
        .map_err(|e| ApiError::internal("easyappointments task", &e))?;
    result.map_err(|(JobFailure::Retry(m) | JobFailure::Permanent(m))| ApiError::bad_gateway(m))
}

pub async fn stats(
    State(state): State<AppState>,
    access: TenantAccess,
    ApiQuery(query): ApiQuery<StatsQuery>,
) -> ApiResult<Json<Value>> {
    check_range(&query.date_from, &query.date_to)?;
    require_connection(&state, access.scope.clone(), PROVIDER).await?;
    let scope = access.scope.clone();
    let value = blocking(&state, move |ea| {
        super::stats(ea, &scope, &query.date_from, &query.date_to)
    })
    .await?;
    Ok(Json(value))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InsightsQuery {
    date_from: String,
    date_to: String,
    #[serde(default)]
    analysis_type: Option<String>,
    #[serde(default)]
    narrative: Option<bool>,
}

/// Figures by analysis type; with `narrative=true`, a written summary from the tenant's
/// Anthropic account (audited: it sends figures to an outside service).
pub async fn insights(
    State(state): State<AppState>,
    access: TenantAccess,
    ApiQuery(query): ApiQuery<InsightsQuery>,
) -> ApiResult<Json<Value>> {
    check_range(&query.date_from, &query.date_to)?;
    let analysis_type = query.analysis_type.clone().unwrap_or_else(|| "overview".into());
    if !insights::ANALYSIS_TYPES.contains(&analysis_type.as_str()) {
        return Err(ApiError::invalid_field(
            "analysis_type",
            format!("expected one of {}", insights::ANALYSIS_TYPES.join(", ")),
        ));
    }
    require_connection(&state, access.scope.clone(), PROVIDER).await?;
    let narrative = query.narrative.unwrap_or(false);
    if narrative {
        require_connection(&state, access.scope.clone(), "anthropic")
            .await
            .map_err(|_| {
                ApiError::invalid_field(
                    "narrative",
                    "a written summary needs the tenant's anthropic connection; connect Anthropic first",
                )
            })?;
    }
    let scope = access.scope.clone();
    let (from, to, kind) = (query.date_from.clone(), query.date_to.clone(), analysis_type.clone());
    let figures = blocking(&state, move |ea| insights::figures(ea, &scope, &from, &to, &kind)).await?;
    let mut body = json!({
        "date_from": query.date_from,
        "date_to": query.date_to,
        "analysis_type": analysis_type,
        "figures": figures.shown,
    });
    if narrative {
        let context = json!({
            "analysis_type": analysis_type,
            "date_from": query.date_from,
            "date_to": query.date_to,
            "figures": figures.for_narrative,
        });
        let scope = access.scope.clone();
        let (text, model) = blocking(&state, move |ea| insights::narrative(ea, &scope, &context)).await?;
        body["narrative"] = json!(text);
        body["model"] = json!(model);
        let entry = access
            .audit("easyappointments.insights_narrative", Some("anthropic"))
            .with_detail(json!({"analysis_type": analysis_type, "model": model}));
        state
            .store
            .write_async(move |tx| crate::audit::record(tx, &entry))
            .await?;
    }
    Ok(Json(body))
}
