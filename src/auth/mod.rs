//! Who may do what: API tokens, scopes, principals and the extractors that check them.

pub mod cache;
mod extract;
mod principal;
pub mod routes;
mod scopes;
pub mod sessions;
pub mod tokens;

pub use extract::{
    Authenticated, HoldsScope, PlatformAdmin, RequestContext, TenantAccess, authenticate_parts, request_context,
    resolve_tenant,
};
pub use principal::Principal;
pub use scopes::{RequiredScope, Scope, ScopeSet, need, parse_scopes};
