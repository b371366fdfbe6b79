//! `GET /api/v1/tenants/{tenant}/jobs?kind&status`.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;

use super::repo::{self, Job, JobFilter};
use crate::api::extract::ApiQuery;
use crate::api::pagination::{Page, PageQuery};
use crate::app::AppState;
use crate::auth::{TenantAccess, need};
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
    access: TenantAccess<need::EventsRead>,
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
        .read_async(move |conn| repo::list(conn, &access.tenant.id, &filter, limit))
        .await?;
    Ok(Json(Page::from_rows(rows, limit, |j| j.id.clone())))
}
