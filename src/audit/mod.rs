//! The audit log: who did what to which credential, token or endpoint. Never a secret.

use crate::auth::TenantScope;
use crate::store::sql::{Db, Dialect, params};
use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use crate::api::extract::ApiQuery;
use crate::api::pagination::{Page, PageQuery};
use crate::app::AppState;
use crate::auth::{PlatformAccess, RequestContext, TenantAccess};
use crate::error::ApiResult;
use crate::store::StoreError;
use crate::store::sql::Row;

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

pub fn record(conn: &Db<'_>, entry: &AuditEntry) -> Result<(), StoreError> {
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
    /// Who the actor is in words: the user's email or the token's name (`None` for
    /// tessera's own actors, or when the user or token is gone). A tenant's log names
    /// the platform's users and tokens only as [`PLATFORM_ACTOR`].
    pub actor_name: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub ip: Option<String>,
    pub request_id: Option<String>,
    pub detail: Option<serde_json::Value>,
    /// In the platform's log only: the tenant the entry is about, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<TenantRef>,
}

#[derive(Debug, Serialize)]
pub struct TenantRef {
    pub id: String,
    /// Once the tenant is deleted, the slug it had (kept by its `tenant.deleted` entry).
    pub slug: Option<String>,
    pub deleted: bool,
}

#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    #[serde(flatten)]
    page: PageQuery,
    action: Option<String>,
}

/// Who an actor is, for the platform's log: the user's email or the token's name.
const ACTOR_NAME: &str = "COALESCE(u.email, t.name)";

/// Who an actor is, for a tenant's log: its own users and tokens by email and name; the
/// platform's people and tokens only as [`PLATFORM_ACTOR`] — an operator's email and
/// token names are not the tenant's to read.
const TENANT_ACTOR_NAME: &str = "CASE WHEN (u.id IS NOT NULL AND u.tenant_id IS NULL)
                                   OR (t.id IS NOT NULL AND t.tenant_id IS NULL) THEN 'platform'
                              ELSE COALESCE(u.email, t.name) END";

/// What a tenant's log names the platform's actors.
pub const PLATFORM_ACTOR: &str = "platform";

/// The log joined with who its actors are (`user:<id>`, `token:<id>`; see `actor_name`)
/// and the tenant's slug (for a deleted tenant, from its deletion: the newest of its
/// entries, so the backwards index walk finds it first).
fn select(dialect: Dialect, actor_name: &str) -> String {
    let deleted_slug = dialect.json_text("d.detail", "slug");
    format!(
        "SELECT a.id, a.at, a.actor, a.action, a.target, a.ip, a.request_id, a.detail,
        {actor_name}, a.tenant_id,
        COALESCE(tn.slug, (SELECT {deleted_slug} FROM audit_log d
                           WHERE d.tenant_id = a.tenant_id AND d.action = 'tenant.deleted'
                           ORDER BY d.id DESC LIMIT 1)),
        tn.id IS NULL
    FROM audit_log a
    LEFT JOIN users u ON substr(a.actor, 1, 5) = 'user:' AND u.id = substr(a.actor, 6)
    LEFT JOIN api_tokens t ON substr(a.actor, 1, 6) = 'token:' AND t.id = substr(a.actor, 7)
    LEFT JOIN tenants tn ON tn.id = a.tenant_id"
    )
}

fn view_from_row(r: &Row<'_>, with_tenant: bool) -> Result<AuditView, StoreError> {
    let detail: Option<String> = r.get(7)?;
    let tenant_id: Option<String> = r.get(9)?;
    Ok(AuditView {
        id: r.get(0)?,
        at: r.get(1)?,
        actor: r.get(2)?,
        actor_name: r.get(8)?,
        action: r.get(3)?,
        target: r.get(4)?,
        ip: r.get(5)?,
        request_id: r.get(6)?,
        detail: detail.and_then(|d| serde_json::from_str(&d).ok()),
        tenant: match (with_tenant, tenant_id) {
            (true, Some(id)) => Some(TenantRef {
                id,
                slug: r.get(10)?,
                deleted: r.get(11)?,
            }),
            _ => None,
        },
    })
}

/// Newest first; the cursor is the last id seen.
pub fn list(
    conn: &Db<'_>,
    scope: &TenantScope,
    action: Option<&str>,
    before: Option<&str>,
    limit: u32,
) -> Result<Vec<AuditView>, StoreError> {
    let tenant_id = scope.id();
    let rows = conn.query(
        &format!(
            "{} WHERE a.tenant_id = ?1 AND (?2 IS NULL OR a.action = ?2) AND (?3 IS NULL OR a.id < ?3)
         ORDER BY a.id DESC LIMIT ?4",
            select(conn.dialect(), TENANT_ACTOR_NAME)
        ),
        params![tenant_id, action, before, limit + 1],
        |r| view_from_row(r, false),
    )?;
    Ok(rows)
}

