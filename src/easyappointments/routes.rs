//! `POST .../easyappointments/import` and `GET .../easyappointments/stats`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ImportRequest, JOB_IMPORT, PROVIDER, valid_date};
use crate::api::extract::{ApiJson, ApiQuery};
use crate::app::AppState;
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

async fn require_connection(state: &AppState, tenant_id: String) -> ApiResult<()> {
    let found = state
        .store
        .read_async(move |conn| crate::connections::find_connection(conn, &tenant_id, PROVIDER))
        .await?;
    found
        .map(|_| ())
        .ok_or_else(|| ApiError::not_found("this tenant has no easyappointments connection"))
}

/// Queues the import as a durable job (it calls the tenant's server) and answers 202.
pub async fn import(
    State(state): State<AppState>,
    access: TenantAccess,
    ApiJson(request): ApiJson<ImportRequest>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    check_range(&request.date_from, &request.date_to)?;
    require_connection(&state, access.tenant.id.clone()).await?;
    let entry = access.audit("easyappointments.import", None);
    let tenant_id = access.tenant.id.clone();
    let payload = serde_json::to_value(&request).map_err(|e| ApiError::internal("import payload", &e))?;
    let jobs = state.jobs.clone();
    let job_id = state
        .store
        .write_async(move |tx| {
            let id = jobs.enqueue(tx, Some(&tenant_id), JOB_IMPORT, &payload)?;
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

#[derive(Debug, Deserialize)]
pub struct StatsQuery {
    date_from: String,
    date_to: String,
}

pub async fn stats(
    State(state): State<AppState>,
    access: TenantAccess,
    ApiQuery(query): ApiQuery<StatsQuery>,
) -> ApiResult<Json<Value>> {
    check_range(&query.date_from, &query.date_to)?;
    require_connection(&state, access.tenant.id.clone()).await?;
    let tenant_id = access.tenant.id.clone();
    let worker = state.easyappointments.clone();
    let result =
        tokio::task::spawn_blocking(move || super::stats(&worker, &tenant_id, &query.date_from, &query.date_to))
            .await
            .map_err(|e| ApiError::internal("stats task", &e))?;
    match result {
        Ok(value) => Ok(Json(value)),
        Err(JobFailure::Retry(m) | JobFailure::Permanent(m)) => Err(ApiError::bad_gateway(m)),
    }
}
