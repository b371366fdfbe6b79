use crate::store::sql::{Db, Row, params};

use super::{Tenant, TenantError, Tier};
use crate::store::{OptionalRow, StoreError};

const COLUMNS: &str = "id, slug, name, tier, notification_emails, created_at, updated_at";

fn from_row(row: &Row<'_>) -> Result<Tenant, StoreError> {
    let tier: String = row.get(3)?;
    let emails: String = row.get(4)?;
    Ok(Tenant {
        id: row.get(0)?,
        slug: row.get(1)?,
        name: row.get(2)?,
        tier: Tier::parse(&tier).unwrap_or(Tier::Free),
        notification_emails: serde_json::from_str(&emails).unwrap_or_default(),
        created_at: row.get(5)?,
        updated_at: row.get(6)?,
    })
}

pub fn insert_tenant(conn: &Db<'_>, tenant: &Tenant) -> Result<(), TenantError> {
    let emails = serde_json::to_string(&tenant.notification_emails).unwrap_or_else(|_| "[]".into());
    conn.execute(
        &format!("INSERT INTO tenants ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
        params![
            tenant.id,
            tenant.slug,
            tenant.name,
            tenant.tier.as_str(),
            emails,
            tenant.created_at,
            tenant.updated_at
        ],
    )
    .map_err(|e| {
        if e.is_unique_violation() {
            TenantError::SlugTaken(tenant.slug.clone())
        } else {
            e.into()
        }
    })?;
    Ok(())
}

/// Finds a tenant by id or slug.
pub fn find_tenant(conn: &Db<'_>, id_or_slug: &str) -> Result<Option<Tenant>, StoreError> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM tenants WHERE id = ?1 OR slug = ?1 ORDER BY id = ?1 DESC LIMIT 1"),
        [id_or_slug],
        from_row,
    )
    .optional_row()
}

/// The tenants `reach` sees: its own one, or every tenant for the platform.
pub fn list_tenants(
    conn: &Db<'_>,
    reach: &crate::auth::Reach,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<Tenant>, StoreError> {
    let rows = conn.query(
        &format!(
            "SELECT {COLUMNS} FROM tenants
         WHERE (?1 IS NULL OR id = ?1) AND (?2 IS NULL OR id > ?2)
         ORDER BY id LIMIT ?3"
        ),
        params![reach.tenant_filter(), after, limit + 1],
        from_row,
    )?;
    Ok(rows)
}

pub fn update_tenant(conn: &Db<'_>, tenant: &Tenant) -> Result<(), TenantError> {
    let emails = serde_json::to_string(&tenant.notification_emails).unwrap_or_else(|_| "[]".into());
    conn.execute(
        "UPDATE tenants SET slug = ?2, name = ?3, tier = ?4, notification_emails = ?5, updated_at = ?6
         WHERE id = ?1",
        params![
            tenant.id,
            tenant.slug,
            tenant.name,
            tenant.tier.as_str(),
            emails,
            tenant.updated_at
        ],
    )
    .map_err(|e| {
        if e.is_unique_violation() {
            TenantError::SlugTaken(tenant.slug.clone())
        } else {
            e.into()
        }
    })?;
    Ok(())
}

/// Deletes the tenant row; its data key and every tenant-owned row go with it (cascade).
pub fn delete_tenant(conn: &Db<'_>, id: &str) -> Result<bool, StoreError> {
    Ok(conn.execute("DELETE FROM tenants WHERE id = ?1", [id])? > 0)
}
