//! Consent rows; every query is scoped by tenant.

use crate::auth::TenantScope;
use crate::store::sql::{Db, Row, params};

use super::{Consent, ConsentError};
use crate::store::OptionalRow;
use crate::store::StoreError;

const COLUMNS: &str = "id, consent_type, resource_type, resource_id, description, subject, granted_by, granted_at, \
                       revoked_at, revoked_by";

fn from_row(r: &Row<'_>) -> Result<Consent, StoreError> {
    let revoked_at: Option<String> = r.get(8)?;
    Ok(Consent {
        id: r.get(0)?,
        consent_type: r.get(1)?,
        resource_type: r.get(2)?,
        resource_id: r.get(3)?,
        description: r.get(4)?,
        subject: r.get(5)?,
        granted_by: r.get(6)?,
        granted_at: r.get(7)?,
        active: revoked_at.is_none(),
        revoked_at,
        revoked_by: r.get(9)?,
    })
}

pub struct NewConsent<'a> {
    pub consent_type: &'a str,
    pub resource_type: &'a str,
    pub resource_id: &'a str,
    pub description: &'a str,
    pub subject: Option<&'a str>,
    pub granted_by: &'a str,
}

pub fn insert(conn: &Db<'_>, scope: &TenantScope, new: &NewConsent<'_>) -> Result<Consent, ConsentError> {
    let tenant_id = scope.id();
    let id = crate::ids::new_id();
    conn.execute(
        "INSERT INTO consents (id, tenant_id, consent_type, resource_type, resource_id, description, subject,
                               granted_by, granted_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            id,
            tenant_id,
            new.consent_type,
            new.resource_type,
            new.resource_id,
            new.description,
            new.subject,
            new.granted_by,
            crate::time::now_rfc3339()
        ],
    )?;
    find(conn, scope, &id)?.ok_or(ConsentError::NotFound)
}

pub fn find(conn: &Db<'_>, scope: &TenantScope, id: &str) -> Result<Option<Consent>, ConsentError> {
    let tenant_id = scope.id();
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM consents WHERE tenant_id = ?1 AND id = ?2"),
            params![tenant_id, id],
            from_row,
        )
        .optional_row()?)
}

#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub consent_type: Option<String>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub subject: Option<String>,
    pub active: Option<bool>,
}

/// Newest first; `before` is the cursor (the last id seen).
pub fn list(
    conn: &Db<'_>,
    scope: &TenantScope,
    filter: &Filter,
    before: Option<&str>,
    limit: u32,
) -> Result<Vec<Consent>, ConsentError> {
    let tenant_id = scope.id();
    let rows = conn.query(
        &format!(
            "SELECT {COLUMNS} FROM consents
         WHERE tenant_id = ?1 AND (?2 IS NULL OR consent_type = ?2) AND (?3 IS NULL OR resource_type = ?3)
           AND (?4 IS NULL OR resource_id = ?4) AND (?5 IS NULL OR subject = ?5)
           AND (?6 IS NULL OR (revoked_at IS NULL) = ?6) AND (?7 IS NULL OR id < ?7)
         ORDER BY id DESC LIMIT ?8"
        ),
        params![
            tenant_id,
            filter.consent_type,
            filter.resource_type,
            filter.resource_id,
            filter.subject,
            filter.active,
            before,
            limit + 1
        ],
        from_row,
    )?;
    Ok(rows)
}

/// Marks a consent revoked; revoking an already revoked consent changes nothing.
/// Returns the consent and whether this call revoked it.
pub fn revoke(conn: &Db<'_>, scope: &TenantScope, id: &str, actor: &str) -> Result<(Consent, bool), ConsentError> {
    let tenant_id = scope.id();
    let changed = conn.execute(
        "UPDATE consents SET revoked_at = ?3, revoked_by = ?4
         WHERE tenant_id = ?1 AND id = ?2 AND revoked_at IS NULL",
        params![tenant_id, id, crate::time::now_rfc3339(), actor],
    )?;
    let consent = find(conn, scope, id)?.ok_or(ConsentError::NotFound)?;
    Ok((consent, changed > 0))
}
