//! The one SQLite file: pool, pragmas, migrations and write transactions.

pub mod postgres;
pub mod sql;
pub mod writer;

use std::path::Path;
use std::time::Duration;

use r2d2::PooledConnection;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, TransactionBehavior};

mod embedded {
    refinery::embed_migrations!("migrations/sqlite");
}

pub type Conn = PooledConnection<SqliteConnectionManager>;

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
    #[error("database error: {}", postgres_message(.0))]
    Postgres(#[from] ::postgres::Error),
    #[error("database settings: {0}")]
    Config(String),
    #[error("column {index}: {why}")]
    Column { index: usize, why: String },
    #[error("no row where one was expected")]
    NoRows,
}

/// Handle to the database. Cheap to clone; every clone shares one pool.
#[derive(Clone)]
pub struct Store {
    pool: r2d2::Pool<SqliteConnectionManager>,
    path: std::sync::Arc<std::path::PathBuf>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

/// Waits for SQLite's write lock in short, even steps for up to about 10 s. SQLite's
/// own `busy_timeout` backs off up to 100 ms a step, which shows as tail latency behind
/// another writer's commit (the one writer thread, a low-rate API transaction).
fn wait_for_lock(attempt: i32) -> bool {
    std::thread::sleep(Duration::from_micros(250));
    attempt < 40_000
}

fn configure(conn: &mut Connection) -> rusqlite::Result<()> {
    conn.busy_handler(Some(wait_for_lock))?;
    // Room for every statement the hot paths use, so none is evicted and parsed again.
    conn.set_prepared_statement_cache_capacity(256);
    // FULL: anything acknowledged to an outside party must survive a power cut.
    // secure_delete: deleted rows (a removed tenant's sealed keys) are overwritten.
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA secure_delete = ON;",
    )
}

/// The database holds sealed key material: it and its WAL and shared-memory files are
/// the owner's only. A new file is created 0600 (SQLite gives its side files the mode
/// of the database file); existing ones more open than that are narrowed.
fn make_private(path: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let io = |e: std::io::Error| StoreError::Task(format!("{}: {e}", path.display()));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io(e)),
        }
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let file = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
            let Ok(meta) = std::fs::metadata(&file) else { continue };
            if meta.permissions().mode() & 0o077 != 0 {
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
            }
        }
    }
    Ok(())
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    embedded::migrations::runner()
        .run(conn)
        .map_err(|e| StoreError::Migration(e.to_string()))?;
    Ok(())
}

impl Store {
    /// Opens (creating if needed) the database file and runs pending migrations.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        make_private(path)?;
        // WAL mode and the schema come first, on one connection: the pool opens its 16
        // connections at once on threads of its own, and on a new file several of them
        // switching the journal mode together can fail with "database is locked". Once
        // the file is in WAL mode, their switch is a no-op.
        let mut first = Connection::open(path)?;
        configure(&mut first)?;
        migrate(&mut first)?;
        drop(first);
        let manager = SqliteConnectionManager::file(path).with_init(configure);
        let pool = r2d2::Pool::builder()
            .max_size(16)
            .connection_timeout(Duration::from_secs(15))
            .build(manager)?;
        Ok(Store {
            pool,
            path: std::sync::Arc::new(path.to_owned()),
        })
    }

    /// A dedicated connection whose commits skip the fsync (`synchronous = NORMAL`): in
    /// WAL mode a commit still survives a crash of tessera itself, only a power cut or OS
    /// crash can lose the newest ones. For high-rate records whose loss in a power cut is
    /// acceptable (read-audit entries); never for what is acknowledged to an outside party.
    pub fn open_fast_commit_connection(&self) -> Result<Connection, StoreError> {
        let mut conn = Connection::open(self.path.as_ref())?;
        configure(&mut conn)?;
        conn.execute_batch("PRAGMA synchronous = NORMAL;")?;
        Ok(conn)
    }

    pub fn conn(&self) -> Result<Conn, StoreError> {
        Ok(self.pool.get()?)
    }

    /// Runs `f` in a `BEGIN IMMEDIATE` transaction: the write lock is taken up front, so
    /// two writers never deadlock upgrading read locks. Commits when `f` returns `Ok`.
    pub fn write<T, E>(&self, f: impl FnOnce(&sql::Db<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let mut conn = self.conn()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StoreError::from)?;
        let value = f(&sql::Db::sqlite(&tx))?;
        tx.commit().map_err(StoreError::from)?;
        Ok(value)
    }

    /// Runs `f` with a pooled connection (reads, or writes that need no transaction).
    pub fn read<T, E>(&self, f: impl FnOnce(&sql::Db<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let conn = self.conn()?;
        f(&sql::Db::sqlite(&conn))
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
