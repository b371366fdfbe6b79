//! In-app notifications for a tenant's admins (new signups, disabled endpoints, ...).

use crate::auth::TenantScope;
use crate::store::sql::{Db, params};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::api::extract::ApiQuery;
use crate::api::pagination::{Page, PageQuery};
use crate::app::AppState;
use crate::auth::TenantAccess;
use crate::error::{ApiError, ApiResult};
use crate::store::StoreError;

#[derive(Debug, Serialize)]
pub struct Notification {
    pub id: String,
    pub kind: String,
    pub title: String,
    pub body: String,
    pub data: Value,
    pub created_at: String,
    pub read_at: Option<String>,
}

pub fn notify(
    conn: &Db<'_>,
    tenant_id: &str,
    kind: &str,
    title: &str,
    body: &str,
    data: Value,
) -> Result<String, StoreError> {
    let id = crate::ids::new_id();
    conn.execute(
        "INSERT INTO notifications (id, tenant_id, kind, title, body, data, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![id, tenant_id, kind, title, body, data.to_string(), crate::time::now_rfc3339()],
    )?;
    Ok(id)
}

pub fn list(
    conn: &Db<'_>,
    scope: &TenantScope,
    unread_only: bool,
    before: Option<&str>,
    limit: u32,
) -> Result<Vec<Notification>, StoreError> {
    let tenant_id = scope.id();
    let rows = conn.query(
        "SELECT id, kind, title, body, data, created_at, read_at FROM notifications
         WHERE tenant_id = ?1 AND (?2 = 0 OR read_at IS NULL) AND (?3 IS NULL OR id < ?3)
         ORDER BY id DESC LIMIT ?4",
        params![tenant_id, unread_only, before, limit + 1],
        |r| {
            let data: String = r.get(4)?;
            Ok(Notification {
                id: r.get(0)?,
                kind: r.get(1)?,
                title: r.get(2)?,
                body: r.get(3)?,
                data: serde_json::from_str(&data).unwrap_or(Value::Null),
                created_at: r.get(5)?,
                read_at: r.get(6)?,
            })
        },
    )?;
    Ok(rows)
}

#[derive(Debug, Default, Deserialize)]
pub struct NotificationQuery {
    #[serde(flatten)]
    page: PageQuery,
    unread: Option<bool>,
}

pub async fn list_notifications(
    State(state): State<AppState>,
    access: TenantAccess,
    ApiQuery(query): ApiQuery<NotificationQuery>,
) -> ApiResult<Json<Page<Notification>>> {
    let page = query.page.clone();
    let limit = page.limit();
    let rows = state
        .store
        .read_async(move |conn| {
            list(
                conn,
                &access.scope,
                query.unread.unwrap_or(false),
                page.cursor.as_deref(),
                limit,
            )
        })
        .await?;
    Ok(Json(Page::from_rows(rows, limit, |n| n.id.clone())))
}

pub async fn mark_read(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let changed = state
        .store
        .write_async(move |tx| {
            tx.execute(
                "UPDATE notifications SET read_at = COALESCE(read_at, ?3) WHERE id = ?1 AND tenant_id = ?2",
                params![id, access.tenant.id, crate::time::now_rfc3339()],
            )
        })
        .await?;
    if changed == 0 {
        return Err(ApiError::not_found("no such notification"));
    }
    Ok(StatusCode::NO_CONTENT)
}
