//! Which rows a piece of work may touch, as values.
//!
//! A [`TenantScope`] names the one tenant whose rows a request or a job reads and
//! writes; repository functions over tenant-owned rows take one instead of a tenant id,
//! so an unscoped read cannot be written by accident. A [`PlatformScope`] stands for
//! "every tenant": only the operator's requests and the server's own background work
//! hold one, and a query over all tenants asks for it by type, never by a missing id.
//!
//! Neither has a public constructor without a name that says where it comes from: the
//! access layer mints them for requests (`granted*`, visible only inside `auth`); work
//! that acts for a tenant outside a request mints its scope where it resolved the tenant
//! (`for_job`, `from_webhook_url`, `for_cli`, `PlatformScope::narrow_to`). So
//! `grep -rn "Scope::" src` lists every place one is made.

use std::fmt;
use std::sync::Arc;

use crate::tenants::Tenant;

/// The one tenant a request or a job acts on. Cheap to clone.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TenantScope {
    id: Arc<str>,
}

impl TenantScope {
    fn new(id: &str) -> TenantScope {
        TenantScope { id: Arc::from(id) }
    }

    /// The access layer: the `{tenant}` of a request's path, resolved and allowed.
    pub(super) fn granted(tenant: &Tenant) -> TenantScope {
        TenantScope::new(&tenant.id)
    }

    /// The access layer: a tenant principal's own tenant on a route outside any tenant.
    pub(super) fn granted_own(tenant_id: &str) -> TenantScope {
        TenantScope::new(tenant_id)
    }

    /// A job acts for the tenant it was queued for (jobs of no tenant get none).
    pub fn for_job(job: &crate::jobs::Job) -> Option<TenantScope> {
        job.tenant_id.as_deref().map(TenantScope::new)
    }

    /// The webhook receiver, after resolving the tenant its URL names.
    pub fn from_webhook_url(tenant: &Tenant) -> TenantScope {
        TenantScope::new(&tenant.id)
    }

    /// A command-line tool, after resolving the tenant its arguments name.
    pub fn for_cli(tenant: &Tenant) -> TenantScope {
        TenantScope::new(&tenant.id)
    }

    /// The tenant's id, for the SQL that filters by it.
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl fmt::Debug for TenantScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TenantScope({})", self.id)
    }
}

/// Every tenant: the operator's requests and the server's own work (workers, sweeps,
/// the command line). Holding one is what lets a query read across tenants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlatformScope {
    _private: (),
}

impl PlatformScope {
    /// The access layer: a platform principal.
    pub(super) fn granted() -> PlatformScope {
        PlatformScope { _private: () }
    }

    /// The server's own work that spans tenants (background workers, sweeps, the
    /// operator's command-line tools), never on behalf of a request.
    pub fn for_server_work() -> PlatformScope {
        PlatformScope { _private: () }
    }

    /// The platform acting on one tenant it found (a row of a sweep, a named tenant).
    pub fn narrow_to(&self, tenant_id: &str) -> TenantScope {
        TenantScope::new(tenant_id)
    }
}

/// What a principal on a route outside any tenant may read: its own tenant, or all.
#[derive(Debug, Clone)]
pub enum Reach {
    Platform(PlatformScope),
    Tenant(TenantScope),
}

impl Reach {
    pub fn tenant(&self) -> Option<&TenantScope> {
        match self {
            Reach::Platform(_) => None,
            Reach::Tenant(scope) => Some(scope),
        }
    }

    /// The tenant id a query filters by, or `None` for every tenant — which only a
    /// [`PlatformScope`] can ask for. For binding into SQL (`?1 IS NULL OR tenant_id = ?1`).
    pub fn tenant_filter(&self) -> Option<&str> {
        self.tenant().map(TenantScope::id)
    }
}

impl From<PlatformScope> for Reach {
    fn from(scope: PlatformScope) -> Reach {
        Reach::Platform(scope)
    }
}

impl From<TenantScope> for Reach {
    fn from(scope: TenantScope) -> Reach {
        Reach::Tenant(scope)
    }
}
