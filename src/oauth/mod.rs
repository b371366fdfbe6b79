//! The OAuth broker and token service: platform apps, authorization code + PKCE,
//! token storage and refresh (single flight), client credentials, revocation, and the
//! authenticated proxy.
//!
//! Outside calls are blocking (ureq): every function here that talks to a provider must
//! run on a blocking thread. HTTP handlers live in `routes.rs` and `proxy.rs`.

pub mod apps;
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

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use service::{TokenGrant, ensure_token};

use crate::catalog::Catalogs;
use crate::config::{Config, PlatformApp};
use crate::connections::{ConnectionError, Connections};
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::net::Agents;
use crate::outbound::Outbound;
use crate::store::writer::{Durability, Writer};
use crate::store::{Store, StoreError};
use crate::time::Clock;
use crate::vault::{Secret, Vault, VaultError};

/// The OAuth domain: token broker, authorization flows, refresher, client credentials,
/// revocation and the proxy. Cheap to clone.
#[derive(Clone)]
pub struct OAuth {
    store: Store,
    /// Hot-read audit entries (`/token`, the proxy) commit through it, relaxed.
    writer: Writer,
    vault: Arc<Vault>,
    /// Every tenant's providers (built-ins, providers file, its plugins).
    catalogs: Arc<Catalogs>,
    agents: Agents,
    clock: Clock,
    broker: Arc<TokenBroker>,
    settings: Arc<OAuthSettings>,
    metrics: Arc<Metrics>,
    /// Woken after outbox rows are written (`connection.*` events).
    outbound: Outbound,
    /// For the daily check of tokens that never expire.
    connections: Connections,
}

/// What the OAuth domain needs from the config.
#[derive(Debug, Clone)]
pub struct OAuthSettings {
    /// `/token` renews first when the token expires within this.
    pub read_margin: Duration,
    /// The refresher renews tokens expiring within this.
    pub refresh_margin: Duration,
    /// How often the refresher looks.
    pub refresh_interval: Duration,
    /// tessera's public base URL: the redirect URI and the default `return_to`.
    pub public_url: String,
    /// Origins besides the public URL's that `return_to` may point at.
    pub allowed_return_origins: Vec<String>,
    /// Platform apps named in the config (apps stored through the API win).
    pub platform_apps: BTreeMap<String, PlatformApp>,
}

impl OAuthSettings {
    pub fn from_config(config: &Config) -> OAuthSettings {
        OAuthSettings {
            read_margin: config.oauth_read_margin,
            refresh_margin: config.oauth_refresh_margin,
            refresh_interval: config.oauth_refresh_interval,
            public_url: config.public_url(),
            allowed_return_origins: config.allowed_return_origins.clone(),
            platform_apps: config.platform_apps.clone(),
        }
    }
}

/// What [`OAuth::new`] is built from.
pub struct OAuthParts {
    pub store: Store,
    pub writer: Writer,
    pub vault: Arc<Vault>,
    pub catalogs: Arc<Catalogs>,
    pub agents: Agents,
    pub clock: Clock,
    pub settings: OAuthSettings,
    pub metrics: Arc<Metrics>,
    pub outbound: Outbound,
    pub connections: Connections,
}

impl OAuth {
    pub fn new(parts: OAuthParts) -> OAuth {
        OAuth {
            store: parts.store,
            writer: parts.writer,
            vault: parts.vault,
            catalogs: parts.catalogs,
            agents: parts.agents,
            clock: parts.clock,
            broker: Arc::default(),
            settings: Arc::new(parts.settings),
            metrics: parts.metrics,
            outbound: parts.outbound,
            connections: parts.connections,
        }
    }

    /// Drops what is held in memory for a connection whose credentials changed.
    pub fn forget_connection(&self, connection_id: &str) {
        self.broker.forget(connection_id);
    }

    /// Drops every connection's tokens held in memory (another node's changes may have
    /// gone unheard).
    pub fn forget_everything(&self) {
        self.broker.forget_everything();
    }

    /// Records the audit entry of a hot read (`/token`, the proxy); returns once it is
    /// committed. Relaxed: it survives a crash of tessera, and a power cut can lose only
    /// the newest moments of read-audit entries — never a credential write, which stays
    /// durable.
    pub async fn audit_read(&self, entry: crate::audit::AuditEntry) -> Result<(), ApiError> {
        let how = Durability::Relaxed.without_savepoint();
        self.writer
            .write_with(how, move |conn| crate::audit::record(conn, &entry))
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "a read-audit entry could not be written");
                ApiError::unavailable("the audit log could not be written; try again")
            })
    }
}

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
    /// A client-credentials token endpoint refused the stored client id / secret.
    #[error("the provider refused the connection's credentials: {0}; correct them and save the connection again")]
    CredentialsRefused(String),
    #[error("the provider could not be reached or answered badly: {0}")]
    Upstream(String),
    #[error(transparent)]
    Connection(#[from] ConnectionError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Vault(#[from] VaultError),
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
            OAuthError::CredentialsRefused(_) => ApiError::new(
                axum::http::StatusCode::CONFLICT,
                "credentials_refused",
                "Credentials refused",
                err.to_string(),
            ),
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
}

impl TokenBroker {
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

    pub fn forget_everything(&self) {
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).clear();
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
