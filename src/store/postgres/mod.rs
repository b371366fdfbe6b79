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

type Manager = PostgresConnectionManager<Tls>;
/// How every connection to the database is made: TLS when the URL's `sslmode` asks for it
/// (`prefer`, the default, uses it when the server offers it; `require` insists;
/// `disable` never), verified against the bundled Mozilla roots or `database_ca_file`.
pub type Tls = tokio_postgres_rustls::MakeRustlsConnect;
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
    /// PEM certificates of the authorities the server's certificate is checked against,
    /// instead of the bundled public roots (a private or cloud provider's CA).
    pub ca_file: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for PgSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = describe_url(&self.url);
        f.debug_struct("PgSettings")
            .field("url", &shown)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("pool_size", &self.pool_size)
            .field("ca_file", &self.ca_file)
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
    /// The TLS connector: the server's certificate and name are always verified.
    pub fn tls(&self) -> Result<Tls, StoreError> {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        match &self.ca_file {
            Some(file) => {
                let unreadable =
                    |e: &dyn std::fmt::Display| StoreError::Config(format!("database CA file {}: {e}", file.display()));
                for cert in CertificateDer::pem_file_iter(file).map_err(|e| unreadable(&e))? {
                    roots
                        .add(cert.map_err(|e| unreadable(&e))?)
                        .map_err(|e| unreadable(&e))?;
                }
                if roots.is_empty() {
                    return Err(unreadable(&"no certificate in it"));
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        let config =
            rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .map_err(|e| StoreError::Config(format!("TLS to the database: {e}")))?
                .with_root_certificates(roots)
                .with_no_client_auth();
        Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
    }

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
    tls: Tls,
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
        let tls = settings.tls()?;
        let mut first = config.connect(tls.clone())?;
        migrate(&mut first)?;
        drop(first);
        let pool = r2d2::Pool::builder()
            .max_size(settings.pool_size.max(1))
            .min_idle(Some(2))
            .connection_timeout(Duration::from_secs(15))
            .build(PostgresConnectionManager::new(config.clone(), tls.clone()))?;
        Ok(PgStore {
            pool,
            config: std::sync::Arc::new(config),
            tls,
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
            ca_file: None,
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

    /// A certificate authority and a server certificate for 127.0.0.1 it signed, readable
    /// by the cluster's user: `(ca, cert, key)`.
    fn certificates(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
        use std::os::unix::fs::PermissionsExt;
        let path = |name: &str| dir.join(name).to_str().unwrap().to_owned();
        std::fs::write(
            dir.join("leaf.ext"),
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
        )
        .unwrap();
        let steps: [&[&str]; 3] = [
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=tessera test CA",
                "-keyout",
                &path("ca.key"),
                "-out",
                &path("ca.crt"),
            ],
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                "/CN=127.0.0.1",
                "-keyout",
                &path("server.key"),
                "-out",
                &path("server.csr"),
            ],
            &[
                "x509",
                "-req",
                "-in",
                &path("server.csr"),
                "-CA",
                &path("ca.crt"),
                "-CAkey",
                &path("ca.key"),
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                &path("leaf.ext"),
                "-out",
                &path("server.crt"),
            ],
        ];
        for args in steps {
            let made = std::process::Command::new("openssl")
                .args(args)
                .output()
                .expect("openssl");
            assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
        }
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        for file in ["server.crt", "server.key"] {
            std::fs::set_permissions(dir.join(file), std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        (dir.join("ca.crt"), dir.join("server.crt"), dir.join("server.key"))
    }

    #[test]
    fn a_server_offering_tls_is_reached_over_it_and_its_certificate_is_checked() {
        let dir = tempfile::tempdir().unwrap();
        let (ca, cert, key) = certificates(dir.path());
        let server = cluster::ThrowawayCluster::start_with_tls(&cert, &key).unwrap();
        let url = server.create_database("tls_check").unwrap();
        let over_tls = |store: &PgStore| -> bool {
            let mut conn = store.conn().unwrap();
            conn.query_one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[])
                .unwrap()
                .get(0)
        };
        let trusting = |url: String| PgSettings {
            ca_file: Some(ca.clone()),
            ..settings(url)
        };

        // Trusting the server's authority: TLS when required and when merely preferred
        // (the default), for the pool and for the connection that hears other nodes.
        let required = PgStore::open(&trusting(format!("{url}?sslmode=require"))).unwrap();
        assert!(over_tls(&required));
        assert!(over_tls(&PgStore::open(&trusting(url.clone())).unwrap()));
        let heard = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let hearing = heard.clone();
        let _listener = changes::listen(&required, move |_| {
            hearing.store(true, std::sync::atomic::Ordering::SeqCst)
        })
        .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !heard.load(std::sync::atomic::Ordering::SeqCst) {
            assert!(
                std::time::Instant::now() < deadline,
                "the listener did not connect over TLS"
            );
            std::thread::sleep(Duration::from_millis(20));
        }

        // A certificate no trusted authority signed is refused, with the reason; a
        // password in the URL stays out of the error.
        let with_password = url.replacen("tessera@", "tessera:hunter2secret@", 1);
        let refused = PgStore::open(&settings(format!("{with_password}?sslmode=require")))
            .expect_err("an unknown authority is refused");
        let message = refused.to_string();
        assert!(message.to_lowercase().contains("certificate"), "{message}");
        assert!(!message.contains("hunter2secret"), "{message}");

        // An unreadable or empty CA file is a clear configuration error.
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        for file in [dir.path().join("missing.pem"), empty] {
            let error = PgStore::open(&PgSettings {
                ca_file: Some(file.clone()),
                ..settings(url.clone())
            })
            .expect_err("a bad CA file is refused");
            assert!(error.to_string().contains("database CA file"), "{error}");
        }
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
            ca_file: None,
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
