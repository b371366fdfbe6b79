//! `GET /api/v1/tenants/{tenant}/jobs?kind&status` and `POST .../jobs/{id}/retry`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::repo::{self, Job, JobFilter, RetryRefused};
use crate::api::extract::ApiQuery;
use crate::api::pagination::{Page, PageQuery};
use crate::app::AppState;
use crate::auth::TenantAccess;
use crate::error::{ApiError, ApiResult};

#[derive(Debug, Default, Deserialize)]
pub struct JobQuery {
    // Not `#[serde(flatten)]`: flattened query fields lose their numeric types.
    #[serde(flatten)]
    page: PageQuery,
    kind: Option<String>,
    status: Option<String>,
}

pub async fn list_jobs(
    State(state): State<AppState>,
    access: TenantAccess,
    ApiQuery(query): ApiQuery<JobQuery>,
) -> ApiResult<Json<Page<Job>>> {
    if let Some(status) = &query.status
        && super::JobStatus::parse(status).is_none()
    {
        return Err(ApiError::invalid_field(
            "status",
            "expected one of pending, running, succeeded, failed",
        ));
    }
    let limit = query.page.limit();
    let filter = JobFilter {
        kind: query.kind,
        status: query.status,
        before: query.page.cursor,
    };
    let rows = state
        .store
        .read_async(move |conn| repo::list(conn, &access.scope, &filter, limit))
        .await?;
    Ok(Json(Page::from_rows(rows, limit, |j| j.id.clone())))
}

/// Queues a failed job again, due now, for one more attempt.
pub async fn retry_job(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<(StatusCode, Json<Job>)> {
    let entry = access.audit("job.retried", Some(&id));
    let tenant_id = access.tenant.id.clone();
    let queue = state.jobs.clone();
    let job = state
        .store
        .write_async(move |tx| match queue.retry_failed(tx, &tenant_id, &id)? {
            Ok(job) => {
                crate::audit::record(tx, &entry)?;
                Ok(job)
            }
            Err(RetryRefused::NotFailed(status)) => Err(ApiError::conflict(format!(
                "only a failed job can be retried; this one is {}",
                status.as_str()
            ))),
            Err(RetryRefused::NotFound) => Err(ApiError::not_found("no such job")),
        })
        .await?;
    state.jobs.wake();
    Ok((StatusCode::ACCEPTED, Json(job)))
}
