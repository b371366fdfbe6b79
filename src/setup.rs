//! First-run initialisation and opening an initialised data dir.

use std::path::PathBuf;

use crate::auth::tokens::{self, NewToken};
use crate::config::Config;
use crate::store::{Store, StoreError};
use crate::vault::{Keyring, Secret, Vault, VaultError};

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("{0} is already initialised; nothing was changed")]
    AlreadyInitialised(PathBuf),
    #[error("{0} is not initialised: run `tessera init` (or `tessera serve`, which initialises)")]
    NotInitialised(PathBuf),
    #[error("cannot create data dir {path}: {source}")]
    DataDir { path: PathBuf, source: std::io::Error },
    #[error(
        "no master key: set TESSERA_MASTER_KEY or TESSERA_MASTER_KEY_FILE, or keep the key file {0} that `tessera init` created"
    )]
    NoMasterKey(PathBuf),
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug)]
pub struct InitReport {
    pub admin_token: Secret,
    pub data_dir: PathBuf,
}

/// The configured store: PostgreSQL when `database_url` is set, else the data dir's
/// SQLite file (created if missing). Runs pending migrations either way.
pub fn open_store(config: &Config) -> Result<Store, SetupError> {
    match config
        .postgres_settings()
        .map_err(|e| StoreError::Config(e.to_string()))?
    {
        Some(settings) => Ok(Store::open_postgres(&settings)?),
        None => Ok(Store::open(&config.database_path())?),
    }
}

/// Whether the store holds an initialised deployment. On SQLite: the data dir has its
/// database. On PostgreSQL (shared by every node): a master key version is registered.
pub fn is_initialised(config: &Config) -> Result<bool, SetupError> {
    if config.database_url.is_none() {
        return Ok(config.database_path().exists());
    }
    let store = open_store(config)?;
    Ok(store.read(registered_key_versions)? > 0)
}

fn registered_key_versions(db: &crate::store::sql::Db<'_>) -> Result<i64, StoreError> {
    db.query_row("SELECT COUNT(*) FROM key_versions", [], |r| r.get(0))
}

/// Held while a node initialises a shared PostgreSQL database, so two nodes starting on
/// an empty one create one master key registration and one first token, not two.
const INITIALISE_LOCK: i64 = 0x0074_6573_7369_6e69;

/// Where the master key comes from, in order: `TESSERA_MASTER_KEY`,
/// `TESSERA_MASTER_KEY_FILE`, the data dir's key file.
pub fn load_keyring(config: &Config) -> Result<Keyring, SetupError> {
    if let Some(key) = &config.master_key {
        return Ok(Keyring::parse(key.expose())?);
    }
    if let Some(path) = &config.master_key_file {
        return Ok(Keyring::read_file(path)?);
    }
    let path = config.default_master_key_path();
    if path.exists() {
        return Ok(Keyring::read_file(&path)?);
    }
    Err(SetupError::NoMasterKey(path))
}

fn create_data_dir(config: &Config) -> Result<(), SetupError> {
    let dir = &config.data_dir;
    let io = |source| SetupError::DataDir {
        path: dir.clone(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io)?;
    }
    Ok(())
}

/// Creates the data dir, master key file (unless a key is configured), database and the
/// first platform token. Refuses, changing nothing, when the dir is already initialised.
pub fn initialise(config: &Config) -> Result<InitReport, SetupError> {
    if is_initialised(config)? {
        return Err(SetupError::AlreadyInitialised(config.data_dir.clone()));
    }
    create_data_dir(config)?;
    let keyring = match load_keyring(config) {
        Ok(keyring) => keyring,
        Err(SetupError::NoMasterKey(path)) => {
            let keyring = Keyring::generate();
            keyring.write_file(&path)?;
            keyring
        }
        Err(e) => return Err(e),
    };
    let store = open_store(config)?;
    let vault = Vault::new(keyring);
    let token = store.write(|tx| {
        if tx.dialect() == crate::store::sql::Dialect::Postgres {
            tx.execute("SELECT pg_advisory_xact_lock(?1)", [INITIALISE_LOCK])?;
            if registered_key_versions(tx)? > 0 {
                return Err(SetupError::AlreadyInitialised(config.data_dir.clone()));
            }
        }
        vault.check_and_register(tx)?;
        let (_, token) = tokens::insert_token(
            tx,
            &NewToken {
                tenant_id: None,
                name: "initial admin",
                scopes: &Default::default(),
                expires_at: None,
                created_by: "cli:init",
            },
        )?;
        Ok::<_, SetupError>(token)
    })?;
    Ok(InitReport {
        admin_token: token,
        data_dir: config.data_dir.clone(),
    })
}

/// Opens an initialised data dir: runs migrations and checks the master key.
pub fn open(config: &Config) -> Result<(Store, Vault), SetupError> {
    if !is_initialised(config)? {
        return Err(SetupError::NotInitialised(config.data_dir.clone()));
    }
    let keyring = load_keyring(config)?;
    let store = open_store(config)?;
    let vault = Vault::new(keyring);
    store.write(|tx| vault.check_and_register(tx))?;
    Ok((store, vault))
}

/// A new platform token, for `tessera token create --platform`.
pub fn create_platform_token(store: &Store, name: &str) -> Result<Secret, SetupError> {
    store.write(|tx| {
        let (_, token) = tokens::insert_token(
            tx,
            &NewToken {
                tenant_id: None,
                name,
                scopes: &Default::default(),
                expires_at: None,
                created_by: "cli",
            },
        )?;
        Ok(token)
    })
}
