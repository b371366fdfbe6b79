//! Tenants: the brands tessera serves. Each owns a data key, connections, tokens, events.

mod repo;
pub mod routes;
mod service;

use serde::Serialize;

pub use repo::{delete_tenant, find_tenant, insert_tenant, list_tenants, update_tenant};
pub use service::Tenants;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Free,
    Pro,
    Enterprise,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Free => "free",
            Tier::Pro => "pro",
            Tier::Enterprise => "enterprise",
        }
    }

    pub fn parse(value: &str) -> Option<Tier> {
        match value {
            "free" => Some(Tier::Free),
            "pro" => Some(Tier::Pro),
            "enterprise" => Some(Tier::Enterprise),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Tenant {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub tier: Tier,
    pub notification_emails: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    #[error("a tenant with slug `{0}` already exists")]
    SlugTaken(String),
    #[error("no such tenant")]
    NotFound,
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Vault(#[from] crate::vault::VaultError),
}

impl From<TenantError> for crate::error::ApiError {
    fn from(err: TenantError) -> Self {
        use crate::error::ApiError;
        match err {
            TenantError::Invalid { field, message } => ApiError::invalid_field(field, message),
            TenantError::SlugTaken(_) => ApiError::conflict(err.to_string()),
            TenantError::NotFound => ApiError::not_found("no such tenant"),
            TenantError::Store(e) => e.into(),
            TenantError::Vault(e) => e.into(),
        }
    }
}

/// A slug: lowercase letters, digits and single dashes, 1–63 characters.
pub fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.trim().chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-');
    slug.chars()
        .take(63)
        .collect::<String>()
        .trim_end_matches('-')
        .to_owned()
}

pub fn validate_slug(slug: &str) -> Result<(), TenantError> {
    let ok = !slug.is_empty()
        && slug.len() <= 63
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !slug.starts_with('-')
        && !slug.ends_with('-')
        && !crate::ids::looks_like_id(slug);
    if ok {
        Ok(())
    } else {
        Err(TenantError::Invalid {
            field: "slug",
            message: "use 1–63 lowercase letters, digits and dashes".into(),
        })
    }
}

pub fn validate_name(name: &str) -> Result<String, TenantError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(TenantError::Invalid {
            field: "name",
            message: "must be 1–200 characters".into(),
        });
    }
    Ok(name.to_owned())
}

pub fn validate_emails(emails: &[String]) -> Result<Vec<String>, TenantError> {
    emails
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let e = e.trim();
            let valid = e.len() <= 254
                && e.split_once('@')
                    .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.') && !e.contains(' '));
            if valid {
                Ok(e.to_owned())
            } else {
                Err(TenantError::Invalid {
                    field: "notification_emails",
                    message: format!("entry {i} is not an email address"),
                })
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_from_names() {
        assert_eq!(slugify("Acme Brand, Inc."), "acme-brand-inc");
        assert_eq!(slugify("  --Hello  World!!-- "), "hello-world");
        assert!(validate_slug("acme-1").is_ok());
        assert!(validate_slug("Acme").is_err());
        assert!(validate_slug("-a").is_err());
        assert!(validate_slug("0190f0f0-0000-7000-8000-000000000000").is_err());
    }
}
