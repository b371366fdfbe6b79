//! Authentication: who a request comes from (a bearer token or a session cookie),
//! resolved once per request and remembered in its extensions. What the caller may do is
//! decided in [`super::access`].

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::principal::Principal;
use super::tokens::Rejection;
use crate::app::AppState;
use crate::error::ApiError;

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
            .get(&crate::api::frame::REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    }
}

/// A request's valid principal. Handlers never extract it: they take the grant the
/// access layer made from it.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub principal: Principal,
    pub ctx: RequestContext,
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
