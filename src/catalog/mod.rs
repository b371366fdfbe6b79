//! The provider catalog: declarative TOML embedded in the binary, optionally extended or
//! overridden by `TESSERA_PROVIDERS_FILE`. Provider knowledge lives here, not in code.

mod model;
mod placeholders;
pub mod routes;

use std::collections::BTreeMap;
use std::path::Path;

pub use model::*;
pub use placeholders::{PlaceholderError, expand, is_tenant_shaped};

const BUILT_IN: &str = include_str!("providers.toml");

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("cannot read providers file {path}: {message}")]
    Read { path: String, message: String },
    #[error("providers file {path} is not valid TOML: {message}")]
    Parse { path: String, message: String },
    #[error("provider `{key}`: {message}")]
    Invalid { key: String, message: String },
}

/// All providers, by key. Read once at start-up, shared read-only.
#[derive(Debug, Clone)]
pub struct Catalog {
    providers: BTreeMap<String, Provider>,
}

impl Catalog {
    pub fn built_in() -> Result<Catalog, CatalogError> {
        Self::load(None)
    }

    /// The built-in catalog, with `overrides` (a providers file) merged over it: a table
    /// for a built-in key overrides just the fields it names, a new key adds a provider.
    pub fn load(overrides: Option<&Path>) -> Result<Catalog, CatalogError> {
        let mut merged = parse_providers(BUILT_IN, "built-in catalog")?;
        if let Some(path) = overrides {
            let shown = path.display().to_string();
            let text = std::fs::read_to_string(path).map_err(|e| CatalogError::Read {
                path: shown.clone(),
                message: e.to_string(),
            })?;
            for (key, table) in parse_providers(&text, &shown)? {
                match merged.get_mut(&key) {
                    Some(existing) => deep_merge(existing, table),
                    None => {
                        merged.insert(key, table);
                    }
                }
            }
        }
        let mut providers = BTreeMap::new();
        for (key, table) in merged {
            let mut provider: Provider = table.try_into().map_err(|e: toml::de::Error| CatalogError::Invalid {
                key: key.clone(),
                message: e.message().to_owned(),
            })?;
            provider.key = key.clone();
            provider.validate().map_err(|message| CatalogError::Invalid {
                key: key.clone(),
                message,
            })?;
            providers.insert(key, provider);
        }
        Ok(Catalog { providers })
    }

    pub fn get(&self, key: &str) -> Option<&Provider> {
        self.providers.get(key)
    }

    pub fn all(&self) -> impl Iterator<Item = &Provider> {
        self.providers.values()
    }
}

fn parse_providers(text: &str, origin: &str) -> Result<toml::Table, CatalogError> {
    let mut root: toml::Table = text.parse().map_err(|e: toml::de::Error| CatalogError::Parse {
        path: origin.to_owned(),
        message: e.message().to_owned(),
    })?;
    let providers = root
        .remove("providers")
        .unwrap_or(toml::Value::Table(Default::default()));
    if let Some(other) = root.keys().next() {
        return Err(CatalogError::Parse {
            path: origin.to_owned(),
            message: format!("unexpected top-level key `{other}`; expected [providers.<key>] tables"),
        });
    }
    let toml::Value::Table(providers) = providers else {
        return Err(CatalogError::Parse {
            path: origin.to_owned(),
            message: "`providers` must be a table".into(),
        });
    };
    let mut out = toml::Table::new();
    for (key, value) in providers {
        if !is_valid_key(&key) {
            return Err(CatalogError::Invalid {
                key,
                message: "keys are lowercase letters, digits, `-` and `_`".into(),
            });
        }
        match value {
            toml::Value::Table(t) => {
                out.insert(key, toml::Value::Table(t));
            }
            _ => {
                return Err(CatalogError::Invalid {
                    key,
                    message: "must be a table".into(),
                });
            }
        }
    }
    Ok(out)
}

fn is_valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 64
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// Tables merge key by key; any other value (arrays included) replaces.
fn deep_merge(base: &mut toml::Value, over: toml::Value) {
    match (base, over) {
        (toml::Value::Table(base), toml::Value::Table(over)) => {
            for (k, v) in over {
                match base.get_mut(&k) {
                    Some(existing) => deep_merge(existing, v),
                    None => {
                        base.insert(k, v);
                    }
                }
            }
        }
        (base, over) => *base = over,
    }
}

#[cfg(test)]
mod tests;
