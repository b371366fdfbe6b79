//! A tenant's configuration of an installed plugin: checked against the manifest's
//! schema, sealed like connection credentials (tenant key, bound to the installation
//! row), masked on read, and filtered before a script sees it.

use std::collections::BTreeMap;

use crate::store::sql::Db;
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use super::manifest::ConfigField;
use crate::error::FieldError;
use crate::vault::{KeyScope, Location, Vault, VaultError};

const MAX_VALUE_BYTES: usize = 16 * 1024;

/// Configuration values by field name: strings, numbers or booleans. Never `Debug`-printed
/// with its values.
#[derive(Clone, Default, PartialEq)]
pub struct Configuration(BTreeMap<String, Value>);

impl std::fmt::Debug for Configuration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl Drop for Configuration {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        for value in self.0.values_mut() {
            if let Value::String(s) = value {
                s.zeroize();
            }
        }
    }
}

fn error(field: String, message: impl Into<String>) -> FieldError {
    FieldError {
        field,
        message: message.into(),
    }
}

impl Configuration {
    /// `given` merged over `existing` (an omitted field keeps its value, `null` or `""`
    /// clears it), checked against `fields`.
    pub fn merged(
        fields: &[ConfigField],
        existing: Option<&Configuration>,
        given: &Map<String, Value>,
    ) -> Result<Configuration, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut values = existing.map(|c| c.0.clone()).unwrap_or_default();
        for (name, value) in given {
            let path = format!("configuration.{name}");
            if !fields.iter().any(|f| &f.name == name) {
                errors.push(error(path, "unknown field for this plugin"));
                continue;
            }
            match value {
                Value::Null => {
                    values.remove(name);
                }
                Value::String(s) if s.trim().is_empty() => {
                    values.remove(name);
                }
                Value::String(s) if s.trim().starts_with("****") => errors.push(error(
                    path,
                    "looks like a masked value; send the real value or omit the field",
                )),
                Value::String(s) if s.len() > MAX_VALUE_BYTES => errors.push(error(path, "is too long")),
                Value::String(s) => {
                    values.insert(name.clone(), Value::String(s.trim().to_owned()));
                }
                Value::Number(_) | Value::Bool(_) => {
                    values.insert(name.clone(), value.clone());
                }
                _ => errors.push(error(path, "must be a string, a number or a boolean")),
            }
        }
        for field in fields.iter().filter(|f| f.required) {
            if !values.contains_key(&field.name) {
                errors.push(error(format!("configuration.{}", field.name), "is required"));
            }
        }
        if errors.is_empty() {
            Ok(Configuration(values))
        } else {
            Err(errors)
        }
    }

    /// Required fields a newer manifest added that this configuration lacks.
    pub fn missing(&self, fields: &[ConfigField]) -> Vec<String> {
        fields
            .iter()
            .filter(|f| f.required && !self.0.contains_key(&f.name))
            .map(|f| f.name.clone())
            .collect()
    }

    /// What the API shows: secrets (and values of fields the manifest no longer has)
    /// masked.
    pub fn masked(&self, fields: &[ConfigField]) -> Map<String, Value> {
        self.0
            .iter()
            .map(|(name, value)| {
                let secret = fields.iter().find(|f| &f.name == name).is_none_or(|f| f.secret);
                let shown = match (secret, value) {
                    (false, v) => v.clone(),
                    (true, Value::String(s)) => Value::String(crate::connections::mask(s)),
                    (true, _) => Value::String("****".into()),
                };
                (name.clone(), shown)
            })
            .collect()
    }

    /// What the script receives: the fields the manifest shows it.
    pub fn for_script(&self, fields: &[ConfigField]) -> Value {
        Value::Object(
            self.0
                .iter()
                .filter(|(name, _)| fields.iter().any(|f| &f.name == *name && f.visible_to_script()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        )
    }

    /// The secret values the script is shown, so what the script reports (an error it
    /// throws) can be scrubbed of them before it is stored or logged.
    pub fn script_secrets(&self, fields: &[ConfigField]) -> Vec<Zeroizing<String>> {
        self.0
            .iter()
            .filter(|(name, _)| {
                fields
                    .iter()
                    .any(|f| &f.name == *name && f.secret && f.visible_to_script())
            })
            .filter_map(|(_, value)| match value {
                Value::String(s) if !s.is_empty() => Some(Zeroizing::new(s.clone())),
                Value::Number(n) => Some(Zeroizing::new(n.to_string())),
                _ => None,
            })
            .collect()
    }

    pub fn names(&self) -> Vec<String> {
        self.0.keys().cloned().collect()
    }
}

fn location<'a>(scope: &'a KeyScope, installation_id: &'a str) -> Location<'a> {
    Location {
        scope,
        table: "plugin_installations",
        row_id: installation_id,
        field: "configuration",
    }
}

pub fn seal(
    conn: &Db<'_>,
    vault: &Vault,
    tenant_id: &str,
    installation_id: &str,
    configuration: &Configuration,
) -> Result<Vec<u8>, VaultError> {
    let plain = Zeroizing::new(serde_json::to_vec(&configuration.0).map_err(|_| VaultError::Crypto)?);
    let scope = KeyScope::Tenant(tenant_id.to_owned());
    vault.seal(conn, &location(&scope, installation_id), &plain)
}

pub fn open(
    conn: &Db<'_>,
    vault: &Vault,
    tenant_id: &str,
    installation_id: &str,
    sealed: &[u8],
) -> Result<Configuration, VaultError> {
    let scope = KeyScope::Tenant(tenant_id.to_owned());
    let plain = vault.open(conn, &location(&scope, installation_id), sealed)?;
    serde_json::from_slice(&plain)
        .map(Configuration)
        .map_err(|_| VaultError::Malformed)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn fields() -> Vec<ConfigField> {
        serde_json::from_value(json!([
            {"name": "channel", "label": "Channel", "required": true},
            {"name": "token", "label": "Token", "secret": true},
            {"name": "signing_key", "label": "Key", "secret": true, "to_script": true},
        ]))
        .unwrap()
    }

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn validates_merges_masks_and_filters() {
        let f = fields();
        let errors = Configuration::merged(&f, None, &map(json!({"nope": 1, "token": ["x"]}))).unwrap_err();
        let names: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            names,
            vec!["configuration.nope", "configuration.token", "configuration.channel"]
        );
        let first = Configuration::merged(
            &f,
            None,
            &map(json!({"channel": "#sales", "token": "tok_1234567890abcd", "signing_key": "k"})),
        )
        .unwrap();
        assert_eq!(
            Value::Object(first.masked(&f)),
            json!({"channel": "#sales", "token": "****abcd", "signing_key": "****"})
        );
        assert_eq!(first.for_script(&f), json!({"channel": "#sales", "signing_key": "k"}));
        let secrets: Vec<String> = first.script_secrets(&f).iter().map(|s| s.to_string()).collect();
        assert_eq!(secrets, vec!["k"], "only the secrets the script sees");
        let second = Configuration::merged(&f, Some(&first), &map(json!({"token": null}))).unwrap();
        assert_eq!(second.names(), vec!["channel", "signing_key"]);
        assert!(Configuration::merged(&f, Some(&first), &map(json!({"token": "****abcd"}))).is_err());
        assert!(!format!("{first:?}").contains("tok_"));
    }
}
