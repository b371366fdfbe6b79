//! The audit log: who did what to which credential, token or endpoint. Never a secret.

use axum::Json;
use axum::extract::State;
use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};

use crate::api::extract::ApiQuery;
use crate::api::pagination::{Page, PageQuery};
use crate::app::AppState;
use crate::auth::{RequestContext, TenantAccess, need};
use crate::error::ApiResult;
use crate::store::StoreError;

#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub tenant_id: Option<String>,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub ip: Option<String>,
    pub request_id: Option<String>,
    /// Extra, non-secret facts (e.g. the fields a write changed, by name only).
    pub detail: Option<serde_json::Value>,
}

impl AuditEntry {
    pub fn new(tenant_id: Option<&str>, actor: &str, action: &str, target: Option<&str>, ctx: &RequestContext) -> Self {
        AuditEntry {
            tenant_id: tenant_id.map(str::to_owned),
            actor: actor.to_owned(),
            action: action.to_owned(),
            target: target.map(str::to_owned),
            ip: ctx.ip.clone(),
            request_id: ctx.request_id.clone(),
            detail: None,
        }
    }

    pub fn with_detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = Some(detail);
        self
    }
}

pub fn record(conn: &Connection, entry: &AuditEntry) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO audit_log (id, tenant_id, at, actor, action, target, ip, request_id, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            crate::ids::new_id(),
            entry.tenant_id,
            crate::time::now_rfc3339(),
            entry.actor,
            entry.action,
            entry.target,
            entry.ip,
            entry.request_id,
            entry.detail.as_ref().map(|d| d.to_string()),
        ],
    )?;
    Ok(())
}

#[derive(Debug, Serialize)]
pub struct AuditView {
    pub id: String,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub ip: Option<String>,
    pub request_id: Option<String>,
    pub detail: Option<serde_json::Value>,
}

#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    #[serde(flatten)]
    page: PageQuery,
    action: Option<String>,
}

/// Newest first; the cursor is the last id seen.
pub fn list(
    conn: &Connection,
    tenant_id: &str,
    action: Option<&str>,
    before: Option<&str>,
    limit: u32,
) -> Result<Vec<AuditView>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT id, at, actor, action, target, ip, request_id, detail FROM audit_log
         WHERE tenant_id = ?1 AND (?2 IS NULL OR action = ?2) AND (?3 IS NULL OR id < ?3)
         ORDER BY id DESC LIMIT ?4",
    )?;
    let rows = stmt
        .query_map(params![tenant_id, action, before, limit + 1], |r| {
            let detail: Option<String> = r.get(7)?;
            Ok(AuditView {
                id: r.get(0)?,
                at: r.get(1)?,
                actor: r.get(2)?,
                action: r.get(3)?,
                target: r.get(4)?,
                ip: r.get(5)?,
                request_id: r.get(6)?,
                detail: detail.and_then(|d| serde_json::from_str(&d).ok()),
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub async fn list_audit(
    State(state): State<AppState>,
    access: TenantAccess<need::AuditRead>,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> ApiResult<Json<Page<AuditView>>> {
    let page = query.page.clone();
    let limit = page.limit();
    let rows = state
        .store
        .read_async(move |conn| {
            list(
                conn,
                &access.tenant.id,
                query.action.as_deref(),
                page.cursor.as_deref(),
                limit,
            )
        })
        .await?;
    Ok(Json(Page::from_rows(rows, limit, |a| a.id.clone())))
}
