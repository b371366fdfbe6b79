//! `POST/GET/DELETE /api/v1/session`: sign in, who am I (+ CSRF token), sign out.

use axum::Json;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::User;
use super::limiter::{DEVICE_COOKIE, DEVICE_LIFETIME};
use super::sessions::{self as repo, ActiveSession, COOKIE_NAME};
use super::signin::{Attempt, SignIn};
use crate::api::extract::ApiJson;
use crate::app::AppState;
use crate::auth::RequestContext;
use crate::auth::sessions::{check_csrf, cookie_value, current_session, session_cookie};
use crate::error::{ApiError, ApiResult};
use crate::net::ClientAddr;
use crate::tenants::find_tenant;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    email: String,
    password: String,
}

pub async fn create_session(
    State(state): State<AppState>,
    ctx: RequestContext,
    client: ClientAddr,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Login>,
) -> ApiResult<Response> {
    let email = body.email.trim().to_ascii_lowercase();
    if email.is_empty() {
        return Err(ApiError::invalid_field("email", "is required"));
    }
    if body.password.is_empty() {
        return Err(ApiError::invalid_field("password", "is required"));
    }
    let attempt = Attempt {
        address: client.budget_key(),
        device: cookie_value(&headers, DEVICE_COOKIE),
    };
    let outcome = state
        .users
        .sign_in(email, Zeroizing::new(body.password), attempt, ctx)
        .await?;
    match outcome {
        SignIn::Limited(wait) => Err(ApiError::rate_limited(wait)),
        SignIn::Refused => Err(ApiError::unauthorized("wrong email or password")),
        SignIn::SignedIn(session, secret, device) => {
            let body = session_view(&state, &session, &secret).await?;
            let cookie = session_cookie_header(&state, &secret, state.config.session_absolute_timeout.as_secs());
            let mut response = (StatusCode::CREATED, Json(body)).into_response();
            response.headers_mut().insert(SET_COOKIE, cookie);
            response
                .headers_mut()
                .append(SET_COOKIE, device_cookie_header(&state, device.expose()));
            Ok(response)
        }
    }
}

pub async fn get_session(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    let secret = session_cookie(&headers).ok_or_else(|| ApiError::unauthorized("you are not signed in"))?;
    let session = current_session(&state.users, &secret).await?;
    Ok(Json(session_view(&state, &session, &secret).await?))
}

/// Signs out. Idempotent: without a live session it only clears the cookie.
pub async fn delete_session(
    State(state): State<AppState>,
    ctx: RequestContext,
    headers: HeaderMap,
) -> ApiResult<Response> {
    if let Some(secret) = session_cookie(&headers)
        && let Ok(session) = current_session(&state.users, &secret).await
    {
        check_csrf(&headers, &secret)?;
        state.users.sign_out(secret, session, ctx).await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(SET_COOKIE, session_cookie_header(&state, "", 0));
    Ok(response)
}

fn session_cookie_header(state: &AppState, value: &str, max_age: u64) -> HeaderValue {
    let secure = if state.config.public_url().starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!("{COOKIE_NAME}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}");
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static("tessera_session=; Max-Age=0"))
}

/// The device cookie: only the sign-in route ever sees it.
fn device_cookie_header(state: &AppState, value: &str) -> HeaderValue {
    let secure = if state.config.public_url().starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{DEVICE_COOKIE}={value}; Path=/api/v1/session; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        DEVICE_LIFETIME.as_secs()
    );
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static("tessera_device=; Max-Age=0"))
}

async fn session_view(state: &AppState, session: &ActiveSession, secret: &str) -> ApiResult<Value> {
    let user: User = session.user.clone();
    let tenant = match user.tenant_id.clone() {
        Some(id) => state.store.read_async(move |conn| find_tenant(conn, &id)).await?,
        None => None,
    };
    Ok(json!({
        "user": user,
        "role": user.role,
        "tenant": tenant,
        "csrf_token": repo::csrf_token(secret),
        "created_at": session.created_at,
        "expires_at": session.expires_at,
    }))
}
