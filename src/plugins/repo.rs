//! SQL for plugins, their versions and tenants' installations. Installation queries take
//! the tenant id first; an installation is never found without it.

use crate::store::sql::{Db, Row, params};

use super::manifest::Manifest;
use crate::auth::Reach;
use crate::store::{OptionalRow, StoreError};

#[derive(Debug, Clone)]
pub struct PluginRow {
    pub id: String,
    pub version: String,
    pub platform_wide: bool,
    pub builtin: bool,
    pub created_at: String,
    pub updated_at: String,
}

/// One published version: what the package held.
#[derive(Debug, Clone)]
pub struct VersionRow {
    pub plugin_id: String,
    pub version: String,
    pub manifest: Manifest,
    pub providers: Option<String>,
    pub script: Option<String>,
    pub entry_points: Vec<String>,
    pub provider_keys: Vec<String>,
    pub sha256: String,
    pub size_bytes: i64,
    pub published_by: String,
    pub published_at: String,
}

/// A plugin with its current version.
#[derive(Debug, Clone)]
pub struct Published {
    pub plugin: PluginRow,
    pub current: VersionRow,
}

#[derive(Debug, Clone)]
pub struct InstallationRow {
    pub id: String,
    pub tenant_id: String,
    pub plugin_id: String,
    /// Sealed JSON object.
    pub configuration: Vec<u8>,
    pub installed_by: String,
    pub created_at: String,
    pub updated_at: String,
}

fn json_list(text: String) -> Vec<String> {
    serde_json::from_str(&text).unwrap_or_default()
}

fn published_from(r: &Row<'_>) -> Result<Published, StoreError> {
    let manifest: String = r.get(9)?;
    let manifest = serde_json::from_str(&manifest).map_err(|e| StoreError::Column {
        index: 9,
        why: format!("the stored manifest is not valid JSON: {e}"),
    })?;
    Ok(Published {
        plugin: PluginRow {
            id: r.get(0)?,
            version: r.get(1)?,
            platform_wide: r.get(2)?,
            builtin: r.get(3)?,
            created_at: r.get(4)?,
            updated_at: r.get(5)?,
        },
        current: VersionRow {
            plugin_id: r.get(0)?,
            version: r.get(1)?,
            providers: r.get(6)?,
            script: r.get(7)?,
            entry_points: json_list(r.get(8)?),
            manifest,
            provider_keys: json_list(r.get(10)?),
            sha256: r.get(11)?,
            size_bytes: r.get(12)?,
            published_by: r.get(13)?,
            published_at: r.get(14)?,
        },
    })
}

const PUBLISHED: &str = "SELECT p.id, p.version, p.platform_wide, p.builtin, p.created_at, p.updated_at,
        v.providers, v.script, v.entry_points, v.manifest, v.provider_keys, v.sha256, v.size_bytes,
        v.published_by, v.published_at
    FROM plugins p JOIN plugin_versions v ON v.plugin_id = p.id AND v.version = p.version";

pub fn find(conn: &Db<'_>, id: &str) -> Result<Option<Published>, StoreError> {
    conn.query_row(&format!("{PUBLISHED} WHERE p.id = ?1"), [id], published_from)
        .optional_row()
}

pub fn list(conn: &Db<'_>) -> Result<Vec<Published>, StoreError> {
    let rows = conn.query(&format!("{PUBLISHED} ORDER BY p.id"), [], published_from)?;
    Ok(rows)
}

