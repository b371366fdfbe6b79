//! The package format and its validation. A package is what `POST /api/v1/plugins`
//! takes: a manifest, optional provider definitions in the catalog's TOML format, and an
//! optional JavaScript transformation. Every error names the field (and the line, for
//! TOML and JavaScript).

use serde::{Deserialize, Serialize};

use crate::catalog::{Catalog, CatalogError, parse_providers};
use crate::error::FieldError;

use super::sandbox::{self, Limits, ScriptError};

const MAX_CONFIG_FIELDS: usize = 50;
const MAX_PROVIDERS: usize = 20;

/// `POST /api/v1/plugins`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Package {
    pub manifest: Manifest,
    #[serde(default)]
    pub providers: Option<String>,
    #[serde(default)]
    pub script: Option<String>,
    /// The operator's choice: the plugin's providers appear in every tenant's catalog.
    /// Absent on an upgrade: unchanged.
    #[serde(default)]
    pub platform_wide: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub id: String,
    pub name: String,
    pub version: String,
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default)]
    pub config_fields: Vec<ConfigField>,
}

/// One setting a tenant gives when installing.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ConfigField {
    pub name: String,
    pub label: String,
    #[serde(default)]
    pub secret: bool,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub help: String,
    /// Whether the script receives this value. Default: yes for plain fields, no for
    /// secrets (a secret reaches the script only where the manifest asks for it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_script: Option<bool>,
}

impl ConfigField {
    pub fn visible_to_script(&self) -> bool {
        self.to_script.unwrap_or(!self.secret)
    }
}

/// A validated package, ready to store.
#[derive(Debug, Clone)]
pub struct Checked {
    pub manifest: Manifest,
    pub version: Version,
    pub providers: Option<String>,
    pub provider_keys: Vec<String>,
    pub overlay: Option<toml::Table>,
    pub script: Option<String>,
    pub entry_points: Vec<String>,
    pub size_bytes: usize,
    pub sha256: String,
}

/// `MAJOR.MINOR.PATCH`, compared numerically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u64, pub u64, pub u64);

