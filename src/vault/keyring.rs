//! Master keys by version, and the keys derived from them.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hkdf::Hkdf;
use rand::RngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

use super::VaultError;

pub const KEY_LEN: usize = 32;
const HKDF_SALT: &[u8] = b"tessera/master-key/v1";

/// Every master key version this process knows. The highest version seals new values.
pub struct Keyring {
    keys: BTreeMap<u32, Zeroizing<[u8; KEY_LEN]>>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("versions", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Keyring {
    /// Parses `KEY` (version 1) or `1:KEY,2:KEY` (newline-separated works too), each KEY
    /// the base64 of 32 bytes.
    pub fn parse(text: &str) -> Result<Keyring, VaultError> {
        let mut keys = BTreeMap::new();
        let entries: Vec<&str> = text
            .lines()
            .filter(|line| !line.trim_start().starts_with('#'))
            .flat_map(|line| line.split(','))
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .collect();
        for entry in &entries {
            let (version, encoded) = match entry.split_once(':') {
                Some((v, k)) => {
                    let version: u32 = v
                        .trim()
                        .parse()
                        .map_err(|_| VaultError::BadMasterKey("a key version must be a positive number".into()))?;
                    (version, k.trim())
                }
                None if entries.len() == 1 => (1, *entry),
                None => {
                    return Err(VaultError::BadMasterKey(
                        "with several keys, write each as VERSION:BASE64".into(),
                    ));
                }
            };
            if version == 0 {
                return Err(VaultError::BadMasterKey("key versions start at 1".into()));
            }
            let bytes = Zeroizing::new(
                STANDARD
                    .decode(encoded)
                    .map_err(|_| VaultError::BadMasterKey(format!("key version {version} is not valid base64")))?,
            );
            let key: [u8; KEY_LEN] = bytes.as_slice().try_into().map_err(|_| {
                VaultError::BadMasterKey(format!("key version {version} must decode to exactly {KEY_LEN} bytes"))
            })?;
            if keys.insert(version, Zeroizing::new(key)).is_some() {
                return Err(VaultError::BadMasterKey(format!("key version {version} given twice")));
            }
        }
        if keys.is_empty() {
            return Err(VaultError::BadMasterKey("no master key given".into()));
        }
        Ok(Keyring { keys })
    }

    pub fn read_file(path: &Path) -> Result<Keyring, VaultError> {
        let text = Zeroizing::new(
            std::fs::read_to_string(path)
                .map_err(|e| VaultError::BadMasterKey(format!("cannot read key file {}: {e}", path.display())))?,
        );
        Self::parse(&text)
    }

    /// A keyring with one freshly generated version-1 key.
    pub fn generate() -> Keyring {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        rand::rngs::OsRng.fill_bytes(key.as_mut());
        Keyring {
            keys: BTreeMap::from([(1, key)]),
        }
    }

    /// Adds a new random key one version above the highest; returns that version.
    pub fn add_generated(&mut self) -> u32 {
        let version = self.active_version() + 1;
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        rand::rngs::OsRng.fill_bytes(key.as_mut());
        self.keys.insert(version, key);
        version
    }

    /// Writes the keyring to `path` with mode 0600, replacing the file atomically.
    pub fn write_file(&self, path: &Path) -> Result<(), VaultError> {
        let text = Zeroizing::new(self.serialize());
        let tmp = path.with_extension("tmp");
        let io = |e: std::io::Error| VaultError::BadMasterKey(format!("cannot write key file {}: {e}", path.display()));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp).map_err(io)?;
        file.write_all(text.as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)?;
        Ok(())
    }

    /// The whole keyring as one `VERSION:BASE64,...` value for `TESSERA_MASTER_KEY`.
    pub fn export_line(&self) -> super::Secret {
        let entries: Vec<String> = self
            .keys
            .iter()
            .map(|(version, key)| format!("{version}:{}", STANDARD.encode(key.as_ref())))
            .collect();
        super::Secret::new(entries.join(","))
    }

    fn serialize(&self) -> String {
        let mut out = String::from("# tessera master keys: VERSION:BASE64, highest seals new data\n");
        for (version, key) in &self.keys {
            out.push_str(&format!("{version}:{}\n", STANDARD.encode(key.as_ref())));
        }
        out
    }

    pub fn active_version(&self) -> u32 {
        self.keys.keys().next_back().copied().unwrap_or(1)
    }

    pub fn versions(&self) -> impl Iterator<Item = u32> + '_ {
        self.keys.keys().copied()
    }

    pub fn has(&self, version: u32) -> bool {
        self.keys.contains_key(&version)
    }

    /// Derives a purpose-bound key from master key `version` with HKDF-SHA256.
    pub fn derive(&self, version: u32, purpose: &str) -> Result<Zeroizing<[u8; KEY_LEN]>, VaultError> {
        let master = self.keys.get(&version).ok_or(VaultError::UnknownKeyVersion(version))?;
        let hk = Hkdf::<Sha256>::new(Some(HKDF_SALT), master.as_ref());
        let mut out = Zeroizing::new([0u8; KEY_LEN]);
        hk.expand(purpose.as_bytes(), out.as_mut())
            .map_err(|_| VaultError::Crypto)?;
        Ok(out)
    }

    /// A public value that identifies key `version` without revealing it.
    pub fn check_value(&self, version: u32) -> Result<String, VaultError> {
        let derived = self.derive(version, "tessera/key-check-value")?;
        Ok(hex::encode(&derived[..16]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_single_and_versioned_forms() {
        let key = STANDARD.encode([7u8; 32]);
        let one = Keyring::parse(&key).unwrap();
        assert_eq!(one.active_version(), 1);
        let two = Keyring::parse(&format!("1:{key},2:{}", STANDARD.encode([9u8; 32]))).unwrap();
        assert_eq!(two.active_version(), 2);
        assert_ne!(two.check_value(1).unwrap(), two.check_value(2).unwrap());
    }

    #[test]
    fn rejects_wrong_lengths_and_garbage() {
        assert!(Keyring::parse(&STANDARD.encode([1u8; 16])).is_err());
        assert!(Keyring::parse("not base64!").is_err());
        assert!(Keyring::parse("").is_err());
    }

    #[test]
    fn round_trips_through_a_0600_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let mut ring = Keyring::generate();
        ring.add_generated();
        ring.write_file(&path).unwrap();
        let back = Keyring::read_file(&path).unwrap();
        assert_eq!(back.check_value(2).unwrap(), ring.check_value(2).unwrap());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
