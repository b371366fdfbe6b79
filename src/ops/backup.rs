//! `tessera backup FILE`: a consistent copy of the live database with `VACUUM INTO`,
//! safe while the server runs (it reads one snapshot under WAL; writers carry on).

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
