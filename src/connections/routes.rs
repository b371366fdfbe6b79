use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::json;

use super::service::ConnectionView;
use super::{ConnectionError, ConnectionInput, VerifyOutcome, repo, service};
use crate::api::extract::ApiJson;
use crate::app::AppState;
use crate::audit;
use crate::auth::{Scope, TenantAccess};
use crate::error::{ApiError, ApiResult};

#[derive(Serialize)]
pub struct ConnectionList {
    items: Vec<ConnectionView>,
    next_cursor: Option<String>,
}

pub async fn put_connection(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, provider)): Path<(String, String)>,
    ApiJson(input): ApiJson<ConnectionInput>,
) -> ApiResult<(StatusCode, Json<ConnectionView>)> {
    if let (Some(provider), Some(config)) = (
        state.catalogs.provider(&access.tenant.id, &provider),
        input.config.clone(),
    ) {
        let app = state.clone();
        let errors = tokio::task::spawn_blocking(move || {
            service::refuse_internal_targets(&provider, &config, app.outbound.policy(), app.outbound.names())
        })
        .await
        .map_err(|e| ApiError::internal("target check failed", &e))?;
        if !errors.is_empty() {
            return Err(ConnectionError::Invalid(errors).into());
        }
    }
    let app = state.clone();
    let outcome = state
        .store
        .write_async(move |tx| {
            let secrets = if access.principal.has(Scope::CredentialsReveal) {
                service::SecretsAccess::MayReveal
            } else {
                service::SecretsAccess::WriteOnly
            };
            let catalog = app.catalogs.for_tenant(&access.tenant.id);
            let mut outcome =
                service::save_connection(tx, &app.vault, &catalog, &access.scope, &provider, &input, secrets)?;
            if let Some(token) = outcome.provided_token.take() {
                crate::oauth::store::adopt(
                    tx,
                    &app.vault,
                    &access.scope,
                    &outcome.connection_id,
                    &token,
                    app.clock.now(),
                )?;
                let row = repo::find_connection(tx, &access.scope, &provider)?
                    .ok_or_else(|| ConnectionError::NotFound(provider.clone()))?;
                outcome.view = service::connection_view(tx, &app.vault, &catalog, &row)?;
            }
            let action = if outcome.created {
                "connection.created"
            } else {
                "connection.updated"
            };
            let fields: Vec<&String> = input.credentials.keys().collect();
            audit::record(
                tx,
                &access
                    .audit(action, Some(&provider))
                    .with_detail(json!({"fields": fields})),
            )?;
            if outcome.credentials_changed {
                tx.announce(&crate::store::postgres::changes::connection(&outcome.connection_id))?;
            }
            Ok::<_, ApiError>(outcome)
        })
        .await?;
    if outcome.credentials_changed {
        state.oauth.forget_connection(&outcome.connection_id);
    }
    state.outbound.wake();
    let status = if outcome.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(outcome.view)))
}

pub async fn list_connections(State(state): State<AppState>, access: TenantAccess) -> ApiResult<Json<ConnectionList>> {
    let app = state.clone();
    let items = state
        .store
        .read_async(move |conn| {
            let catalog = app.catalogs.for_tenant(&access.tenant.id);
            repo::list_connections(conn, &access.scope)?
                .iter()
                .map(|row| service::connection_view(conn, &app.vault, &catalog, row))
                .collect::<Result<Vec<_>, ConnectionError>>()
        })
        .await?;
    Ok(Json(ConnectionList {
        items,
        next_cursor: None,
    }))
}

pub async fn get_connection(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, provider)): Path<(String, String)>,
) -> ApiResult<Json<ConnectionView>> {
    let app = state.clone();
    let view = state
        .store
        .read_async(move |conn| {
            let row = repo::find_connection(conn, &access.scope, &provider)?
                .ok_or_else(|| ConnectionError::NotFound(provider.clone()))?;
            service::connection_view(conn, &app.vault, &app.catalogs.for_tenant(&access.tenant.id), &row)
        })
        .await?;
    Ok(Json(view))
}

pub async fn delete_connection(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, provider)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let revocation = crate::oauth::revoke::before_delete(&state.oauth, &access.scope, &provider).await;
    state
        .store
        .write_async(move |tx| {
            service::delete_connection(tx, &access.scope, &provider)?;
            audit::record(
                tx,
                &access
                    .audit("connection.deleted", Some(&provider))
                    .with_detail(json!({"revocation": revocation})),
            )?;
            Ok::<_, ApiError>(())
        })
        .await?;
    state.outbound.wake();
    Ok(StatusCode::NO_CONTENT)
}

pub async fn verify_connection(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, provider)): Path<(String, String)>,
) -> ApiResult<Json<VerifyOutcome>> {
    let oauth = state.oauth.clone();
    let entry = access.audit("connection.verified", Some(&provider));
    let outcome = tokio::task::spawn_blocking(move || oauth.verify(&access.scope, &provider, entry))
        .await
        .map_err(|e| ApiError::internal("verify task failed", &e))??;
    state.outbound.wake();
    Ok(Json(outcome))
}

pub async fn reveal_credentials(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, provider)): Path<(String, String)>,
) -> ApiResult<Json<serde_json::Value>> {
    let app = state.clone();
    let body = state
        .store
        .write_async(move |tx| {
            let row = repo::find_connection(tx, &access.scope, &provider)?
                .ok_or_else(|| ConnectionError::NotFound(provider.clone()))?;
            let credentials = service::open_credentials(tx, &app.vault, &row)?;
            audit::record(tx, &access.audit("credentials.revealed", Some(&provider)))?;
            Ok::<_, ApiError>(json!({
                "provider": row.provider,
                "auth_mode": row.auth_mode,
                "credentials": credentials.reveal(),
            }))
        })
        .await?;
    Ok(Json(body))
}
