//! Browser sessions (cookie + CSRF header) for the admin UI.
//!
//! A request without a Bearer token may carry the session cookie. The cookie alone is
//! enough to read; a state-changing method (POST, PUT, PATCH, DELETE) must also send the
//! session's CSRF token in `X-CSRF-Token`, so another site cannot act with the cookie.

use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header::COOKIE};

use super::principal::Principal;
use super::scopes::{Scope, ScopeSet};
use crate::error::ApiError;
use crate::users::sessions::{self, ActiveSession, COOKIE_NAME, Lookup};
use crate::users::{Role, Users};
use crate::vault::constant_time_eq;

pub const CSRF_HEADER: &str = "x-csrf-token";

/// The principal of a valid session cookie, when the request carries one.
pub async fn session_principal(parts: &Parts, users: &Users) -> Result<Option<Principal>, ApiError> {
    let Some(secret) = session_cookie(&parts.headers) else {
        return Ok(None);
    };
    let session = current_session(users, &secret).await?;
    if is_state_changing(&parts.method) {
        check_csrf(&parts.headers, &secret)?;
    }
    Ok(Some(principal_for(&session)))
}

/// What a session may do: platform admins act as the operator; tenant admins hold the
/// `admin` scope on their one tenant.
pub fn principal_for(session: &ActiveSession) -> Principal {
    let user = &session.user;
    let (tenant_id, scopes) = match user.role {
        Role::PlatformAdmin => (None, ScopeSet::new()),
        Role::TenantAdmin => (user.tenant_id.clone(), ScopeSet::from([Scope::Admin])),
    };
    Principal {
        actor: format!("user:{}", user.id),
        token_id: None,
        tenant_id,
        scopes,
        expires_at: None,
    }
}

/// The valid session for a cookie value; 401 when it is unknown, expired or signed out.
pub async fn current_session(users: &Users, secret: &str) -> Result<ActiveSession, ApiError> {
    match users.lookup_session(secret).await? {
        Lookup::Valid(session) => Ok(*session),
        Lookup::Expired => Err(ApiError::unauthorized("your session has expired; sign in again")),
        Lookup::Unknown => Err(ApiError::unauthorized("you are signed out; sign in again")),
    }
}

fn is_state_changing(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

pub fn check_csrf(headers: &HeaderMap, secret: &str) -> Result<(), ApiError> {
    let expected = sessions::csrf_token(secret);
    match headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()) {
        Some(sent) if constant_time_eq(sent.trim().as_bytes(), expected.as_bytes()) => Ok(()),
        Some(_) => Err(ApiError::forbidden(
            "the X-CSRF-Token header does not match this session",
        )),
        None => Err(ApiError::forbidden(
            "this request needs the X-CSRF-Token header from GET /api/v1/session",
        )),
    }
}

/// The session cookie's value, if the request has one.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    cookie_value(headers, COOKIE_NAME)
}

/// The value of the cookie `cookie_name`, when the request carries a non-empty one.
pub fn cookie_value(headers: &HeaderMap, cookie_name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == cookie_name && !value.is_empty())
        .map(|(_, value)| value.trim_matches('"').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn finds_the_session_cookie_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::from_static("a=1; tessera_session=tss_abc; b=2"));
        assert_eq!(session_cookie(&headers).as_deref(), Some("tss_abc"));
        headers.insert(COOKIE, HeaderValue::from_static("tessera_session_x=1"));
        assert_eq!(session_cookie(&headers), None);
    }

    #[test]
    fn csrf_needs_the_matching_header() {
        let secret = "tss_secret";
        let mut headers = HeaderMap::new();
        assert!(check_csrf(&headers, secret).is_err());
        headers.insert(CSRF_HEADER, HeaderValue::from_static("nope"));
        assert!(check_csrf(&headers, secret).is_err());
        let good = sessions::csrf_token(secret);
        headers.insert(CSRF_HEADER, HeaderValue::from_str(&good).expect("header"));
        assert!(check_csrf(&headers, secret).is_ok());
    }
}
