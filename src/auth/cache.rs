//! In-memory caches of accepted API tokens and resolved tenants, so a hot path (`/token`,
//! the proxy) does not pay two database round trips per request.
//!
//! Correctness rests on invalidation, not on expiry: every change to a token or a tenant
//! goes through this process's handlers, which clear the caches before answering, so a
//! revocation is effective on the next request. The TTL only bounds how long a change
//! made behind the server's back (by hand in the database) can go unseen.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use super::Principal;
use crate::tenants::Tenant;

const TTL: Duration = Duration::from_secs(30);
/// Bounds memory when many distinct tokens are presented.
const MAX_ENTRIES: usize = 10_000;

struct CachedToken {
    principal: Principal,
    expires_at: Option<OffsetDateTime>,
    cached_at: Instant,
}

#[derive(Default)]
pub struct AuthCache {
    /// Bumped by every invalidation. A lookup that started before one must not put
    /// what it read into the cache (it may have read the row before the change).
    generation: AtomicU64,
    /// By SHA-256 hash of the presented token (never the token itself).
    tokens: Mutex<HashMap<String, CachedToken>>,
    /// By the reference used in paths: id or slug.
    tenants: Mutex<HashMap<String, (Tenant, Instant)>>,
}

impl AuthCache {
    /// A cached, still-valid principal for a token hash.
    pub fn principal(&self, token_hash: &str, now: OffsetDateTime) -> Option<Principal> {
        let tokens = self.tokens.lock().ok()?;
        let entry = tokens.get(token_hash)?;
        let fresh = entry.cached_at.elapsed() < TTL && entry.expires_at.is_none_or(|at| now < at);
        fresh.then(|| entry.principal.clone())
    }

    /// Take this before reading from the database; pass it to `remember_*`.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    pub fn remember_principal(
        &self,
        read_at: u64,
        token_hash: String,
        principal: Principal,
        expires_at: Option<OffsetDateTime>,
    ) {
        if let Ok(mut tokens) = self.tokens.lock() {
            if self.generation() != read_at {
                return;
            }
            if tokens.len() >= MAX_ENTRIES {
                tokens.retain(|_, e| e.cached_at.elapsed() < TTL);
                if tokens.len() >= MAX_ENTRIES {
                    tokens.clear();
                }
            }
            tokens.insert(
                token_hash,
                CachedToken {
                    principal,
                    expires_at,
                    cached_at: Instant::now(),
                },
            );
        }
    }

    /// Call after any token is changed, revoked or removed.
    pub fn forget_tokens(&self) {
        if let Ok(mut tokens) = self.tokens.lock() {
            self.generation.fetch_add(1, Ordering::SeqCst);
            tokens.clear();
        }
    }

    pub fn tenant(&self, reference: &str) -> Option<Tenant> {
        let tenants = self.tenants.lock().ok()?;
        let (tenant, at) = tenants.get(reference)?;
        (at.elapsed() < TTL).then(|| tenant.clone())
    }

    pub fn remember_tenant(&self, read_at: u64, reference: &str, tenant: &Tenant) {
        if let Ok(mut tenants) = self.tenants.lock() {
            if self.generation() != read_at {
                return;
            }
            if tenants.len() >= MAX_ENTRIES {
                tenants.clear();
            }
            tenants.insert(reference.to_owned(), (tenant.clone(), Instant::now()));
        }
    }

    /// Call after any tenant is changed or deleted (its tokens go with a deletion).
    pub fn forget_tenants(&self) {
        if let Ok(mut tenants) = self.tenants.lock() {
            self.generation.fetch_add(1, Ordering::SeqCst);
            tenants.clear();
        }
        self.forget_tokens();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal() -> Principal {
        Principal {
            actor: "token:t".into(),
            token_id: Some("t".into()),
            tenant_id: Some("x".into()),
            scopes: Default::default(),
            expires_at: None,
        }
    }

    #[test]
    fn cached_principals_respect_expiry_and_invalidation() {
        let cache = AuthCache::default();
        let now = OffsetDateTime::now_utc();
        let read_at = cache.generation();
        cache.remember_principal(read_at, "h".into(), principal(), Some(now + time::Duration::minutes(1)));
        assert!(cache.principal("h", now).is_some());
        assert!(
            cache.principal("h", now + time::Duration::minutes(2)).is_none(),
            "expired token"
        );
        cache.forget_tokens();
        assert!(cache.principal("h", now).is_none());
        assert!(cache.principal("other", now).is_none());
        // A lookup that began before the invalidation does not repopulate the cache.
        cache.remember_principal(read_at, "h".into(), principal(), None);
        assert!(cache.principal("h", now).is_none());
    }
}
