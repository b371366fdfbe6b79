//! The OAuth broker and token service: platform apps, authorization code + PKCE,
//! token storage and refresh (single flight), client credentials, revocation, and the
//! authenticated proxy.
//!
//! Outside calls are blocking (ureq): every function here that talks to a provider must
//! run on a blocking thread. HTTP handlers live in `routes.rs` and `proxy.rs`.

pub mod apps;
pub mod audit_batch;
pub mod bench;
pub mod client_credentials;
pub mod flow;
pub mod http_client;
pub mod proxy;
pub mod refresher;
pub mod revoke;
pub mod routes;
pub mod service;
pub mod store;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub use service::{TokenGrant, ensure_token};

use crate::connections::ConnectionError;
use crate::error::ApiError;
use crate::store::StoreError;
use crate::vault::{Secret, VaultError};

#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    #[error("unknown provider `{0}`")]
    UnknownProvider(String),
    #[error("this tenant has no `{0}` connection")]
    NotFound(String),
    #[error("{0}")]
    NotSupported(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{field}: {message}")]
    InvalidField { field: String, message: String },
    #[error("no OAuth app for {0}: register the platform app or put client_id and client_secret in the connection")]
    NoApp(String),
    #[error("the authorization state is unknown, expired or already used")]
    InvalidState,
    #[error("the connection needs re-authorization: {0}")]
    NeedsReauth(String),
    #[error("the provider could not be reached or answered badly: {0}")]
    Upstream(String),
    #[error(transparent)]
    Connection(#[from] ConnectionError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Vault(#[from] VaultError),
}

impl From<rusqlite::Error> for OAuthError {
    fn from(e: rusqlite::Error) -> Self {
        OAuthError::Store(e.into())
    }
}

impl From<OAuthError> for ApiError {
    fn from(err: OAuthError) -> Self {
        match err {
            OAuthError::UnknownProvider(_) | OAuthError::NotFound(_) => ApiError::not_found(err.to_string()),
            OAuthError::NotSupported(_) | OAuthError::Invalid(_) | OAuthError::NoApp(_) | OAuthError::InvalidState => {
                ApiError::invalid_input(err.to_string())
            }
            OAuthError::InvalidField { field, message } => ApiError::invalid_field(field, message),
            OAuthError::NeedsReauth(_) => ApiError::conflict(err.to_string()),
            OAuthError::Upstream(_) => ApiError::bad_gateway(err.to_string()),
            OAuthError::Connection(e) => e.into(),
            OAuthError::Store(e) => e.into(),
            OAuthError::Vault(e) => e.into(),
        }
    }
}

/// A token held in memory so hot `/token` reads skip the database and the vault.
#[derive(Clone)]
pub struct CachedToken {
    pub access_token: Secret,
    pub token_type: String,
    pub expires_at: Option<time::OffsetDateTime>,
}

/// In-process OAuth state shared by handlers and the background refresher.
#[derive(Default)]
pub struct TokenBroker {
    /// One lock per connection id: at most one refresh/acquire in flight per connection.
    locks: Mutex<HashMap<String, Arc<Mutex<()>>>>,
    /// Access tokens by connection id.
    cache: Mutex<HashMap<String, CachedToken>>,
    /// Connection id by (tenant id, provider), so a cached read needs no database trip.
    /// A stale entry is harmless: `forget` drops the token it would lead to.
    connection_ids: Mutex<HashMap<(String, String), String>>,
    /// Group-committed audit writes for hot reads, started on first use.
    audit: std::sync::OnceLock<audit_batch::AuditBatcher>,
}

impl TokenBroker {
    /// Records an audit entry through the group-commit writer; returns once committed.
    pub async fn audit(&self, store: &crate::store::Store, entry: crate::audit::AuditEntry) -> Result<(), ApiError> {
        if self.audit.get().is_none() {
            let batcher = audit_batch::AuditBatcher::start(store.clone())
                .map_err(|e| ApiError::internal("cannot start the audit writer", &e))?;
            let _ = self.audit.set(batcher);
        }
        match self.audit.get() {
            Some(batcher) => batcher.record(entry).await,
            None => Err(ApiError::unavailable("the audit writer is not running")),
        }
    }

    pub fn lock_for(&self, connection_id: &str) -> Arc<Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
        locks.entry(connection_id.to_owned()).or_default().clone()
    }

    pub fn cached(&self, connection_id: &str) -> Option<CachedToken> {
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(connection_id)
            .cloned()
    }

    /// The cached token of a tenant's connection to `provider`, if it stays fresh for
    /// `margin` — the hot path of `/token`, answered without the database.
    pub fn cached_fresh(
        &self,
        tenant_id: &str,
        provider: &str,
        margin: std::time::Duration,
        now: time::OffsetDateTime,
    ) -> Option<CachedToken> {
        let id = self
            .connection_ids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(tenant_id.to_owned(), provider.to_owned()))
            .cloned()?;
        let token = self.cached(&id)?;
        let fresh = token.expires_at.is_none_or(|at| at - now > margin);
        fresh.then_some(token)
    }

    pub fn remember_connection(&self, tenant_id: &str, provider: &str, connection_id: &str) {
        self.connection_ids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((tenant_id.to_owned(), provider.to_owned()), connection_id.to_owned());
    }

    pub fn remember(&self, connection_id: &str, token: CachedToken) {
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(connection_id.to_owned(), token);
    }

    pub fn forget(&self, connection_id: &str) {
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(connection_id);
        self.locks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(connection_id);
    }
}

#[cfg(test)]
mod tests;
