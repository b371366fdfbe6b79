use crate::auth::TenantScope;
use crate::store::sql::{Db, Row, params};
use serde_json::{Map, Value};

use super::Status;
use crate::catalog::AuthMode;
use crate::store::{OptionalRow, StoreError};

/// A stored connection; `credentials` is the sealed blob.
#[derive(Debug, Clone)]
pub struct ConnectionRow {
    pub id: String,
    pub tenant_id: String,
    pub provider: String,
    pub auth_mode: AuthMode,
    pub status: Status,
    pub credentials: Vec<u8>,
    pub config: Map<String, Value>,
    pub created_at: String,
    pub updated_at: String,
    pub last_verified_at: Option<String>,
    pub last_error: Option<String>,
    pub expires_at: Option<String>,
}

const COLUMNS: &str = "id, tenant_id, provider, auth_mode, status, credentials, config, created_at, updated_at, \
                       last_verified_at, last_error, expires_at";

fn from_row(row: &Row<'_>) -> Result<ConnectionRow, StoreError> {
    let mode: String = row.get(3)?;
    let status: String = row.get(4)?;
    let config: String = row.get(6)?;
    Ok(ConnectionRow {
        id: row.get(0)?,
        tenant_id: row.get(1)?,
        provider: row.get(2)?,
        auth_mode: AuthMode::parse(&mode).unwrap_or(AuthMode::ApiKey),
        status: Status::parse(&status),
        credentials: row.get(5)?,
        config: serde_json::from_str(&config).unwrap_or_default(),
        created_at: row.get(7)?,
        updated_at: row.get(8)?,
        last_verified_at: row.get(9)?,
        last_error: row.get(10)?,
        expires_at: row.get(11)?,
    })
}

pub fn find_connection(
    conn: &Db<'_>,
    scope: &TenantScope,
    provider: &str,
) -> Result<Option<ConnectionRow>, StoreError> {
    let tenant_id = scope.id();
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM connections WHERE tenant_id = ?1 AND provider = ?2"),
        params![tenant_id, provider],
        from_row,
    )
    .optional_row()
}

pub fn list_connections(conn: &Db<'_>, scope: &TenantScope) -> Result<Vec<ConnectionRow>, StoreError> {
    let tenant_id = scope.id();
    let rows = conn.query(
        &format!("SELECT {COLUMNS} FROM connections WHERE tenant_id = ?1 ORDER BY provider"),
        [tenant_id],
        from_row,
    )?;
    Ok(rows)
}

pub fn insert(conn: &Db<'_>, row: &ConnectionRow) -> Result<(), StoreError> {
    conn.execute(
        &format!("INSERT INTO connections ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"),
        params![
            row.id,
            row.tenant_id,
            row.provider,
            row.auth_mode.as_str(),
            row.status.as_str(),
            row.credentials,
            Value::Object(row.config.clone()).to_string(),
            row.created_at,
            row.updated_at,
            row.last_verified_at,
            row.last_error,
            row.expires_at
        ],
    )?;
    Ok(())
}

pub fn replace(conn: &Db<'_>, row: &ConnectionRow) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE connections SET auth_mode = ?3, status = ?4, credentials = ?5, config = ?6, updated_at = ?7,
                last_error = ?8, last_verified_at = ?9, expires_at = ?10
         WHERE id = ?1 AND tenant_id = ?2",
        params![
            row.id,
            row.tenant_id,
            row.auth_mode.as_str(),
            row.status.as_str(),
            row.credentials,
            Value::Object(row.config.clone()).to_string(),
            row.updated_at,
            row.last_error,
            row.last_verified_at,
            row.expires_at
        ],
    )?;
    Ok(())
}

/// Records a status change (verify, OAuth, refresh); `last_error` `None` clears it.
pub fn set_status(
    conn: &Db<'_>,
    scope: &TenantScope,
    id: &str,
    status: Status,
    last_error: Option<&str>,
    verified_at: Option<&str>,
) -> Result<(), StoreError> {
    let tenant_id = scope.id();
    conn.execute(
        "UPDATE connections SET status = ?3, last_error = ?4,
                last_verified_at = COALESCE(?5, last_verified_at), updated_at = ?6
         WHERE id = ?1 AND tenant_id = ?2",
        params![
            id,
            tenant_id,
            status.as_str(),
            last_error,
            verified_at,
            crate::time::now_rfc3339()
        ],
    )?;
    Ok(())
}

pub fn delete(conn: &Db<'_>, scope: &TenantScope, provider: &str) -> Result<bool, StoreError> {
    let tenant_id = scope.id();
    Ok(conn.execute(
        "DELETE FROM connections WHERE tenant_id = ?1 AND provider = ?2",
        params![tenant_id, provider],
    )? > 0)
}
