//! HTTP handlers of the OAuth broker and token service: thin wrappers over the domain
//! functions, which are blocking (outside calls) and so run on blocking threads.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;

use super::flow::{self, AuthorizeInput, AuthorizeOutcome, CallbackParams};
use super::{OAuthError, TokenGrant, ensure_token};
use crate::api::extract::ApiQuery;
use crate::app::AppState;
use crate::audit;
use crate::auth::TenantAccess;
use crate::error::{ApiError, ApiResult};
use crate::time::format_rfc3339;

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, OAuthError> + Send + 'static) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal("oauth task failed", &e))?
        .map_err(ApiError::from)
}

/// `POST .../connections/{provider}/authorize` → the provider URL to send the user to.
pub async fn authorize(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, provider)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> ApiResult<Json<AuthorizeOutcome>> {
    // The body is optional: `{}` or nothing at all means "defaults".
    let input: AuthorizeInput = if body.iter().all(u8::is_ascii_whitespace) {
        AuthorizeInput::default()
    } else {
        crate::api::extract::parse_json(&body)?
    };
    let entry = access.audit("oauth.authorize", Some(&provider));
    let scope = access.scope.clone();
    let oauth = state.oauth.clone();
    let outcome =
        blocking(move || flow::authorize(&oauth, &scope, &provider, &input, entry, oauth.clock.now())).await?;
    Ok(Json(outcome))
}

/// `GET /oauth/callback` (public): the provider sends the browser here.
pub async fn callback(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<CallbackParams>,
) -> ApiResult<Response> {
    let oauth = state.oauth.clone();
    let outcome = blocking(move || flow::callback(&oauth, &params, oauth.clock.now())).await?;
    let location = HeaderValue::from_str(&outcome.redirect_to)
        .map_err(|_| ApiError::invalid_input("the stored return_to is not a valid header value"))?;
    let mut response = StatusCode::SEE_OTHER.into_response();
    response.headers_mut().insert(header::LOCATION, location);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

#[derive(Serialize)]
pub struct TokenView {
    access_token: String,
    token_type: String,
    expires_at: Option<String>,
}

fn expires(grant: &TokenGrant) -> Option<String> {
    grant.expires_at.map(format_rfc3339)
}

/// `GET .../connections/{provider}/token` → a fresh access token (audited).
pub async fn token(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, provider)): Path<(String, String)>,
) -> ApiResult<Response> {
    let entry = access.audit("token.read", Some(&provider));
    let scope = access.scope.clone();
    let tenant_id = access.tenant.id.clone();
    let oauth = &state.oauth;
    let result = match oauth
        .broker
        .cached_fresh(&tenant_id, &provider, oauth.settings.read_margin, oauth.clock.now())
    {
        Some(cached) => Ok(TokenGrant {
            access_token: cached.access_token,
            token_type: cached.token_type,
            expires_at: cached.expires_at,
            renewed: false,
        }),
        None => {
            let app = oauth.clone();
            tokio::task::spawn_blocking(move || ensure_token(&app, &scope, &provider, false))
                .await
                .map_err(|e| ApiError::internal("oauth task failed", &e))?
        }
    };
    let detail = match &result {
        Ok(g) => json!({"renewed": g.renewed}),
        Err(e) => json!({"error": e.to_string()}),
    };
    // Group-committed: answered only once the entry is durable.
    oauth.audit_read(entry.with_detail(detail)).await?;
    let result = result?;
    let body = TokenView {
        access_token: result.access_token.expose().to_owned(),
        token_type: result.token_type.clone(),
        expires_at: expires(&result),
    };
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `POST .../connections/{provider}/refresh` → forces a refresh / a new token (audited).
/// Answers with the expiry, never the token itself.
pub async fn refresh(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, provider)): Path<(String, String)>,
) -> ApiResult<Json<serde_json::Value>> {
    let entry = access.audit("token.refreshed", Some(&provider));
    let scope = access.scope.clone();
    let app = state.oauth.clone();
    let key = provider.clone();
    let grant = blocking(move || {
        let result = ensure_token(&app, &scope, &key, true);
        let detail = match &result {
            Ok(g) => json!({"renewed": g.renewed}),
            Err(e) => json!({"error": e.to_string()}),
        };
        app.store
            .write(|tx| audit::record(tx, &entry.clone().with_detail(detail)))?;
        result
    })
    .await?;
    Ok(Json(json!({
        "provider": provider,
        "status": "active",
        "token_type": grant.token_type,
        "expires_at": expires(&grant),
        "refreshed": grant.renewed,
    })))
}
