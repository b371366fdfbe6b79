//! The one place access is decided. The router hands every non-public route's request
//! to [`admit`] with the route table's [`Access`] value before the handler runs; what it
//! grants goes into the request's extensions, and handlers extract exactly that grant:
//!
//! | table says            | handler extracts   | what was checked                          |
//! |-----------------------|--------------------|-------------------------------------------|
//! | `Authenticated`       | [`Caller`]         | a valid token or session                  |
//! | `Scoped(scope)`       | [`Caller`]         | … holding `scope` (platform holds all)    |
//! | `Platform`            | [`PlatformAccess`] | the operator (and `{tenant}`, if named)   |
//! | `Tenant(scope)`       | [`TenantAccess`]   | `{tenant}` resolved, allowed, `scope` held |
//! | `PlatformUnlessMetricsPublic` | nothing    | the operator, unless `metrics_public`      |
//!
//! A handler asking for a grant its row does not give gets a 500 (and the route matrix
//! test, which calls every route with the right principal, fails), so the table is the
//! only place a route's access is written.
//!
//! Order of refusals: 401 without a valid principal; 403 `tenant_mismatch` when a tenant
//! principal names another tenant (or none that exists); 404 when a platform principal
//! names no tenant; 403 when the scope or the platform role is missing.

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;

use super::extract::{Authenticated, RequestContext, authenticate_parts};
use super::principal::Principal;
use super::scope::{PlatformScope, Reach, TenantScope};
use crate::api::Access;
use crate::app::AppState;
use crate::audit::AuditEntry;
use crate::error::{ApiError, ApiResult};
use crate::tenants::Tenant;

/// What [`admit`] granted, kept in the request's extensions until the handler takes it.
#[derive(Debug, Clone)]
enum Grant {
    Caller(Caller),
    Platform(PlatformAccess),
    Tenant(TenantAccess),
}

/// Checks a request against its route's access value and records the grant.
pub async fn admit(access: Access, parts: &mut Parts, state: &AppState) -> ApiResult<()> {
    let grant = match access {
        Access::Public => return Ok(()),
        Access::PlatformUnlessMetricsPublic if state.config.metrics_public => return Ok(()),
        Access::PlatformUnlessMetricsPublic => {
            let auth = authenticate_parts(parts, state).await?;
            if !auth.principal.is_platform() {
                return Err(ApiError::forbidden(
                    "metrics need a platform token (or set metrics_public)",
                ));
            }
            return Ok(());
        }
        Access::Authenticated => Grant::Caller(Caller::of(authenticate_parts(parts, state).await?)),
        Access::Scoped(scope) => {
            let auth = authenticate_parts(parts, state).await?;
            if !auth.principal.has(scope) {
                return Err(lacks(scope));
            }
            Grant::Caller(Caller::of(auth))
        }
        Access::Platform => {
            let auth = authenticate_parts(parts, state).await?;
            if !auth.principal.is_platform() {
                return Err(ApiError::forbidden("this needs a platform token"));
            }
            let tenant = match tenant_in_path(parts).await {
                Some(reference) => Some(resolve_tenant(state, &auth.principal, &reference).await?),
                None => None,
            };
            Grant::Platform(PlatformAccess {
                principal: auth.principal,
                ctx: auth.ctx,
                scope: PlatformScope::granted(),
                tenant: tenant.map(|tenant| (TenantScope::granted(&tenant), tenant)),
            })
        }
        Access::Tenant(scope) => {
            let auth = authenticate_parts(parts, state).await?;
            let reference = tenant_in_path(parts)
                .await
                .ok_or_else(|| ApiError::not_found("no tenant in path"))?;
            let tenant = resolve_tenant(state, &auth.principal, &reference).await?;
            if !auth.principal.has(scope) {
                return Err(lacks(scope));
            }
            Grant::Tenant(TenantAccess {
                principal: auth.principal,
                scope: TenantScope::granted(&tenant),
                tenant,
                ctx: auth.ctx,
            })
        }
    };
    parts.extensions.insert(grant);
    Ok(())
}

fn lacks(scope: super::Scope) -> ApiError {
    ApiError::forbidden(format!("this token lacks the `{}` scope", scope.as_str()))
}

