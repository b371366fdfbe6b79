//! Secrets at rest: envelope encryption with per-tenant data keys.
//!
//! The master key (versioned, see [`Keyring`]) only wraps data keys. Each tenant, and the
//! platform itself, has a random 32-byte data key stored sealed in `data_keys`; values are
//! sealed under the data key with XChaCha20-Poly1305, a random nonce per write, and
//! associated data binding the value to where it lives. Deleting a tenant deletes its data
//! key, after which none of its ciphertext can be opened.
//!
//! Stored blob: `[format=1][key version: u32 BE][nonce: 24][ciphertext || tag: 16]`.

mod keyring;
mod secret;
mod tokens;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use crate::store::sql::{Db, params};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use zeroize::Zeroizing;

pub use keyring::{KEY_LEN, Keyring};
pub use secret::Secret;
pub use tokens::{constant_time_eq, hash_token, random_token};

use crate::store::{OptionalRow, StoreError};

const FORMAT_V1: u8 = 1;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 1 + 4 + NONCE_LEN;
/// Data keys have one generation today; the slot in the blob lets a later one be added.
const DATA_KEY_GENERATION: u32 = 1;
const WRAP_PURPOSE: &str = "tessera/data-key-wrap";

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("master key: {0}")]
    BadMasterKey(String),
    #[error(
        "the master key does not match this database (key version {0} fails its check value); \
         start with the key this data dir was created with"
    )]
    WrongMasterKey(u32),
    #[error("the database uses master key version {0}, which this keyring does not have")]
    UnknownKeyVersion(u32),
    #[error("no data key for {0}")]
    MissingDataKey(String),
    #[error("sealed value is malformed")]
    Malformed,
    #[error("sealed value failed to open (wrong key, or moved from where it was sealed)")]
    OpenFailed,
    #[error("encryption failure")]
    Crypto,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Whose data key seals a value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KeyScope {
    Platform,
    Tenant(String),
}

impl KeyScope {
    fn as_str(&self) -> &str {
        match self {
            KeyScope::Platform => "platform",
            KeyScope::Tenant(id) => id,
        }
    }
}

/// Where a sealed value lives; bound into the ciphertext as associated data so a value
/// copied to another tenant, table, row or field fails to open.
#[derive(Debug, Clone, Copy)]
pub struct Location<'a> {
    pub scope: &'a KeyScope,
    pub table: &'a str,
    pub row_id: &'a str,
    pub field: &'a str,
}

impl Location<'_> {
    fn associated_data(&self, key_version: u32) -> Vec<u8> {
        format!(
            "tessera/v1|{}|{}|{}|{}|{}",
            self.scope.as_str(),
            self.table,
            self.row_id,
            self.field,
            key_version
        )
        .into_bytes()
    }
}

struct DataKey(Zeroizing<[u8; KEY_LEN]>);

pub struct Vault {
    keyring: Keyring,
    /// Unwrapped data keys, so hot paths do not unwrap per request. Zeroized on drop.
    cache: Mutex<HashMap<KeyScope, Arc<DataKey>>>,
    /// Key file to re-read when a data key names a master key version this process does not
    /// have yet (`tessera rotate-key` ran beside the server), and what it last held.
    key_file: OnceLock<PathBuf>,
    reloaded: RwLock<Option<Keyring>>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("keyring", &self.keyring)
            .finish_non_exhaustive()
    }
}

