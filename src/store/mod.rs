//! The database: the embedded SQLite file (the default) or PostgreSQL (several nodes),
//! behind one handle, and the errors of both.

pub mod nodes;
pub mod postgres;
pub mod sql;
pub mod sqlite;
pub mod writer;

use std::path::Path;

pub use sqlite::Conn;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database pool: {0}")]
    Pool(#[from] r2d2::Error),
    #[error("database migration failed: {0}")]
    Migration(String),
    #[error("database task failed: {0}")]
    Task(String),
    // Not a #[source]: an error chain printed whole would show PostgreSQL's DETAIL.
    #[error("database error: {}", postgres_message(.0))]
    Postgres(::postgres::Error),
    #[error("database settings: {0}")]
    Config(String),
    #[error("column {index}: {why}")]
    Column { index: usize, why: String },
    #[error("no row where one was expected")]
    NoRows,
}

/// Handle to the database: the embedded SQLite file, or PostgreSQL for several nodes.
/// Cheap to clone; every clone shares one pool.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
    /// This process as a lease owner (see [`nodes`]).
    node: std::sync::Arc<str>,
}

#[derive(Clone)]
enum Backend {
    Sqlite(sqlite::SqliteStore),
    Postgres(postgres::PgStore),
}

/// A lock held across nodes (see [`Store::lock_across_nodes`]); released on drop.
#[derive(Debug)]
#[must_use = "the lock is released when this guard drops"]
pub struct AcrossNodes {
    _held: Option<postgres::locks::NodeLock>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating if needed) the SQLite file and runs pending migrations.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Ok(Store {
            backend: Backend::Sqlite(sqlite::SqliteStore::open(path)?),
            node: crate::ids::new_id().into(),
        })
    }

    /// Connects to PostgreSQL, runs pending migrations and opens the pool.
    pub fn open_postgres(settings: &postgres::PgSettings) -> Result<Store, StoreError> {
        Ok(Store {
            backend: Backend::Postgres(postgres::PgStore::open(settings)?),
            node: crate::ids::new_id().into(),
        })
    }

    pub fn dialect(&self) -> sql::Dialect {
        match self.backend {
            Backend::Sqlite(_) => sql::Dialect::Sqlite,
            Backend::Postgres(_) => sql::Dialect::Postgres,
        }
    }

    /// The PostgreSQL pool, when that is the backend (the writer runs on it).
    pub fn postgres(&self) -> Option<&postgres::PgStore> {
        match &self.backend {
            Backend::Postgres(pg) => Some(pg),
            Backend::Sqlite(_) => None,
        }
    }

    /// A pooled SQLite connection: for what only the embedded store has (the writer
    /// thread, checkpoints, tests that look at the file). An error on PostgreSQL.
    pub fn conn(&self) -> Result<sqlite::Conn, StoreError> {
        match &self.backend {
            Backend::Sqlite(sqlite) => sqlite.conn(),
            Backend::Postgres(_) => Err(StoreError::Config(
                "this needs the embedded SQLite store; the server runs on PostgreSQL".into(),
            )),
        }
    }

    /// Runs `f` in a transaction that commits when `f` returns `Ok` (on SQLite `BEGIN
    /// IMMEDIATE`: the write lock is taken up front, so two writers never deadlock).
    pub fn write<T, E>(&self, f: impl FnOnce(&sql::Db<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        match &self.backend {
            Backend::Sqlite(sqlite) => sqlite.write(f),
            Backend::Postgres(pg) => pg.write(f),
        }
    }

    /// Runs `f` with a pooled connection (reads, or writes that need no transaction).
    pub fn read<T, E>(&self, f: impl FnOnce(&sql::Db<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        match &self.backend {
            Backend::Sqlite(sqlite) => sqlite.read(f),
            Backend::Postgres(pg) => pg.read(f),
        }
    }

    /// [`sql::Db::announce`] on its own, for a change already committed. Blocking.
    pub fn announce(&self, topic: &str) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(_) => Ok(()),
            Backend::Postgres(pg) => pg.read(|db| db.announce(topic)),
        }
    }

    /// Holds the lock called `name` across every node on the database until the guard
    /// drops, waiting at most `wait` for another node to release it. One process on
    /// SQLite needs nothing beyond its own in-memory locks: the guard holds nothing there.
    /// Blocking.
    pub fn lock_across_nodes(&self, name: &str, wait: std::time::Duration) -> Result<AcrossNodes, StoreError> {
        match &self.backend {
            Backend::Sqlite(_) => Ok(AcrossNodes { _held: None }),
            Backend::Postgres(pg) => Ok(AcrossNodes {
                _held: Some(pg.lock(name, wait)?),
            }),
        }
    }

    /// Whether a write can be committed right now (used by `/readyz`).
    pub fn is_writable(&self) -> bool {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO health_probe (id, at) VALUES (1, ?1)
                 ON CONFLICT(id) DO UPDATE SET at = excluded.at",
                [crate::time::now_rfc3339()],
            )
        })
        .is_ok()
    }

    /// [`Store::read`] from async code: runs `f` on a blocking thread.
    pub async fn read_async<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&sql::Db<'_>) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.run(move |store| store.read(f)).await
    }

    /// [`Store::write`] from async code: runs `f` in a transaction on a blocking thread.
    pub async fn write_async<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&sql::Db<'_>) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.run(move |store| store.write(f)).await
    }

    /// Runs blocking work that needs the store more than once (several transactions,
    /// password hashing between reads) off the async executor.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&Store) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|e| E::from(StoreError::Task(e.to_string())))?
    }
}

