//! Signups API: list/filter, get, approve, reject, invite.

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::repo::{self, SignupFilter};
use super::{STATUSES, Signup, StatusChange};
use crate::api::extract::ApiQuery;
use crate::api::pagination::{Page, PageQuery};
use crate::app::AppState;
use crate::auth::TenantAccess;
use crate::error::{ApiError, ApiResult};

#[derive(Debug, Default, Deserialize)]
pub struct SignupQuery {
    // Not `#[serde(flatten)]`: flattened query fields lose their numeric types.
    #[serde(flatten)]
    page: PageQuery,
    status: Option<String>,
    provider: Option<String>,
    email: Option<String>,
}

pub async fn list_signups(
    State(state): State<AppState>,
    access: TenantAccess,
    ApiQuery(query): ApiQuery<SignupQuery>,
) -> ApiResult<Json<Page<Signup>>> {
    if let Some(status) = &query.status
        && !STATUSES.contains(&status.as_str())
    {
        return Err(ApiError::invalid_field(
            "status",
            "expected pending, approved, rejected or invited",
        ));
    }
    let limit = query.page.limit();
    let filter = SignupFilter {
        status: query.status,
        provider: query.provider,
        email: query.email.map(|e| e.trim().to_lowercase()),
        before: query.page.cursor,
    };
    let rows = state
        .store
        .read_async(move |conn| repo::list(conn, &access.scope, &filter, limit))
        .await?;
    Ok(Json(Page::from_rows(rows, limit, |s| s.id.clone())))
}

pub async fn get_signup(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<Signup>> {
    let found = state
        .store
        .read_async(move |conn| repo::find(conn, &access.scope, &id))
        .await?;
    found.map(Json).ok_or_else(|| ApiError::not_found("no such signup"))
}

async fn change_status(
    state: &AppState,
    access: TenantAccess,
    id: String,
    status: &'static str,
) -> ApiResult<Json<Value>> {
    let action = match status {
        "approved" => "signup.approve",
        "rejected" => "signup.reject",
        _ => "signup.invite",
    };
    let entry = access.audit(action, Some(&id));
    let change = state.signups.set_status(&access.scope, &id, status, entry).await?;
    match change {
        StatusChange::Missing => Err(ApiError::not_found("no such signup")),
        StatusChange::Done(signup, job) => {
            let mut value = serde_json::to_value(*signup).unwrap_or(Value::Null);
            if status == "invited" {
                value["email_queued"] = json!(job.is_some());
                value["job_id"] = json!(job);
            }
            Ok(Json(value))
        }
    }
}

pub async fn approve(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    change_status(&state, access, id, "approved").await
}

pub async fn reject(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    change_status(&state, access, id, "rejected").await
}

pub async fn invite(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    change_status(&state, access, id, "invited").await
}
