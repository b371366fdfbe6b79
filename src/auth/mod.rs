//! Who may do what: API tokens, scopes, principals, the access layer that checks them
//! for every route, and the scope values repositories take.

mod access;
pub mod cache;
mod extract;
mod principal;
pub mod routes;
mod scope;
mod scopes;
pub mod sessions;
pub mod tokens;

pub use access::{Caller, PlatformAccess, TenantAccess, admit};
pub use extract::{Authenticated, RequestContext, authenticate_parts, request_context};
pub use principal::Principal;
pub use scope::{PlatformScope, Reach, TenantScope};
pub use scopes::{Scope, ScopeSet, parse_scopes};

use std::sync::Arc;

use crate::store::{Store, StoreError};
use crate::tenants::{Tenant, find_tenant};
use crate::time::Clock;
use cache::AuthCache;
use tokens::Rejection;

/// Who is calling: API tokens and the tenants their paths name, with the in-memory cache
/// every token or tenant change clears. Cheap to clone.
#[derive(Clone)]
pub struct Auth {
    store: Store,
    cache: Arc<AuthCache>,
    /// Whether accepted tokens are served from memory. Not on PostgreSQL: a token revoked
    /// at another node must fail here on the very next request, and the announcement of
    /// the change (which clears the other caches) arrives a moment after the commit.
    cache_tokens: bool,
    /// Token expiry is judged by this clock.
    clock: Clock,
}

impl Auth {
    pub fn new(store: Store, clock: Clock) -> Auth {
        Auth {
            cache_tokens: store.dialect() == crate::store::sql::Dialect::Sqlite,
            store,
            cache: Arc::default(),
            clock,
        }
    }

    /// The principal of a presented bearer token, from the cache or the database.
    pub async fn principal_for_token(&self, token: String) -> Result<Result<Principal, Rejection>, StoreError> {
        let hash = crate::vault::hash_token(&token);
        let now = self.clock.now();
        if !self.cache_tokens {
            return self
                .store
                .read_async(move |conn| tokens::authenticate(conn, &token, now))
                .await
                .map(|result| result.map(|accepted| accepted.principal));
        }
        if let Some(principal) = self.cache.principal(&hash, now) {
            return Ok(Ok(principal));
        }
        let read_at = self.cache.generation();
        let result = self
            .store
            .read_async(move |conn| tokens::authenticate(conn, &token, now))
            .await?;
        Ok(result.map(|accepted| {
            self.cache
                .remember_principal(read_at, hash, accepted.principal.clone(), accepted.expires_at);
            accepted.principal
        }))
    }

    /// A tenant by id or slug if the cache holds it: no database trip either way.
    pub fn cached_tenant(&self, reference: &str) -> Option<Tenant> {
        self.cache.tenant(reference)
    }

    /// A tenant by id or slug, from the cache or the database.
    pub async fn tenant(&self, reference: &str) -> Result<Option<Tenant>, StoreError> {
        if let Some(tenant) = self.cache.tenant(reference) {
            return Ok(Some(tenant));
        }
        let read_at = self.cache.generation();
        let key = reference.to_owned();
        let found = self.store.read_async(move |conn| find_tenant(conn, &key)).await?;
        if let Some(tenant) = &found {
            self.cache.remember_tenant(read_at, reference, tenant);
        }
        Ok(found)
    }

    /// Call after any token is changed, revoked or removed.
    pub fn forget_tokens(&self) {
        self.cache.forget_tokens();
    }

    /// Call after any tenant is changed or deleted.
    pub fn forget_tenants(&self) {
        self.cache.forget_tenants();
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }
}
