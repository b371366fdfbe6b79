//! `POST/GET/DELETE /api/v1/session`: sign in, who am I (+ CSRF token), sign out.

use std::time::Instant;

use axum::Json;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::limiter::{AttemptKeys, DEVICE_COOKIE, DEVICE_LIFETIME, Limits};
use super::sessions::{self as repo, ActiveSession, COOKIE_NAME};
use super::{User, dummy_hash, find_for_login, mark_login, verify_password};
use crate::api::extract::ApiJson;
use crate::app::AppState;
use crate::audit::{self, AuditEntry};
use crate::auth::RequestContext;
use crate::auth::sessions::{check_csrf, cookie_value, current_session, session_cookie, session_policy};
use crate::error::{ApiError, ApiResult};
use crate::net::ClientAddr;
use crate::store::StoreError;
use crate::tenants::find_tenant;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    email: String,
    password: String,
}

enum Outcome {
    SignedIn(Box<ActiveSession>, String),
    Refused,
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
    let keys = AttemptKeys {
        account: email.clone(),
        ip: Some(client.budget_key()),
        device: cookie_value(&headers, DEVICE_COOKIE),
    };
    let limits = Limits::from_config(&state.config);
    if let Err(wait) = state.login_limiter.check(&limits, &keys, Instant::now()) {
        return Err(ApiError::rate_limited(wait));
    }
    let policy = session_policy(&state);
    let clock = state.clock.clone();
    let password = Zeroizing::new(body.password);
    let outcome = state
        .store
        .run(move |store| {
            let found = store.read(|conn| find_for_login(conn, &email))?;
            let refused_user = match found {
                Some((user, hash)) if verify_password(&password, &hash) => Ok(user),
                Some((user, _)) => Err(Some(user)),
                None => {
                    // Same Argon2 work for an unknown email as for a wrong password.
                    let _ = verify_password(&password, dummy_hash());
                    Err(None)
                }
            };
            let user = match refused_user {
                Ok(user) => user,
                Err(known) => {
                    let entry = AuditEntry::new(
                        known.as_ref().and_then(|u| u.tenant_id.as_deref()),
                        &known
                            .as_ref()
                            .map_or("anonymous".to_owned(), |u| format!("user:{}", u.id)),
                        "session.login_failed",
                        Some(&email),
                        &ctx,
                    );
                    store.write(|tx| audit::record(tx, &entry))?;
                    return Ok::<_, StoreError>(Outcome::Refused);
                }
            };
            let now = clock.now();
            let secret = store.write(|tx| {
                let (secret, _) = repo::create_session(tx, &user.id, ctx.ip.as_deref(), policy, now)?;
                mark_login(tx, &user.id, &crate::time::format_rfc3339(now))?;
                let entry = AuditEntry::new(
                    user.tenant_id.as_deref(),
                    &format!("user:{}", user.id),
                    "session.created",
                    Some(&user.email),
                    &ctx,
                );
                audit::record(tx, &entry)?;
                Ok::<_, StoreError>(secret)
            })?;
            match repo::lookup(store, secret.expose(), policy, now)? {
                repo::Lookup::Valid(session) => Ok(Outcome::SignedIn(session, secret.expose().to_owned())),
                _ => Ok(Outcome::Refused),
            }
        })
        .await?;
    match outcome {
        Outcome::Refused => {
            state.login_limiter.record_failure(&limits, &keys, Instant::now());
            Err(ApiError::unauthorized("wrong email or password"))
        }
        Outcome::SignedIn(session, secret) => {
            let device = state.login_limiter.record_success(&keys, Instant::now());
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
    let session = current_session(&state, &secret).await?;
    Ok(Json(session_view(&state, &session, &secret).await?))
}

/// Signs out. Idempotent: without a live session it only clears the cookie.
pub async fn delete_session(
    State(state): State<AppState>,
    ctx: RequestContext,
    headers: HeaderMap,
) -> ApiResult<Response> {
    if let Some(secret) = session_cookie(&headers)
        && let Ok(session) = current_session(&state, &secret).await
    {
        check_csrf(&headers, &secret)?;
        state
            .store
            .write_async(move |tx| {
                repo::delete_session(tx, &secret)?;
                let user = &session.user;
                let entry = AuditEntry::new(
                    user.tenant_id.as_deref(),
                    &format!("user:{}", user.id),
                    "session.deleted",
                    Some(&user.email),
                    &ctx,
                );
                audit::record(tx, &entry)
            })
            .await?;
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