impl Vault {
    pub fn new(keyring: Keyring) -> Vault {
        Vault {
            keyring,
            cache: Mutex::new(HashMap::new()),
            key_file: OnceLock::new(),
            reloaded: RwLock::new(None),
        }
    }

    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    /// Checks the keyring against the database: every version recorded there that is
    /// still in use must be present with a matching check value. Records the active
    /// version when it is new, and makes sure the platform data key exists.
    pub fn check_and_register(&self, conn: &Db<'_>) -> Result<(), VaultError> {
        let recorded: Vec<(u32, String, Option<String>)> =
            conn.query("SELECT version, check_value, retired_at FROM key_versions", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?;
        for (version, check, retired) in &recorded {
            if !self.keyring.has(*version) {
                if retired.is_none() {
                    return Err(VaultError::UnknownKeyVersion(*version));
                }
                continue;
            }
            let expected = self.keyring.check_value(*version)?;
            if !constant_time_eq(expected.as_bytes(), check.as_bytes()) {
                return Err(VaultError::WrongMasterKey(*version));
            }
        }
        let active = self.keyring.active_version();
        if !recorded.iter().any(|(v, _, _)| *v == active) {
            conn.execute(
                "INSERT INTO key_versions (version, check_value, created_at) VALUES (?1, ?2, ?3)",
                params![active, self.keyring.check_value(active)?, crate::time::now_rfc3339()],
            )?;
        }
        self.create_data_key(conn, &KeyScope::Platform)?;
        Ok(())
    }

    /// Creates the data key for `scope` if it has none. Call inside the transaction that
    /// creates the tenant.
    pub fn create_data_key(&self, conn: &Db<'_>, scope: &KeyScope) -> Result<(), VaultError> {
        let exists: Option<i64> = conn
            .query_row("SELECT 1 FROM data_keys WHERE scope = ?1", [scope.as_str()], |r| {
                r.get(0)
            })
            .optional_row()?;
        if exists.is_some() {
            return Ok(());
        }
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        rand::rngs::OsRng.fill_bytes(key.as_mut());
        // After a rotation beside this process, wrap under the newest registered version.
        let registered: Option<u32> = conn.query_row("SELECT MAX(version) FROM key_versions", [], |r| r.get(0))?;
        let version = match registered {
            Some(v) if v > self.keyring.active_version() && self.wrapping_key(v).is_ok() => v,
            _ => self.keyring.active_version(),
        };
        let sealed = self.wrap(scope, version, key.as_ref())?;
        let tenant_id = match scope {
            KeyScope::Platform => None,
            KeyScope::Tenant(id) => Some(id.as_str()),
        };
        let now = crate::time::now_rfc3339();
        conn.execute(
            "INSERT INTO data_keys (scope, tenant_id, key_version, sealed_key, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
            params![scope.as_str(), tenant_id, version, sealed, now],
        )?;
        Ok(())
    }

    /// Drops a cached data key (after its tenant is deleted).
    pub fn forget(&self, scope: &KeyScope) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.remove(scope);
        }
    }

    fn wrap_location(scope: &KeyScope) -> Location<'_> {
        Location {
            scope,
            table: "data_keys",
            row_id: scope.as_str(),
            field: "sealed_key",
        }
    }

    fn wrap(&self, scope: &KeyScope, version: u32, key: &[u8]) -> Result<Vec<u8>, VaultError> {
        let kek = self.wrapping_key(version)?;
        seal_with(&kek, version, &Self::wrap_location(scope), key)
    }

    /// Lets the vault re-read `path` for master key versions added after it started.
    pub fn reload_keys_from(&self, path: PathBuf) {
        let _ = self.key_file.set(path);
    }

    /// The key-wrapping key of `version`, re-reading the key file once for a version
    /// added by a rotation since this process started.
    fn wrapping_key(&self, version: u32) -> Result<Zeroizing<[u8; KEY_LEN]>, VaultError> {
        match self.keyring.derive(version, WRAP_PURPOSE) {
            Err(VaultError::UnknownKeyVersion(_)) => {}
            other => return other,
        }
        let known = self
            .reloaded
            .read()
            .ok()
            .and_then(|r| r.as_ref().map(|k| k.derive(version, WRAP_PURPOSE)));
        if let Some(Ok(kek)) = known {
            return Ok(kek);
        }
        let path = self.key_file.get().ok_or(VaultError::UnknownKeyVersion(version))?;
        let fresh = Keyring::read_file(path)?;
        let kek = fresh.derive(version, WRAP_PURPOSE)?;
        if let Ok(mut reloaded) = self.reloaded.write() {
            *reloaded = Some(fresh);
        }
        Ok(kek)
    }

    /// Unwraps a stored data key with the master key version it records.
    fn unwrap_key(&self, scope: &KeyScope, sealed: &[u8]) -> Result<DataKey, VaultError> {
        let version = blob_key_version(sealed)?;
        let kek = self.wrapping_key(version)?;
        let plain = open_with(&kek, &Self::wrap_location(scope), sealed)?;
        let key: [u8; KEY_LEN] = plain.as_slice().try_into().map_err(|_| VaultError::Malformed)?;
        Ok(DataKey(Zeroizing::new(key)))
    }

    fn data_key(&self, conn: &Db<'_>, scope: &KeyScope) -> Result<Arc<DataKey>, VaultError> {
        if let Some(key) = self.cache.lock().ok().and_then(|c| c.get(scope).cloned()) {
            return Ok(key);
        }
        let sealed: Option<Vec<u8>> = conn
            .query_row(
                "SELECT sealed_key FROM data_keys WHERE scope = ?1",
                [scope.as_str()],
                |r| r.get(0),
            )
            .optional_row()?;
        let sealed = sealed.ok_or_else(|| VaultError::MissingDataKey(scope.as_str().to_owned()))?;
        let key = Arc::new(self.unwrap_key(scope, &sealed)?);
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(scope.clone(), key.clone());
        }
        Ok(key)
    }

    /// Seals `plaintext` for `location` under its scope's data key.
    pub fn seal(&self, conn: &Db<'_>, location: &Location<'_>, plaintext: &[u8]) -> Result<Vec<u8>, VaultError> {
        let key = self.data_key(conn, location.scope)?;
        seal_with(&key.0, DATA_KEY_GENERATION, location, plaintext)
    }

    /// Opens a value sealed for `location`. Any mismatch is an error, never plaintext.
    pub fn open(&self, conn: &Db<'_>, location: &Location<'_>, blob: &[u8]) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        let key = self.data_key(conn, location.scope)?;
        open_with(&key.0, location, blob)
    }

    /// Opens a sealed UTF-8 string.
    pub fn open_string(&self, conn: &Db<'_>, location: &Location<'_>, blob: &[u8]) -> Result<Secret, VaultError> {
        let plain = self.open(conn, location, blob)?;
        let text = std::str::from_utf8(&plain).map_err(|_| VaultError::Malformed)?;
        Ok(Secret::new(text))
    }

    /// Re-wraps every data key still under an older master key version with the active
    /// one, one row per transaction so it can run beside a live server and resume after a
    /// crash. Returns how many keys were re-wrapped.
    pub fn rewrap_data_keys(
        &self,
        store: &crate::store::Store,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<usize, VaultError> {
        let active = self.keyring.active_version();
        let pending: Vec<String> = store.read(|conn| {
            let rows = conn.query("SELECT scope FROM data_keys WHERE key_version <> ?1", [active], |r| {
                r.get(0)
            })?;
            Ok::<_, VaultError>(rows)
        })?;
        let total = pending.len();
        for (done, scope_id) in pending.iter().enumerate() {
            store.write(|tx| {
                let row: Option<(Option<String>, Vec<u8>)> = tx
                    .query_row(
                        "SELECT tenant_id, sealed_key FROM data_keys WHERE scope = ?1 AND key_version <> ?2",
                        params![scope_id, active],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional_row()?;
                let Some((tenant_id, sealed)) = row else {
                    return Ok(());
                };
                let scope = match tenant_id {
                    Some(id) => KeyScope::Tenant(id),
                    None => KeyScope::Platform,
                };
                let key = self.unwrap_key(&scope, &sealed)?;
                let resealed = self.wrap(&scope, active, key.0.as_ref())?;
                tx.execute(
                    "UPDATE data_keys SET sealed_key = ?1, key_version = ?2, updated_at = ?3 WHERE scope = ?4",
                    params![resealed, active, crate::time::now_rfc3339(), scope_id],
                )?;
                Ok::<_, VaultError>(())
            })?;
            progress(done + 1, total);
        }
        Ok(total)
    }
}

/// Reads the key version recorded in a sealed blob.
pub fn blob_key_version(blob: &[u8]) -> Result<u32, VaultError> {
    if blob.len() < HEADER_LEN + TAG_LEN || blob[0] != FORMAT_V1 {
        return Err(VaultError::Malformed);
    }
    Ok(u32::from_be_bytes([blob[1], blob[2], blob[3], blob[4]]))
}

fn seal_with(
    key: &[u8; KEY_LEN],
    version: u32,
    location: &Location<'_>,
    plaintext: &[u8],
) -> Result<Vec<u8>, VaultError> {
    let cipher = XChaCha20Poly1305::new(key.into());
    let mut nonce = [0u8; NONCE_LEN];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let aad = location.associated_data(version);
    let ciphertext = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad: &aad,
            },
        )
        .map_err(|_| VaultError::Crypto)?;
    let mut blob = Vec::with_capacity(HEADER_LEN + ciphertext.len());
    blob.push(FORMAT_V1);
    blob.extend_from_slice(&version.to_be_bytes());
    blob.extend_from_slice(&nonce);
    blob.extend_from_slice(&ciphertext);
    Ok(blob)
}

fn open_with(key: &[u8; KEY_LEN], location: &Location<'_>, blob: &[u8]) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    let version = blob_key_version(blob)?;
    let nonce = XNonce::from_slice(&blob[5..HEADER_LEN]);
    let aad = location.associated_data(version);
    let cipher = XChaCha20Poly1305::new(key.into());
    cipher
        .decrypt(
            nonce,
            Payload {
                msg: &blob[HEADER_LEN..],
                aad: &aad,
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| VaultError::OpenFailed)
}

#[cfg(test)]
mod tests;
