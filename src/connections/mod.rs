//! Connections: a tenant's credentials and settings for one provider.

mod credentials;
pub mod provided_token;
mod repo;
pub mod request;
pub mod routes;
mod service;
mod verify;

use serde::Serialize;

pub use credentials::{Credentials, mask};
pub use repo::{ConnectionRow, find_connection, list_connections, set_status};
pub use service::{
    ConnectionInput, SaveOutcome, SecretsAccess, connection_view, delete_connection, open_credentials, save_connection,
    seal_credentials,
};
pub use verify::{VerifyOutcome, VerifyResult};

use std::sync::Arc;

use crate::catalog::{Catalogs, PlaceholderError};
use crate::error::{ApiError, FieldError};
use crate::net::Agents;
use crate::store::{Store, StoreError};
use crate::vault::{Vault, VaultError};

/// A tenant's connections to providers: credentials, settings and verification against
/// the provider. Cheap to clone.
#[derive(Clone)]
pub struct Connections {
    store: Store,
    vault: Arc<Vault>,
    /// Every tenant's providers (built-ins, providers file, its plugins).
    catalogs: Arc<Catalogs>,
    agents: Agents,
}

impl Connections {
    pub fn new(store: Store, vault: Arc<Vault>, catalogs: Arc<Catalogs>, agents: Agents) -> Connections {
        Connections {
            store,
            vault,
            catalogs,
            agents,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Active,
    Pending,
    NeedsReauth,
    Invalid,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Pending => "pending",
            Status::NeedsReauth => "needs_reauth",
            Status::Invalid => "invalid",
        }
    }

    pub fn parse(value: &str) -> Status {
        match value {
            "active" => Status::Active,
            "needs_reauth" => Status::NeedsReauth,
            "invalid" => Status::Invalid,
            _ => Status::Pending,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    #[error("unknown provider `{0}`")]
    UnknownProvider(String),
    #[error("this tenant has no `{0}` connection")]
    NotFound(String),
    #[error("invalid connection input")]
    Invalid(Vec<FieldError>),
    #[error("{0}")]
    Url(#[from] PlaceholderError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Vault(#[from] VaultError),
}

impl From<ConnectionError> for ApiError {
    fn from(err: ConnectionError) -> Self {
        match err {
            ConnectionError::UnknownProvider(_) | ConnectionError::NotFound(_) => ApiError::not_found(err.to_string()),
            ConnectionError::Invalid(errors) => ApiError::invalid_fields(errors),
            ConnectionError::Url(e) => ApiError::invalid_input(e.to_string()),
            ConnectionError::Store(e) => e.into(),
            ConnectionError::Vault(e) => e.into(),
        }
    }
}
