//! The embedded store: one SQLite file, its pool, pragmas and migrations.

use std::path::Path;
use std::time::Duration;

use r2d2::PooledConnection;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, TransactionBehavior};

use super::StoreError;
use super::sql::Db;

mod embedded {
    refinery::embed_migrations!("migrations/sqlite");
}

pub type Conn = PooledConnection<SqliteConnectionManager>;

/// The SQLite file's pool. Cheap to clone.
#[derive(Clone)]
pub struct SqliteStore {
    pool: r2d2::Pool<SqliteConnectionManager>,
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

impl SqliteStore {
    /// Opens (creating if needed) the database file and runs pending migrations.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
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
        Ok(SqliteStore { pool })
    }

    pub fn conn(&self) -> Result<Conn, StoreError> {
        Ok(self.pool.get()?)
    }

    /// Runs `f` in a `BEGIN IMMEDIATE` transaction: the write lock is taken up front, so
    /// two writers never deadlock upgrading read locks. Commits when `f` returns `Ok`.
    pub fn write<T, E>(&self, f: impl FnOnce(&Db<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let mut conn = self.conn()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StoreError::from)?;
        let value = f(&Db::sqlite(&tx))?;
        tx.commit().map_err(StoreError::from)?;
        Ok(value)
    }

    /// Runs `f` with a pooled connection (reads, or writes that need no transaction).
    pub fn read<T, E>(&self, f: impl FnOnce(&Db<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let conn = self.conn()?;
        f(&Db::sqlite(&conn))
    }
}