/// `(version, published_at, sha256)` of every version, newest first by publication.
pub fn versions(conn: &Db<'_>, id: &str) -> Result<Vec<(String, String, String)>, StoreError> {
    let rows = conn.query(
        "SELECT version, published_at, sha256 FROM plugin_versions WHERE plugin_id = ?1
         ORDER BY published_at DESC, version DESC",
        [id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    Ok(rows)
}

/// Stores `version` and makes it the plugin's current one (creating the plugin).
pub fn publish(conn: &Db<'_>, row: &VersionRow, platform_wide: bool, builtin: bool) -> Result<(), StoreError> {
    let manifest = serde_json::to_string(&row.manifest).unwrap_or_else(|_| "{}".into());
    // The plugin row first: versions reference it.
    conn.execute(
        "INSERT INTO plugins (id, version, platform_wide, builtin, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)
         ON CONFLICT(id) DO UPDATE SET version = excluded.version, platform_wide = excluded.platform_wide,
             builtin = excluded.builtin, updated_at = excluded.updated_at",
        params![row.plugin_id, row.version, platform_wide, builtin, row.published_at],
    )?;
    conn.execute(
        "INSERT INTO plugin_versions (plugin_id, version, manifest, providers, script, entry_points, provider_keys,
             sha256, size_bytes, published_by, published_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            row.plugin_id,
            row.version,
            manifest,
            row.providers,
            row.script,
            serde_json::to_string(&row.entry_points).unwrap_or_else(|_| "[]".into()),
            serde_json::to_string(&row.provider_keys).unwrap_or_else(|_| "[]".into()),
            row.sha256,
            row.size_bytes,
            row.published_by,
            row.published_at
        ],
    )?;
    Ok(())
}

pub fn delete(conn: &Db<'_>, id: &str) -> Result<bool, StoreError> {
    Ok(conn.execute("DELETE FROM plugins WHERE id = ?1", [id])? > 0)
}

pub fn count_installations(conn: &Db<'_>, plugin_id: &str) -> Result<u64, StoreError> {
    let n: i64 = conn.query_row(
        "SELECT COUNT(*) FROM plugin_installations WHERE plugin_id = ?1",
        [plugin_id],
        |r| r.get(0),
    )?;
    Ok(n as u64)
}

/// Every `(tenant_id, plugin_id)` installation, for the catalog overlays.
pub fn all_installations(conn: &Db<'_>) -> Result<Vec<(String, String)>, StoreError> {
    let rows = conn.query("SELECT tenant_id, plugin_id FROM plugin_installations", [], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })?;
    Ok(rows)
}

const INSTALLATION: &str =
    "SELECT id, tenant_id, plugin_id, configuration, installed_by, created_at, updated_at FROM plugin_installations";

fn installation_from(r: &Row<'_>) -> Result<InstallationRow, StoreError> {
    Ok(InstallationRow {
        id: r.get(0)?,
        tenant_id: r.get(1)?,
        plugin_id: r.get(2)?,
        configuration: r.get(3)?,
        installed_by: r.get(4)?,
        created_at: r.get(5)?,
        updated_at: r.get(6)?,
    })
}

pub fn find_installation(
    conn: &Db<'_>,
    tenant_id: &str,
    plugin_id: &str,
) -> Result<Option<InstallationRow>, StoreError> {
    conn.query_row(
        &format!("{INSTALLATION} WHERE tenant_id = ?1 AND plugin_id = ?2"),
        params![tenant_id, plugin_id],
        installation_from,
    )
    .optional_row()
}

pub fn list_installations(conn: &Db<'_>, tenant_id: &str) -> Result<Vec<InstallationRow>, StoreError> {
    let rows = conn.query(
        &format!("{INSTALLATION} WHERE tenant_id = ?1 ORDER BY plugin_id"),
        [tenant_id],
        installation_from,
    )?;
    Ok(rows)
}

pub fn count_for_tenant(conn: &Db<'_>, tenant_id: &str) -> Result<u64, StoreError> {
    let n: i64 = conn.query_row(
        "SELECT COUNT(*) FROM plugin_installations WHERE tenant_id = ?1",
        [tenant_id],
        |r| r.get(0),
    )?;
    Ok(n as u64)
}

pub fn insert_installation(conn: &Db<'_>, row: &InstallationRow) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO plugin_installations (id, tenant_id, plugin_id, configuration, installed_by, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            row.id,
            row.tenant_id,
            row.plugin_id,
            row.configuration,
            row.installed_by,
            row.created_at,
            row.updated_at
        ],
    )?;
    Ok(())
}

pub fn update_configuration(
    conn: &Db<'_>,
    tenant_id: &str,
    id: &str,
    sealed: &[u8],
    updated_at: &str,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE plugin_installations SET configuration = ?3, updated_at = ?4 WHERE tenant_id = ?1 AND id = ?2",
        params![tenant_id, id, sealed, updated_at],
    )?;
    Ok(())
}

pub fn delete_installation(conn: &Db<'_>, tenant_id: &str, plugin_id: &str) -> Result<bool, StoreError> {
    Ok(conn.execute(
        "DELETE FROM plugin_installations WHERE tenant_id = ?1 AND plugin_id = ?2",
        params![tenant_id, plugin_id],
    )? > 0)
}

/// Ids of the outbound endpoints whose messages `plugin_id` reshapes: one tenant's, or
/// every tenant's for the platform.
pub fn endpoints_using(conn: &Db<'_>, reach: &Reach, plugin_id: &str) -> Result<Vec<String>, StoreError> {
    let rows = conn.query(
        "SELECT id FROM webhook_endpoints WHERE transform_plugin = ?2 AND (?1 IS NULL OR tenant_id = ?1) ORDER BY id",
        params![reach.tenant_filter(), plugin_id],
        |r| r.get(0),
    )?;
    Ok(rows)
}
