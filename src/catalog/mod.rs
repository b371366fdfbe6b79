//! The provider catalog: declarative TOML embedded in the binary, optionally extended or
//! overridden by `TESSERA_PROVIDERS_FILE`. Provider knowledge lives here, not in code.

mod effective;
mod model;
mod placeholders;
pub mod routes;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

pub use effective::{Catalogs, Overlay};
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

/// All providers, by key. Read once at start-up, shared read-only; a tenant's effective
/// catalog ([`Catalogs::for_tenant`]) is this one with its plugins' providers merged over.
#[derive(Debug, Clone)]
pub struct Catalog {
    providers: BTreeMap<String, Arc<Provider>>,
    /// The merged TOML tables the providers were read from, so overlays can be merged
    /// over them the same way the providers file is.
    tables: toml::Table,
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
            merge_tables(&mut merged, parse_providers(&text, &shown)?);
        }
        Self::from_tables(merged)
    }

    /// This catalog with `overlay` (providers in the catalog's format, e.g. a plugin's)
    /// merged over it the way a providers file is.
    pub fn extended(&self, overlay: &toml::Table) -> Result<Catalog, CatalogError> {
        let mut merged = self.tables.clone();
        merge_tables(&mut merged, overlay.clone());
        Self::from_tables(merged)
    }

    fn from_tables(merged: toml::Table) -> Result<Catalog, CatalogError> {
        let mut providers = BTreeMap::new();
        for (key, table) in merged.clone() {
            let mut provider: Provider = table.try_into().map_err(|e: toml::de::Error| CatalogError::Invalid {
                key: key.clone(),
                message: e.message().to_owned(),
            })?;
            provider.key = key.clone();
            provider.validate().map_err(|message| CatalogError::Invalid {
                key: key.clone(),
                message,
            })?;
            providers.insert(key, Arc::new(provider));
        }
        Ok(Catalog {
            providers,
            tables: merged,
        })
    }

    pub fn get(&self, key: &str) -> Option<&Provider> {
        self.providers.get(key).map(|p| &**p)
    }

    /// A provider to keep beyond a borrow of the catalog.
    pub fn shared(&self, key: &str) -> Option<Arc<Provider>> {
        self.providers.get(key).cloned()
    }

    pub fn all(&self) -> impl Iterator<Item = &Provider> {
        self.providers.values().map(|p| &**p)
    }
}

/// Parses providers text in the catalog's format (`[providers.<key>]` tables) without
/// merging it anywhere; parse errors name the line.
pub fn parse_providers(text: &str, origin: &str) -> Result<toml::Table, CatalogError> {
    let mut root: toml::Table = text.parse().map_err(|e: toml::de::Error| CatalogError::Parse {
        path: origin.to_owned(),
        message: match e.span() {
            Some(span) => format!("line {}: {}", line_of(text, span.start), e.message()),
            None => e.message().to_owned(),
        },
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

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

fn merge_tables(base: &mut toml::Table, over: toml::Table) {
    for (key, table) in over {
        match base.get_mut(&key) {
            Some(existing) => deep_merge(existing, table),
            None => {
                base.insert(key, table);
            }
        }
    }
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
