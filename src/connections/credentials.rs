use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::catalog::Provider;
use crate::vault::Secret;

/// A connection's credential fields in plaintext. Held only briefly, zeroized on drop,
/// never printed; serialized only to be sealed or revealed.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Credentials(BTreeMap<String, String>);

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.0.keys().map(|k| (k, "<redacted>"))).finish()
    }
}

impl Drop for Credentials {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        for value in self.0.values_mut() {
            value.zeroize();
        }
    }
}

impl Credentials {
    pub fn get(&self, name: &str) -> Option<Secret> {
        self.0.get(name).map(|v| Secret::new(v.clone()))
    }

    pub fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    pub fn insert(&mut self, name: &str, value: &str) {
        self.0.insert(name.to_owned(), value.to_owned());
    }

    pub fn remove(&mut self, name: &str) {
        if let Some(mut v) = self.0.remove(name) {
            zeroize::Zeroize::zeroize(&mut v);
        }
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// The plaintext map, for the audited reveal endpoint only.
    pub fn reveal(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    /// Secret fields masked, non-secret fields shown.
    pub fn masked(&self, provider: &Provider) -> BTreeMap<String, String> {
        self.0
            .iter()
            .map(|(name, value)| {
                let secret = provider.field(name).is_none_or(|f| f.secret);
                let shown = if secret { mask(value) } else { value.clone() };
                (name.clone(), shown)
            })
            .collect()
    }
}

/// `"****"` followed by the last 4 characters, or just `"****"` when shorter than 12.
pub fn mask(value: &str) -> String {
    let count = value.chars().count();
    if count < 12 {
        return "****".into();
    }
    let tail: String = value.chars().skip(count - 4).collect();
    format!("****{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_prints_values() {
        let mut c = Credentials::default();
        c.insert("secret_key", "sk_live_debug_canary");
        let printed = format!("{c:?}");
        assert!(printed.contains("secret_key"));
        assert!(!printed.contains("sk_live_debug_canary"));
    }

    #[test]
    fn masking_rule() {
        assert_eq!(mask("sk_test_1234567890abcd"), "****abcd");
        assert_eq!(mask("short"), "****");
        assert_eq!(mask("elevenchars"), "****");
        assert_eq!(mask("twelve_chars"), "****hars");
    }
}
