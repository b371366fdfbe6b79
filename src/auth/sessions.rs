//! Browser sessions (cookie + CSRF header) for the admin UI.

use axum::http::request::Parts;

use super::principal::Principal;
use crate::app::AppState;
use crate::error::ApiError;

/// The principal of a valid session cookie, when the request carries one.
/// Sessions arrive with the admin UI; until then no request has a session.
pub async fn session_principal(_parts: &Parts, _state: &AppState) -> Result<Option<Principal>, ApiError> {
    Ok(None)
}
