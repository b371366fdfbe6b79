//! `tessera rotate-key` and `tessera keys status`.
//!
//! The master key only wraps data keys (values are sealed under data keys), so a rotation
//! re-wraps every data key under a new master key version, one row per transaction. It is
//! safe beside a running server: SQLite WAL + busy timeout serialise the writes, the
//! server keeps the data keys it has unwrapped, and for the ones it has not it re-reads
//! the key file on meeting an unknown version ([`crate::vault::Vault::reload_keys_from`]).
//! A rotation that dies half-way is finished by running `rotate-key` again: while any data
//! key is not on the newest version, `rotate-key` resumes instead of adding a version.

use std::path::PathBuf;

use crate::store::sql::{Db, params};
use serde::Serialize;

use crate::config::Config;
use crate::setup::{self, SetupError};
use crate::store::StoreError;
use crate::vault::{Keyring, Vault, VaultError};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Setup(#[from] SetupError),
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where the new key went.
#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NewKey {
    /// Added to this key file (mode 0600).
    File { path: String },
    /// The key comes from `TESSERA_MASTER_KEY`; the operator must set it to this value
    /// before the next start. Printed once, never stored.
    Environment,
    /// No key was added: an interrupted (or staged) rotation was finished.
    Resumed,
    /// No key was added: a staged or interrupted rotation waits for `rotate-key`.
    Waiting,
}

#[derive(Debug, Serialize)]
pub struct RotationReport {
    pub active_version: u32,
    pub new_key: NewKey,
    pub rewrapped: usize,
    pub retired_versions: Vec<u32>,
    /// For `NewKey::Environment`: the full value TESSERA_MASTER_KEY must take.
    #[serde(skip)]
    pub environment_value: Option<crate::vault::Secret>,
}

fn key_file_path(config: &Config) -> Option<PathBuf> {
    if config.master_key.is_some() {
        return None;
    }
    Some(
        config
            .master_key_file
            .clone()
            .unwrap_or_else(|| config.default_master_key_path()),
    )
}

/// Data keys not yet wrapped under `version`.
fn pending(conn: &Db<'_>, version: u32) -> Result<i64, StoreError> {
    conn.query_row(
        "SELECT COUNT(*) FROM data_keys WHERE key_version <> ?1",
        [version],
        |r| r.get(0),
    )
}

/// Marks every older version that no data key uses as retired. Returns those versions.
pub fn retire_unused(conn: &Db<'_>, active: u32) -> Result<Vec<u32>, StoreError> {
    let versions: Vec<u32> = conn.query(
        "SELECT version FROM key_versions k WHERE retired_at IS NULL AND version <> ?1
           AND NOT EXISTS (SELECT 1 FROM data_keys d WHERE d.key_version = k.version)",
        [active],
        |r| r.get(0),
    )?;
    for version in &versions {
        conn.execute(
            "UPDATE key_versions SET retired_at = ?2 WHERE version = ?1",
            params![version, crate::time::now_rfc3339()],
        )?;
    }
    Ok(versions)
}

/// Adds a master key version (or resumes an interrupted rotation) and re-wraps every data
/// key under it. `progress(done, total)` is called after each committed row.
pub fn rotate(config: &Config, progress: impl FnMut(usize, usize)) -> Result<RotationReport, KeyError> {
    // Opening checks the current keyring against the database.
    let (store, vault) = setup::open(config)?;
    let mut keyring = setup::load_keyring(config)?;
    let unfinished = store.read(|conn| pending(conn, keyring.active_version()))?;
    drop(vault);

    let (new_key, environment_value) = if unfinished > 0 {
        (NewKey::Resumed, None)
    } else {
        add_version(config, &mut keyring)?
    };
    let active = keyring.active_version();
    let vault = Vault::new(keyring);
    store.write(|tx| vault.check_and_register(tx))?;
    let rewrapped = vault.rewrap_data_keys(&store, progress)?;
    let retired_versions = store.write(|tx| retire_unused(tx, active))?;
    Ok(RotationReport {
        active_version: active,
        new_key,
        rewrapped,
        retired_versions,
        environment_value,
    })
}

/// Generates the next master key version and stores it: in the key file (written before
/// anything is wrapped under it, so no row can name a key that was lost), or, for a key
/// from the environment, as the value `TESSERA_MASTER_KEY` must take.
fn add_version(config: &Config, keyring: &mut Keyring) -> Result<(NewKey, Option<crate::vault::Secret>), KeyError> {
    keyring.add_generated();
    Ok(match key_file_path(config) {
        Some(path) => {
            keyring.write_file(&path)?;
            let path = path.display().to_string();
            (NewKey::File { path }, None)
        }
        None => (NewKey::Environment, Some(keyring.export_line())),
    })
}

/// `rotate-key --stage`: adds the next master key version without wrapping anything under
/// it yet. With several nodes, each node's key file (or `TESSERA_MASTER_KEY`) gets the new
/// version first; `rotate-key` then re-wraps, and every node can open what it wrapped.
/// Nothing is added while a staged or interrupted rotation waits for `rotate-key`.
pub fn stage(config: &Config) -> Result<RotationReport, KeyError> {
    let (store, vault) = setup::open(config)?;
    drop(vault);
    let mut keyring = setup::load_keyring(config)?;
    let waiting = store.read(|conn| pending(conn, keyring.active_version()))? > 0;
    let (new_key, environment_value) = if waiting {
        (NewKey::Waiting, None)
    } else {
        add_version(config, &mut keyring)?
    };
    Ok(RotationReport {
        active_version: keyring.active_version(),
        new_key,
        rewrapped: 0,
        retired_versions: Vec::new(),
        environment_value,
    })
}

#[derive(Debug, Serialize)]
pub struct VersionStatus {
    pub version: u32,
    pub created_at: String,
    pub retired_at: Option<String>,
    /// Data keys wrapped under this version.
    pub data_keys: i64,
    /// Whether the configured key file / environment holds this version.
    pub in_keyring: bool,
}

#[derive(Debug, Serialize)]
pub struct KeysStatus {
    pub active_version: u32,
    pub versions: Vec<VersionStatus>,
    /// Data keys not on the active version (a rotation to finish with `rotate-key`).
    pub pending_rewrap: i64,
}

pub fn status_of(conn: &Db<'_>, keyring: &Keyring) -> Result<KeysStatus, StoreError> {
    let versions = conn.query(
        "SELECT k.version, k.created_at, k.retired_at,
                (SELECT COUNT(*) FROM data_keys d WHERE d.key_version = k.version)
         FROM key_versions k ORDER BY k.version",
        [],
        |r| {
            let version: u32 = r.get(0)?;
            Ok(VersionStatus {
                version,
                created_at: r.get(1)?,
                retired_at: r.get(2)?,
                data_keys: r.get(3)?,
                in_keyring: keyring.has(version),
            })
        },
    )?;
    let active_version = keyring.active_version();
    Ok(KeysStatus {
        active_version,
        versions,
        pending_rewrap: pending(conn, active_version)?,
    })
}

/// `tessera keys status`: read-only; does not need the server stopped.
pub fn status(config: &Config) -> Result<KeysStatus, KeyError> {
    if !setup::is_initialised(config)? {
        return Err(SetupError::NotInitialised(config.data_dir.clone()).into());
    }
    let keyring = setup::load_keyring(config)?;
    let store = setup::open_store(config)?;
    Ok(store.read(|conn| status_of(conn, &keyring))?)
}