/// The `{tenant}` segment of the matched route, as sent (an id or a slug).
async fn tenant_in_path(parts: &mut Parts) -> Option<String> {
    let params = RawPathParams::from_request_parts(parts, &()).await.ok()?;
    params
        .iter()
        .find(|(name, _)| *name == "tenant")
        .map(|(_, value)| value.to_owned())
}

/// Resolves a tenant reference (id or slug) for `principal`: a tenant principal may name
/// only its own tenant (403 `tenant_mismatch` otherwise, even for one that does not
/// exist: it learns nothing about other tenants); the platform any that exists (404).
async fn resolve_tenant(state: &AppState, principal: &Principal, reference: &str) -> ApiResult<Tenant> {
    let found = state.auth.tenant(reference).await?;
    match (found, principal.tenant_id.as_deref()) {
        (Some(tenant), None) => Ok(tenant),
        (None, None) => Err(ApiError::not_found("no such tenant")),
        (Some(tenant), Some(own)) if tenant.id == own => Ok(tenant),
        (_, Some(_)) => Err(ApiError::tenant_mismatch()),
    }
}

fn take_grant(parts: &mut Parts) -> ApiResult<Grant> {
    parts
        .extensions
        .remove::<Grant>()
        .ok_or_else(|| ApiError::internal("route access", &"the route table grants this handler nothing"))
}

fn mismatch(wanted: &str, grant: &Grant) -> ApiError {
    ApiError::internal(
        "route access",
        &format!("the handler asks for {wanted} but its row in the route table grants {grant:?}"),
    )
}

/// A valid principal on a route outside any tenant (`Authenticated`, `Scoped`), with what
/// it may read there: its own tenant, or every tenant for the operator.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub ctx: RequestContext,
    pub reach: Reach,
}

impl Caller {
    fn of(auth: Authenticated) -> Caller {
        let reach = match auth.principal.tenant_id.as_deref() {
            None => Reach::Platform(PlatformScope::granted()),
            Some(own) => Reach::Tenant(TenantScope::granted_own(own)),
        };
        Caller {
            principal: auth.principal,
            ctx: auth.ctx,
            reach,
        }
    }

    /// A tenant this caller names outside the path (a query parameter), with the same
    /// rules as `{tenant}`.
    pub async fn tenant_named(&self, state: &AppState, reference: &str) -> ApiResult<(TenantScope, Tenant)> {
        let tenant = resolve_tenant(state, &self.principal, reference).await?;
        Ok((TenantScope::granted(&tenant), tenant))
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        match take_grant(parts)? {
            Grant::Caller(caller) => Ok(caller),
            other => Err(mismatch("a caller", &other)),
        }
    }
}

/// The operator, on a `Platform` route; `tenant` is the `{tenant}` of its path, if any.
#[derive(Debug, Clone)]
pub struct PlatformAccess {
    pub principal: Principal,
    pub ctx: RequestContext,
    pub scope: PlatformScope,
    pub tenant: Option<(TenantScope, Tenant)>,
}

impl PlatformAccess {
    /// An audit entry by the operator; `tenant_id` names the tenant acted on, if any.
    pub fn audit(&self, tenant_id: Option<&str>, action: &str, target: Option<&str>) -> AuditEntry {
        AuditEntry::new(tenant_id, &self.principal.actor, action, target, &self.ctx)
    }
}

impl FromRequestParts<AppState> for PlatformAccess {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        match take_grant(parts)? {
            Grant::Platform(platform) => Ok(platform),
            other => Err(mismatch("the platform", &other)),
        }
    }
}

/// The `{tenant}` of a `Tenant(scope)` route, resolved to a tenant the principal may act
/// on, holding the scope; `scope` is what its repositories take.
#[derive(Debug, Clone)]
pub struct TenantAccess {
    pub principal: Principal,
    pub tenant: Tenant,
    pub scope: TenantScope,
    pub ctx: RequestContext,
}

impl TenantAccess {
    pub fn audit(&self, action: &str, target: Option<&str>) -> AuditEntry {
        AuditEntry::new(Some(&self.tenant.id), &self.principal.actor, action, target, &self.ctx)
    }
}

impl FromRequestParts<AppState> for TenantAccess {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        match take_grant(parts)? {
            Grant::Tenant(tenant) => Ok(tenant),
            other => Err(mismatch("a tenant", &other)),
        }
    }
}
