//! PostgreSQL: the store for several nodes on one database. A pool of blocking clients
//! (the same blocking-thread design as SQLite), the schema from `migrations/postgres`
//! run under an advisory lock so nodes starting together migrate once.

pub mod changes;
pub mod cluster;
pub mod locks;

use std::time::Duration;

use r2d2_postgres::PostgresConnectionManager;

use super::StoreError;

mod embedded {
    refinery::embed_migrations!("migrations/postgres");
}

type Manager = PostgresConnectionManager<postgres::NoTls>;
pub type PgConn = r2d2::PooledConnection<Manager>;

/// Key of the advisory lock held while migrating ("tessera" in ASCII).
const MIGRATION_LOCK: i64 = 0x0074_6573_7365_7261;

/// Where the database is and how to log in. The password may come from a file (a secret
/// mounted by systemd's `LoadCredential=` or a container runtime) instead of the URL.
#[derive(Clone)]
pub struct PgSettings {
    pub url: String,
    pub password: Option<String>,
    pub pool_size: u32,
}

impl std::fmt::Debug for PgSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = describe_url(&self.url);
        f.debug_struct("PgSettings")
            .field("url", &shown)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("pool_size", &self.pool_size)
            .finish()
    }
}

/// The URL without its password, for logs and errors.
pub fn describe_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("redacted"));
            }
            parsed.to_string()
        }
        Err(_) => "<unparseable database URL>".to_string(),
    }
}

/// The password in `file`, without the line break an editor or `echo` leaves at its end.
pub fn read_password_file(file: &std::path::Path) -> Result<String, StoreError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| StoreError::Config(format!("database password file {}: {e}", file.display())))?;
    let password = text.trim_end_matches(['\n', '\r']);
    if password.is_empty() {
        return Err(StoreError::Config(format!(
            "database password file {} is empty",
            file.display()
        )));
    }
    Ok(password.to_string())
}

impl PgSettings {
    fn config(&self) -> Result<postgres::Config, StoreError> {
        let mut config: postgres::Config = self
            .url
            .parse()
            .map_err(|e| StoreError::Config(format!("database URL {}: {e}", describe_url(&self.url))))?;
        if let Some(password) = &self.password {
            config.password(password);
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        config.application_name("tessera");
        // NOTICEs ("relation already exists, skipping" at each start) are not for the log.
        config.options("-c client_min_messages=warning");
        Ok(config)
    }
}

/// Handle to a PostgreSQL database. Cheap to clone; clones share one pool.
#[derive(Clone)]
pub struct PgStore {
    pool: r2d2::Pool<Manager>,
    /// For connections of their own (listening for other nodes' changes).
    config: std::sync::Arc<postgres::Config>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects, runs pending migrations (one node at a time) and opens the pool.
    pub fn open(settings: &PgSettings) -> Result<PgStore, StoreError> {
        let config = settings.config()?;
        let mut first = config.connect(postgres::NoTls)?;
        migrate(&mut first)?;
        drop(first);
        let pool = r2d2::Pool::builder()
            .max_size(settings.pool_size.max(1))
            .min_idle(Some(2))
            .connection_timeout(Duration::from_secs(15))
            .build(PostgresConnectionManager::new(config.clone(), postgres::NoTls))?;
        Ok(PgStore {
            pool,
            config: std::sync::Arc::new(config),
        })
    }

    pub fn conn(&self) -> Result<PgConn, StoreError> {
        Ok(self.pool.get()?)
    }

    /// Runs `f` in a transaction; commits when it returns `Ok`, rolls back otherwise.
    pub fn write<T, E>(&self, f: impl FnOnce(&super::sql::Db<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let mut conn = self.conn()?;
        let mut tx = conn.transaction().map_err(StoreError::from)?;
        let value = f(&super::sql::Db::postgres(&mut tx))?;
        tx.commit().map_err(StoreError::from)?;
        Ok(value)
    }

    /// Runs `f` on a pooled connection outside a transaction (each statement commits).
    pub fn read<T, E>(&self, f: impl FnOnce(&super::sql::Db<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let mut conn = self.conn()?;
        f(&super::sql::Db::postgres(&mut *conn))
    }
}

fn migrate(client: &mut postgres::Client) -> Result<(), StoreError> {
    // Session-level lock: a second node starting at the same moment waits here, then
    // finds nothing left to run.
    client.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])?;
    let outcome = embedded::migrations::runner()
        .run(client)
        .map(|_| ())
        .map_err(|e| StoreError::Migration(e.to_string()));
    client.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])?;
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(url: String) -> PgSettings {
        PgSettings {
            url,
            password: None,
            pool_size: 4,
        }
    }

    #[test]
    fn the_schema_has_every_table_and_column_the_sqlite_history_ends_with() {
        let pg = PgStore::open(&settings(cluster::test_database())).unwrap();
        let mut pg_columns: Vec<(String, String)> = pg
            .conn()
            .unwrap()
            .query(
                "SELECT table_name::text, column_name::text FROM information_schema.columns
                 WHERE table_schema = 'public' AND table_name <> 'refinery_schema_history'",
                &[],
            )
            .unwrap()
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect();
        pg_columns.sort();

        let dir = tempfile::tempdir().unwrap();
        let sqlite = crate::store::Store::open(&dir.path().join("t.db")).unwrap();
        let conn = sqlite.conn().unwrap();
        let mut sqlite_columns: Vec<(String, String)> = conn
            .prepare(
                "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p
                 WHERE m.type = 'table' AND m.name <> 'refinery_schema_history'",
            )
            .unwrap()
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        sqlite_columns.sort();
        assert!(!pg_columns.is_empty());
        assert_eq!(pg_columns, sqlite_columns);
    }

    #[test]
    fn nodes_opening_one_database_together_migrate_it_once() {
        let url = cluster::test_database();
        let nodes: Vec<_> = (0..4)
            .map(|_| {
                let s = settings(url.clone());
                std::thread::spawn(move || PgStore::open(&s).map(|_| ()))
            })
            .collect();
        for node in nodes {
            node.join().unwrap().unwrap();
        }
        let pg = PgStore::open(&settings(url)).unwrap();
        let applied: i64 = pg
            .conn()
            .unwrap()
            .query_one("SELECT count(*) FROM refinery_schema_history", &[])
            .unwrap()
            .get(0);
        let shipped = embedded::migrations::runner().get_migrations().len() as i64;
        assert!(shipped >= 2);
        assert_eq!(applied, shipped, "each migration applied once");
    }

    #[test]
    fn a_password_never_shows_in_debug_or_errors() {
        let s = PgSettings {
            url: "postgres://tessera:hunter2secret@127.0.0.1:1/db".into(),
            password: Some("filepassword".into()),
            pool_size: 1,
        };
        let shown = format!("{s:?}");
        assert!(
            !shown.contains("hunter2secret") && !shown.contains("filepassword"),
            "{shown}"
        );
        let err = PgStore::open(&s).unwrap_err().to_string();
        assert!(!err.contains("hunter2secret") && !err.contains("filepassword"), "{err}");
    }
}
