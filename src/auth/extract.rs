//! Authorization as request extractors: a handler's signature states what it needs.
//!
//! - [`Authenticated`]: any valid principal.
//! - [`PlatformAdmin`]: the operator (platform token or platform-admin session).
//! - [`TenantAccess<need::X>`]: the `{tenant}` path segment resolved to a tenant the
//!   principal may act on, holding scope X. A tenant principal naming another tenant gets
//!   403 `tenant_mismatch`; a platform principal naming no tenant gets 404.

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use std::marker::PhantomData;

use super::principal::Principal;
use super::scopes::RequiredScope;
use super::tokens::Rejection;
use crate::app::AppState;
use crate::audit::AuditEntry;
use crate::error::ApiError;
use crate::tenants::Tenant;

/// Where a request came from, for the audit log.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    pub ip: Option<String>,
    pub request_id: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for RequestContext {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(request_context(parts))
    }
}

pub fn request_context(parts: &Parts) -> RequestContext {
    RequestContext {
        ip: crate::net::client_addr::client_addr_of(&parts.extensions).map(|addr| addr.to_string()),
        request_id: parts
            .headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    }
}

#[derive(Debug, Clone)]
pub struct Authenticated {
    pub principal: Principal,
    pub ctx: RequestContext,
}

impl Authenticated {
    pub fn audit(&self, tenant_id: Option<&str>, action: &str, target: Option<&str>) -> AuditEntry {
        AuditEntry::new(tenant_id, &self.principal.actor, action, target, &self.ctx)
    }
}

/// Extracts the bearer token from an `Authorization` header, if one is present.
fn bearer(parts: &Parts) -> Result<Option<String>, ApiError> {
    let Some(value) = parts.headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| ApiError::unauthorized("malformed Authorization header"))?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or_else(|| ApiError::unauthorized("expected `Authorization: Bearer tsr_…`"))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::unauthorized("expected `Authorization: Bearer tsr_…`"));
    }
    Ok(Some(token.trim().to_owned()))
}

/// Resolves the caller once per request; later extractors reuse the result.
pub async fn authenticate_parts(parts: &mut Parts, state: &AppState) -> Result<Authenticated, ApiError> {
    if let Some(done) = parts.extensions.get::<Authenticated>() {
        return Ok(done.clone());
    }
    // A refusal is remembered too: resolving again could give another answer (an expired
    // session is removed when first seen) and would cost another lookup.
    if let Some(AuthFailure(refusal)) = parts.extensions.get::<AuthFailure>() {
        return Err(refusal.clone());
    }
    let outcome = resolve_principal(parts, state).await;
    match &outcome {
        Ok(auth) => {
            parts.extensions.insert(auth.clone());
        }
        Err(refusal) => {
            parts.extensions.insert(AuthFailure(refusal.clone()));
        }
    }
    outcome
}

#[derive(Clone)]
struct AuthFailure(ApiError);

async fn resolve_principal(parts: &mut Parts, state: &AppState) -> Result<Authenticated, ApiError> {
    let ctx = request_context(parts);
    let principal = match bearer(parts)? {
        Some(token) => match state.auth.principal_for_token(token).await? {
            Ok(principal) => principal,
            Err(Rejection::Unknown) => return Err(ApiError::unauthorized("unknown API token")),
            Err(Rejection::Revoked) => {
                return Err(ApiError::unauthorized("this API token has been revoked"));
            }
            Err(Rejection::Inactive) => {
                return Err(ApiError::unauthorized("this API token is deactivated"));
            }
            Err(Rejection::Expired) => {
                return Err(ApiError::unauthorized("this API token has expired"));
            }
        },
        None => match super::sessions::session_principal(parts, &state.users).await? {
            Some(principal) => principal,
            None => {
                return Err(ApiError::unauthorized(
                    "authentication required: send `Authorization: Bearer tsr_…`",
                ));
            }
        },
    };
    Ok(Authenticated { principal, ctx })
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        authenticate_parts(parts, state).await
    }
}

/// The operator: a platform token (or platform-admin session).
#[derive(Debug, Clone)]
pub struct PlatformAdmin(pub Authenticated);

impl FromRequestParts<AppState> for PlatformAdmin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let auth = authenticate_parts(parts, state).await?;
        if !auth.principal.is_platform() {
            return Err(ApiError::forbidden("this needs a platform token"));
        }
        Ok(PlatformAdmin(auth))
    }
}

/// A tenant named in the path that the caller may act on with scope `S`.
#[derive(Debug)]
pub struct TenantAccess<S> {
    pub principal: Principal,
    pub tenant: Tenant,
    pub ctx: RequestContext,
    _scope: PhantomData<S>,
}

impl<S> TenantAccess<S> {
    pub fn audit(&self, action: &str, target: Option<&str>) -> AuditEntry {
        AuditEntry::new(Some(&self.tenant.id), &self.principal.actor, action, target, &self.ctx)
    }
}

/// Resolves the `{tenant}` path segment for an authenticated principal.
pub async fn resolve_tenant(auth: &super::Auth, principal: &Principal, reference: String) -> Result<Tenant, ApiError> {
    let found = auth.tenant(&reference).await?;
    match (found, principal.tenant_id.as_deref()) {
        (Some(tenant), None) => Ok(tenant),
        (None, None) => Err(ApiError::not_found("no such tenant")),
        (Some(tenant), Some(own)) if tenant.id == own => Ok(tenant),
        (_, Some(_)) => Err(ApiError::tenant_mismatch()),
    }
}

impl<S: RequiredScope> FromRequestParts<AppState> for TenantAccess<S> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let auth = authenticate_parts(parts, state).await?;
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::not_found("no tenant in path"))?;
        let reference = params
            .iter()
            .find(|(name, _)| *name == "tenant")
            .map(|(_, value)| value.to_owned())
            .ok_or_else(|| ApiError::not_found("no tenant in path"))?;
        let tenant = resolve_tenant(&state.auth, &auth.principal, reference).await?;
        if !auth.principal.has(S::SCOPE) {
            return Err(ApiError::forbidden(format!(
                "this token lacks the `{}` scope",
                S::SCOPE.as_str()
            )));
        }
        Ok(TenantAccess {
            principal: auth.principal,
            tenant,
            ctx: auth.ctx,
            _scope: PhantomData,
        })
    }
}

/// Any principal holding scope `S` (platform principals hold every scope), for routes
/// outside any tenant that tenants may use too.
#[derive(Debug)]
pub struct HoldsScope<S> {
    pub auth: Authenticated,
    _scope: PhantomData<S>,
}

impl<S: RequiredScope> FromRequestParts<AppState> for HoldsScope<S> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let auth = authenticate_parts(parts, state).await?;
        if !auth.principal.has(S::SCOPE) {
            return Err(ApiError::forbidden(format!(
                "this token lacks the `{}` scope",
                S::SCOPE.as_str()
            )));
        }
        Ok(HoldsScope {
            auth,
            _scope: PhantomData,
        })
    }
}