/// Maps "no row" to `None` and keeps every other error an error.
pub trait OptionalRow<T> {
    fn optional_row(self) -> Result<Option<T>, StoreError>;
}

impl<T> OptionalRow<T> for Result<T, StoreError> {
    fn optional_row(self) -> Result<Option<T>, StoreError> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(StoreError::NoRows | StoreError::Sqlite(rusqlite::Error::QueryReturnedNoRows)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl<T> OptionalRow<T> for rusqlite::Result<T> {
    fn optional_row(self) -> Result<Option<T>, StoreError> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(rusqlite::Error::QueryReturnedNoRows) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

impl From<::postgres::Error> for StoreError {
    fn from(e: ::postgres::Error) -> Self {
        StoreError::Postgres(e)
    }
}

/// PostgreSQL's own message and code for a refused statement (its DETAIL, which can quote
/// the values of a row, stays out), or the client's error and its cause otherwise.
fn postgres_message(e: &::postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} ({})", db.message(), db.code().code());
    }
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}

impl StoreError {
    /// True when a UNIQUE or primary-key constraint refused the write, on either store.
    pub fn is_unique_violation(&self) -> bool {
        match self {
            StoreError::Sqlite(e) => is_unique_violation(e),
            StoreError::Postgres(e) => e.code() == Some(&::postgres::error::SqlState::UNIQUE_VIOLATION),
            _ => false,
        }
    }

    /// True when waiting for a lock took longer than allowed (PostgreSQL `lock_timeout`).
    pub fn is_lock_timeout(&self) -> bool {
        matches!(self, StoreError::Postgres(e) if e.code() == Some(&::postgres::error::SqlState::LOCK_NOT_AVAILABLE))
    }
}

/// True when the error is a UNIQUE constraint violation.
fn is_unique_violation(err: &rusqlite::Error) -> bool {
    matches!(
        err,
        rusqlite::Error::SqliteFailure(e, _)
            if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_migrates_and_sets_pragmas() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        let conn = store.conn().unwrap();
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
        let fk: i64 = conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0)).unwrap();
        assert_eq!(fk, 1);
        assert!(store.is_writable());
    }

    #[test]
    fn missing_row_is_none_but_errors_stay_errors() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        let conn = store.conn().unwrap();
        let none = conn
            .query_row("SELECT id FROM tenants WHERE id = 'x'", [], |r| r.get::<_, String>(0))
            .optional_row()
            .unwrap();
        assert!(none.is_none());
        let err = conn
            .query_row("SELECT nope FROM tenants", [], |r| r.get::<_, String>(0))
            .optional_row();
        assert!(err.is_err());
    }
}
