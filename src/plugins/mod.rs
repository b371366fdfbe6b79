//! Plugins: packages the operator publishes to a marketplace (a manifest with a
//! configuration schema, provider definitions in the catalog's format, a JavaScript
//! transformation) and tenants install with a configuration.
//!
//! - [`manifest`]: the package format and its validation;
//! - [`repo`]: plugins, their versions and installations in SQL;
//! - [`configuration`]: an installation's settings, sealed and masked;
//! - [`sandbox`]: the QuickJS runtime scripts run in;
//! - [`transform`]: the entry points (tessera's, Svix's, Hookdeck's) and their results;
//! - [`service`]: the rules (publish, upgrade, install, limits, catalog overlays);
//! - [`runtime`]: which script runs for a tenant's delivery or endpoint, and running it;
//! - [`routes`]: the HTTP handlers; [`builtin`]: the packages shipped in the binary.

pub mod builtin;
pub mod configuration;
pub mod manifest;
pub mod repo;
pub mod routes;
pub mod runtime;
pub mod sandbox;
pub mod service;
pub mod transform;

use std::time::Duration;

pub use runtime::Runnable;
pub use service::{Plugins, PluginsParts};

use crate::error::{ApiError, FieldError};
use crate::store::StoreError;
use crate::vault::VaultError;

/// The operator's limits (settings `plugin_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PluginLimits {
    /// Largest package (manifest JSON + providers + script), bytes.
    pub max_package_bytes: usize,
    /// Installed plugins per tenant at most.
    pub max_installs_per_tenant: u64,
    /// Time and memory of one script call.
    pub script: sandbox::Limits,
}

impl Default for PluginLimits {
    fn default() -> Self {
        PluginLimits {
            max_package_bytes: 512 * 1024,
            max_installs_per_tenant: 100,
            script: sandbox::Limits::default(),
        }
    }
}

impl PluginLimits {
    pub fn from_config(config: &crate::config::Config) -> PluginLimits {
        PluginLimits {
            max_package_bytes: config.plugin_max_size_bytes,
            max_installs_per_tenant: config.plugin_max_installs_per_tenant,
            script: sandbox::Limits {
                time: config.plugin_execution_timeout,
                memory_bytes: config.plugin_memory_limit_bytes,
            },
        }
    }
}

/// The longest per-call time limit the operator may set (the guide's 30 s).
pub const MAX_EXECUTION_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error("no plugin `{0}` in the marketplace")]
    NotFound(String),
    #[error("plugin `{0}` is not installed for this tenant")]
    NotInstalled(String),
    #[error("invalid plugin input")]
    Invalid(Vec<FieldError>),
    #[error("the package is {size} bytes; the limit is {limit} bytes (plugin_max_size_bytes)")]
    TooLarge { size: usize, limit: usize },
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Vault(#[from] VaultError),
}

impl PluginError {
    fn field(field: &str, message: impl Into<String>) -> PluginError {
        PluginError::Invalid(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }
}

impl From<PluginError> for ApiError {
    fn from(err: PluginError) -> Self {
        match err {
            PluginError::NotFound(_) | PluginError::NotInstalled(_) => ApiError::not_found(err.to_string()),
            PluginError::Invalid(errors) => ApiError::invalid_fields(errors),
            PluginError::TooLarge { .. } => ApiError::payload_too_large(err.to_string()),
            PluginError::Conflict(detail) => ApiError::conflict(detail),
            PluginError::Store(e) => e.into(),
            PluginError::Vault(e) => e.into(),
        }
    }
}