impl Version {
    pub fn parse(text: &str) -> Option<Version> {
        let mut parts = text.split('.');
        let mut next = || -> Option<u64> {
            let part = parts.next()?;
            if part.is_empty() || part.len() > 9 || !part.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            part.parse().ok()
        };
        let version = Version(next()?, next()?, next()?);
        parts.next().is_none().then_some(version)
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

fn error(field: impl Into<String>, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.into(),
    }
}

fn is_slug(text: &str, max: usize) -> bool {
    !text.is_empty()
        && text.len() <= max
        && text.as_bytes()[0].is_ascii_alphanumeric()
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn check_text(errors: &mut Vec<FieldError>, field: &str, value: &str, required: bool, max: usize) {
    let trimmed = value.trim();
    if required && trimmed.is_empty() {
        errors.push(error(field, "is required"));
    } else if trimmed.chars().count() > max {
        errors.push(error(field, format!("at most {max} characters")));
    } else if trimmed.chars().any(char::is_control) {
        errors.push(error(field, "must not contain control characters"));
    }
}

/// The size a package counts against the limit: manifest JSON, providers and script.
pub fn package_size(package: &Package) -> usize {
    serde_json::to_string(&package.manifest).map_or(0, |m| m.len())
        + package.providers.as_ref().map_or(0, String::len)
        + package.script.as_ref().map_or(0, String::len)
}

/// Validates everything in `package` against the catalog it will be merged into.
/// `script_limits` bound the one run that finds the script's entry points.
pub fn check(package: Package, base: &Catalog, script_limits: Limits) -> Result<Checked, Vec<FieldError>> {
    let mut errors = Vec::new();
    let m = &package.manifest;
    if !is_slug(&m.id, 64) {
        errors.push(error(
            "manifest.id",
            "lowercase letters, digits and `-`, starting with a letter or digit, at most 64",
        ));
    }
    check_text(&mut errors, "manifest.name", &m.name, true, 100);
    check_text(&mut errors, "manifest.description", &m.description, true, 2000);
    let version = Version::parse(m.version.trim());
    if version.is_none() {
        errors.push(error("manifest.version", "expected MAJOR.MINOR.PATCH, e.g. 1.0.0"));
    }
    if let Some(category) = &m.category
        && !is_slug(category, 40)
    {
        errors.push(error(
            "manifest.category",
            "lowercase letters, digits and `-`, at most 40",
        ));
    }
    if let Some(author) = &m.author {
        check_text(&mut errors, "manifest.author", author, false, 100);
    }
    if m.config_fields.len() > MAX_CONFIG_FIELDS {
        errors.push(error(
            "manifest.config_fields",
            format!("at most {MAX_CONFIG_FIELDS} fields"),
        ));
    }
    for (i, field) in m.config_fields.iter().enumerate() {
        let at = format!("manifest.config_fields[{i}]");
        let name_ok = !field.name.is_empty()
            && field.name.len() <= 64
            && field.name.as_bytes()[0].is_ascii_lowercase()
            && field
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !name_ok {
            errors.push(error(
                format!("{at}.name"),
                "lowercase letters, digits and `_`, starting with a letter, at most 64",
            ));
        } else if m.config_fields[..i].iter().any(|f| f.name == field.name) {
            errors.push(error(
                format!("{at}.name"),
                format!("`{}` is declared twice", field.name),
            ));
        }
        check_text(&mut errors, &format!("{at}.label"), &field.label, true, 100);
        check_text(&mut errors, &format!("{at}.help"), &field.help, false, 500);
    }
    if package.providers.as_deref().is_none_or(|p| p.trim().is_empty())
        && package.script.as_deref().is_none_or(|s| s.trim().is_empty())
    {
        errors.push(error("providers", "a package needs providers, a script, or both"));
    }

    let mut provider_keys = Vec::new();
    let mut overlay = None;
    if let Some(text) = package.providers.as_deref().filter(|p| !p.trim().is_empty()) {
        match parse_providers(text, "providers") {
            Ok(table) if table.is_empty() => {
                errors.push(error("providers", "defines no [providers.<key>] table"));
            }
            Ok(table) if table.len() > MAX_PROVIDERS => {
                errors.push(error("providers", format!("at most {MAX_PROVIDERS} providers")));
            }
            Ok(table) => match base.extended(&table) {
                Ok(_) => {
                    provider_keys = table.keys().cloned().collect();
                    overlay = Some(table);
                }
                Err(e) => errors.push(catalog_error(e)),
            },
            Err(e) => errors.push(catalog_error(e)),
        }
    }

    let mut entry_points = Vec::new();
    if let Some(script) = package.script.as_deref().filter(|s| !s.trim().is_empty()) {
        match sandbox::entry_points(script_limits, script) {
            Ok(found) if found.is_empty() => errors.push(error(
                "script",
                "defines no entry point: onInbound(event, config), onOutbound(message, config), \
                 handler(webhook) or addHandler(\"transform\", fn)",
            )),
            Ok(found) => entry_points = found,
            Err(e @ ScriptError::Thrown { .. }) => errors.push(error("script", e.to_string())),
            Err(e) => errors.push(error("script", format!("while loading: {e}"))),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let size_bytes = package_size(&package);
    let mut manifest = package.manifest;
    manifest.name = manifest.name.trim().to_owned();
    manifest.description = manifest.description.trim().to_owned();
    manifest.version = manifest.version.trim().to_owned();
    let sha256 = {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        hash.update(serde_json::to_vec(&manifest).unwrap_or_default());
        hash.update([0]);
        hash.update(package.providers.as_deref().unwrap_or("").as_bytes());
        hash.update([0]);
        hash.update(package.script.as_deref().unwrap_or("").as_bytes());
        hex::encode(hash.finalize())
    };
    Ok(Checked {
        version: version.unwrap_or(Version(0, 0, 0)),
        manifest,
        providers: package.providers.filter(|p| !p.trim().is_empty()),
        provider_keys,
        overlay,
        script: package.script.filter(|s| !s.trim().is_empty()),
        entry_points,
        size_bytes,
        sha256,
    })
}

fn catalog_error(e: CatalogError) -> FieldError {
    let message = match e {
        CatalogError::Parse { message, .. } => message,
        CatalogError::Invalid { key, message } => format!("provider `{key}`: {message}"),
        CatalogError::Read { message, .. } => message,
    };
    error("providers", message)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn package(value: serde_json::Value) -> Package {
        serde_json::from_value(value).unwrap()
    }

    fn fields(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|e| e.field.as_str()).collect()
    }

    fn base() -> Catalog {
        Catalog::built_in().unwrap()
    }

    fn manifest() -> serde_json::Value {
        json!({"id": "acme", "name": "Acme", "version": "1.2.3", "description": "Adds Acme."})
    }

    #[test]
    fn a_good_package_passes() {
        let checked = check(
            package(json!({
                "manifest": manifest(),
                "providers": "[providers.acme]\nname = \"Acme\"\ncategory = \"crm\"\nauth_modes = [\"webhook\"]\n",
                "script": "function onInbound(event, config) { return null; }",
            })),
            &base(),
            Limits::default(),
        )
        .unwrap();
        assert_eq!(checked.version, Version(1, 2, 3));
        assert_eq!(checked.provider_keys, vec!["acme"]);
        assert_eq!(checked.entry_points, vec!["onInbound"]);
    }

    #[test]
    fn manifest_errors_name_the_field() {
        let errors = check(
            package(json!({
                "manifest": {"id": "Bad Id", "name": "", "version": "1.0", "description": "d",
                    "config_fields": [{"name": "key", "label": "Key"}, {"name": "key", "label": ""}]},
                "script": "function onOutbound(m) { return m; }",
            })),
            &base(),
            Limits::default(),
        )
        .unwrap_err();
        assert_eq!(
            fields(&errors),
            vec![
                "manifest.id",
                "manifest.name",
                "manifest.version",
                "manifest.config_fields[1].name",
                "manifest.config_fields[1].label"
            ]
        );
    }

    #[test]
    fn providers_and_script_errors_name_the_line() {
        let errors = check(
            package(json!({
                "manifest": manifest(),
                "providers": "[providers.acme]\nname = \"Acme\"\nauth_modes = [webhook]\n",
                "script": "function onInbound() {\n  return {;\n}",
            })),
            &base(),
            Limits::default(),
        )
        .unwrap_err();
        assert_eq!(fields(&errors), vec!["providers", "script"]);
        assert!(errors[0].message.contains("line 3"), "{}", errors[0].message);
        assert!(
            errors[1].message.starts_with("line 2: SyntaxError"),
            "{}",
            errors[1].message
        );
    }

    #[test]
    fn a_provider_the_catalog_rejects_is_named() {
        let errors = check(
            package(json!({
                "manifest": manifest(),
                "providers": "[providers.acme]\nname = \"Acme\"\ncategory = \"crm\"\nauth_modes = []\n",
            })),
            &base(),
            Limits::default(),
        )
        .unwrap_err();
        assert_eq!(errors[0].field, "providers");
        assert!(
            errors[0].message.starts_with("provider `acme`"),
            "{}",
            errors[0].message
        );
    }

    #[test]
    fn a_script_without_entry_points_or_a_package_without_content_is_refused() {
        let errors = check(
            package(json!({"manifest": manifest(), "script": "var x = 1;"})),
            &base(),
            Limits::default(),
        )
        .unwrap_err();
        assert!(errors[0].message.contains("no entry point"));
        let errors = check(package(json!({"manifest": manifest()})), &base(), Limits::default()).unwrap_err();
        assert_eq!(fields(&errors), vec!["providers"]);
    }

    #[test]
    fn versions_compare_numerically() {
        assert!(Version::parse("1.10.0") > Version::parse("1.9.9"));
        assert_eq!(Version::parse("1.0"), None);
        assert_eq!(Version::parse("1.0.0-beta"), None);
        assert_eq!(Version::parse("01.0.0"), Some(Version(1, 0, 0)));
    }
}