/// The platform's own log: what is recorded without a tenant (platform OAuth apps,
/// backups) and whatever a platform principal did (tenants created and deleted, and
/// its actions inside tenants). Newest first.
pub fn list_platform(
    conn: &Db<'_>,
    action: Option<&str>,
    before: Option<&str>,
    limit: u32,
) -> Result<Vec<AuditView>, StoreError> {
    let rows = conn.query(
        &format!(
            "{} WHERE (a.tenant_id IS NULL OR u.role = 'platform_admin' OR (t.id IS NOT NULL AND t.tenant_id IS NULL))
         AND (?1 IS NULL OR a.action = ?1) AND (?2 IS NULL OR a.id < ?2)
         ORDER BY a.id DESC LIMIT ?3",
            select(conn.dialect(), ACTOR_NAME)
        ),
        params![action, before, limit + 1],
        |r| view_from_row(r, true),
    )?;
    Ok(rows)
}

pub async fn list_audit(
    State(state): State<AppState>,
    access: TenantAccess,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> ApiResult<Json<Page<AuditView>>> {
    let page = query.page.clone();
    let limit = page.limit();
    let rows = state
        .store
        .read_async(move |conn| {
            list(
                conn,
                &access.scope,
                query.action.as_deref(),
                page.cursor.as_deref(),
                limit,
            )
        })
        .await?;
    Ok(Json(Page::from_rows(rows, limit, |a| a.id.clone())))
}

pub async fn list_platform_audit(
    State(state): State<AppState>,
    _platform: PlatformAccess,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> ApiResult<Json<Page<AuditView>>> {
    let limit = query.page.limit();
    let rows = state
        .store
        .read_async(move |conn| list_platform(conn, query.action.as_deref(), query.page.cursor.as_deref(), limit))
        .await?;
    Ok(Json(Page::from_rows(rows, limit, |a| a.id.clone())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn a_tenants_log_names_its_own_actors_and_the_platforms_only_as_platform() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        let pooled = store.conn().unwrap();
        let conn = crate::store::sql::Db::sqlite(&pooled);
        conn.execute_batch(
            "INSERT INTO tenants (id, slug, name, tier, created_at, updated_at) VALUES ('t1', 't1', 'T1', 'free', 'x', 'x');
             INSERT INTO users (id, email, password_hash, role, tenant_id, created_at, updated_at) VALUES
               ('op', 'ops@host.example', 'h', 'platform_admin', NULL, 'x', 'x'),
               ('ada', 'ada@t1.example', 'h', 'tenant_admin', 't1', 'x', 'x');
             INSERT INTO api_tokens (id, tenant_id, name, token_hash, prefix, scopes, created_by, created_at) VALUES
               ('pt', NULL, 'deploy robot', 'h1', 'p', '[]', 'x', 'x'),
               ('tt', 't1', 'shop sync', 'h2', 'p', '[]', 'x', 'x');",
        )
        .unwrap();
        let ctx = RequestContext::default();
        for actor in ["user:op", "user:ada", "token:pt", "token:tt"] {
            record(&conn, &AuditEntry::new(Some("t1"), actor, "probe", None, &ctx)).unwrap();
        }
        let names = |views: Vec<AuditView>| {
            let mut named: Vec<(String, Option<String>)> = views.into_iter().map(|v| (v.actor, v.actor_name)).collect();
            named.sort();
            named
        };
        let scope = crate::auth::PlatformScope::for_server_work().narrow_to("t1");
        let own = |n: &str| Some(n.to_owned());
        assert_eq!(
            names(list(&conn, &scope, Some("probe"), None, 10).unwrap()),
            vec![
                ("token:pt".to_owned(), own(PLATFORM_ACTOR)),
                ("token:tt".to_owned(), own("shop sync")),
                ("user:ada".to_owned(), own("ada@t1.example")),
                ("user:op".to_owned(), own(PLATFORM_ACTOR)),
            ]
        );
        let platform = names(list_platform(&conn, Some("probe"), None, 10).unwrap());
        assert_eq!(
            platform,
            vec![
                ("token:pt".to_owned(), own("deploy robot")),
                ("user:op".to_owned(), own("ops@host.example")),
            ],
            "the platform's log names its own actors"
        );
    }
}
