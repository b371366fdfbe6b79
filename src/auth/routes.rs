use crate::store::postgres::changes;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::scopes::{Scope, ScopeSet, parse_scopes};
use super::tokens::{self, NewToken, TokenRecord};
use super::{Principal, TenantAccess};
use crate::api::extract::{ApiJson, ApiQuery};
use crate::api::pagination::{Page, PageQuery};
use crate::app::AppState;
use crate::audit;
use crate::error::{ApiError, ApiResult};

pub async fn list_scopes() -> Json<serde_json::Value> {
    let items: Vec<_> = Scope::ALL
        .iter()
        .map(|s| json!({"scope": s.as_str(), "description": s.description()}))
        .collect();
    Json(json!({ "items": items }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    name: String,
    scopes: Vec<String>,
    expires_at: Option<String>,
}

#[derive(Serialize)]
pub struct CreatedToken {
    #[serde(flatten)]
    record: TokenRecord,
    /// Shown this once; only its hash is stored.
    token: String,
}

/// Checks a token request against what its creator may grant.
fn validate_new_token(
    principal: &Principal,
    body: &CreateToken,
    now: time::OffsetDateTime,
) -> ApiResult<(String, ScopeSet, Option<String>)> {
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::invalid_field("name", "must be 1–100 characters"));
    }
    if body.scopes.is_empty() {
        return Err(ApiError::invalid_field("scopes", "name at least one scope"));
    }
    let scopes = parse_scopes(&body.scopes)
        .map_err(|i| ApiError::invalid_field(format!("scopes[{i}]"), "is not a scope; see GET /api/v1/scopes"))?;
    if let Some(missing) = scopes.iter().find(|s| !principal.can_grant(**s)) {
        return Err(ApiError::forbidden(format!(
            "a token cannot grant the `{}` scope its creator lacks",
            missing.as_str()
        )));
    }
    // A token cannot outlive its creator: by default it inherits the creator's expiry,
    // and a later one is refused (a short-lived token must not mint a permanent one).
    let expires_at = match (body.expires_at.as_deref(), principal.expires_at) {
        (None, inherited) => inherited,
        (Some(text), cap) => {
            let at = crate::time::parse_rfc3339(text)
                .ok_or_else(|| ApiError::invalid_field("expires_at", "expected an RFC 3339 timestamp"))?;
            if at <= now {
                return Err(ApiError::invalid_field("expires_at", "must be in the future"));
            }
            if let Some(cap) = cap
                && at > cap
            {
                return Err(ApiError::invalid_field(
                    "expires_at",
                    format!(
                        "must not be later than the expiry of the token creating it ({})",
                        crate::time::format_rfc3339(cap)
                    ),
                ));
            }
            Some(at)
        }
    }
    .map(crate::time::format_rfc3339);
    Ok((name.to_owned(), scopes, expires_at))
}

pub async fn create_token(
    State(state): State<AppState>,
    access: TenantAccess,
    ApiJson(body): ApiJson<CreateToken>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    let (name, scopes, expires_at) = validate_new_token(&access.principal, &body, state.clock.now())?;
    let created = state
        .store
        .write_async(move |tx| {
            let (record, plaintext) = tokens::insert_token(
                tx,
                &NewToken {
                    tenant_id: Some(&access.tenant.id),
                    name: &name,
                    scopes: &scopes,
                    expires_at: expires_at.as_deref(),
                    created_by: &access.principal.actor,
                },
            )?;
            audit::record(tx, &access.audit("token.created", Some(&record.id)))?;
            Ok::<_, ApiError>(CreatedToken {
                record,
                token: plaintext.expose().to_owned(),
            })
        })
        .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

pub async fn list_tokens(
    State(state): State<AppState>,
    access: TenantAccess,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<TokenRecord>>> {
    let limit = page.limit();
    let now = state.clock.now();
    // `last_used_at` is kept in memory between flushes; flush so the list is current.
    state.usage.flush_now().await;
    let rows = state
        .store
        .read_async(move |conn| tokens::list_tokens(conn, &access.scope, page.cursor.as_deref(), limit))
        .await?;
    let rows = rows.into_iter().map(|t| t.at(now)).collect();
    Ok(Json(Page::from_rows(rows, limit, |t| t.id.clone())))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchToken {
    name: Option<String>,
    active: Option<bool>,
}

pub async fn patch_token(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<PatchToken>,
) -> ApiResult<Json<TokenRecord>> {
    if let Some(name) = &body.name
        && (name.trim().is_empty() || name.chars().count() > 100)
    {
        return Err(ApiError::invalid_field("name", "must be 1–100 characters"));
    }
    let record = state
        .store
        .write_async(move |tx| {
            if !tokens::update_token(tx, &access.scope, &id, body.name.as_deref().map(str::trim), body.active)? {
                return Err(ApiError::not_found("no such token (or it is revoked)"));
            }
            audit::record(tx, &access.audit("token.updated", Some(&id)))?;
            tx.announce(changes::TOKENS)?;
            tokens::find_token(tx, &access.scope, &id)?.ok_or_else(|| ApiError::not_found("no such token"))
        })
        .await?;
    state.auth.forget_tokens();
    Ok(Json(record.at(state.clock.now())))
}

pub async fn revoke_token(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state
        .store
        .write_async(move |tx| {
            if !tokens::revoke_token(tx, &access.scope, &id)? {
                return Err(ApiError::not_found("no such token"));
            }
            audit::record(tx, &access.audit("token.revoked", Some(&id)))?;
            tx.announce(changes::TOKENS)?;
            Ok(())
        })
        .await?;
    state.auth.forget_tokens();
    Ok(StatusCode::NO_CONTENT)
}
