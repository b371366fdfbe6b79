//! `tessera backup FILE`: a consistent copy of the live database with `VACUUM INTO`,
//! safe while the server runs (it reads one snapshot under WAL; writers carry on).
//! Each backup is then recorded in the platform's audit log (`backup.created`), which is
//! where the operator's UI reads the time of the last one.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0} already exists; choose a new file name (a backup never overwrites)")]
    Exists(PathBuf),
    #[error("{0} is not initialised: there is no database to back up")]
    NoDatabase(PathBuf),
    #[error("cannot create {path}: {source}")]
    Create { path: PathBuf, source: std::io::Error },
    #[error("backup failed: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the backup at {0} failed its integrity check: {1}")]
    Corrupt(PathBuf, String),
    #[error("the backup could not be recorded: {0}")]
    Record(String),
}

#[derive(Debug, Serialize)]
pub struct BackupReport {
    pub file: String,
    pub bytes: u64,
    pub tenants: i64,
    pub connections: i64,
}

/// Copies `database` to `target` (created with mode 0600: it holds sealed key material),
/// then checks the copy's integrity.
pub fn backup(database: &Path, target: &Path) -> Result<BackupReport, BackupError> {
    if !database.exists() {
        return Err(BackupError::NoDatabase(database.to_owned()));
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(target) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Err(BackupError::Exists(target.to_owned())),
        Err(source) => {
            return Err(BackupError::Create {
                path: target.to_owned(),
                source,
            });
        }
    }
    let result = copy_and_check(database, target);
    if result.is_err() {
        let _ = std::fs::remove_file(target);
    }
    result
}

fn copy_and_check(database: &Path, target: &Path) -> Result<BackupReport, BackupError> {
    let source = Connection::open_with_flags(database, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    source.busy_timeout(Duration::from_secs(30))?;
    source.execute("VACUUM INTO ?1", [target.to_string_lossy()])?;
    drop(source);

    let copy = Connection::open_with_flags(target, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let check: String = copy.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    if check != "ok" {
        return Err(BackupError::Corrupt(target.to_owned(), check));
    }
    let tenants = copy.query_row("SELECT COUNT(*) FROM tenants", [], |r| r.get(0))?;
    let connections = copy.query_row("SELECT COUNT(*) FROM connections", [], |r| r.get(0))?;
    let bytes = std::fs::metadata(target).map(|m| m.len()).unwrap_or(0);
    Ok(BackupReport {
        file: target.display().to_string(),
        bytes,
        tenants,
        connections,
    })
}

pub const BACKUP_ACTION: &str = "backup.created";

/// Records a finished backup in `database`'s audit log, without a tenant. The copy
/// itself cannot hold the entry (it was taken just before).
pub fn record(database: &Path, report: &BackupReport) -> Result<(), BackupError> {
    let conn = Connection::open_with_flags(database, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    conn.busy_timeout(Duration::from_secs(30))?;
    let entry = crate::audit::AuditEntry::new(None, "cli", BACKUP_ACTION, Some(&report.file), &Default::default())
        .with_detail(serde_json::json!({
            "bytes": report.bytes,
            "tenants": report.tenants,
            "connections": report.connections,
        }));
    crate::audit::record(&crate::store::sql::Db::sqlite(&conn), &entry).map_err(|e| match e {
        crate::store::StoreError::Sqlite(e) => BackupError::Sqlite(e),
        other => BackupError::Record(other.to_string()),
    })
}

#[derive(Debug, Serialize)]
pub struct BackupRecord {
    /// The audit entry's id.
    pub id: String,
    pub at: String,
    pub file: Option<String>,
    pub bytes: Option<u64>,
    pub tenants: Option<i64>,
    pub connections: Option<i64>,
}

/// Recorded backups, newest first, up to `limit + 1` (for a page) before the id `before`.
pub fn recorded(
    conn: &crate::store::sql::Db<'_>,
    before: Option<&str>,
    limit: u32,
) -> Result<Vec<BackupRecord>, crate::store::StoreError> {
    let rows = conn.query(
        "SELECT id, at, target, detail FROM audit_log
         WHERE tenant_id IS NULL AND action = ?1 AND (?2 IS NULL OR id < ?2)
         ORDER BY id DESC LIMIT ?3",
        crate::store::sql::params![BACKUP_ACTION, before, limit + 1],
        |r| {
            let detail: Option<String> = r.get(3)?;
            let detail: serde_json::Value = detail.and_then(|d| serde_json::from_str(&d).ok()).unwrap_or_default();
            Ok(BackupRecord {
                id: r.get(0)?,
                at: r.get(1)?,
                file: r.get(2)?,
                bytes: detail["bytes"].as_u64(),
                tenants: detail["tenants"].as_i64(),
                connections: detail["connections"].as_i64(),
            })
        },
    )?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_refuses_to_overwrite_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        let store = crate::store::Store::open(&db).unwrap();
        store
            .conn()
            .unwrap()
            .execute(
                "INSERT INTO tenants (id, slug, name, tier, created_at, updated_at) VALUES ('t', 's', 'n', 'free', 'x', 'x')",
                [],
            )
            .unwrap();
        let target = dir.path().join("copy.db");
        let report = backup(&db, &target).unwrap();
        assert_eq!(report.tenants, 1);
        record(&db, &report).unwrap();
        let listed = store.read(|db| recorded(db, None, 10)).unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].file.as_deref(), Some(report.file.as_str()));
        assert_eq!((listed[0].bytes, listed[0].tenants), (Some(report.bytes), Some(1)));
        assert!(matches!(backup(&db, &target), Err(BackupError::Exists(_))));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&target).unwrap().permissions().mode() & 0o777, 0o600);
        }
        assert!(matches!(
            backup(&dir.path().join("none.db"), &dir.path().join("x.db")),
            Err(BackupError::NoDatabase(_))
        ));
    }
}
