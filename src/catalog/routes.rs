use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use crate::app::AppState;
use crate::auth::Authenticated;
use crate::error::{ApiError, ApiResult};

pub async fn list_providers(State(state): State<AppState>, _auth: Authenticated) -> Json<Value> {
    let items: Vec<_> = state.catalog.all().map(|p| p.summary()).collect();
    Json(json!({ "items": items, "next_cursor": null }))
}

pub async fn get_provider(
    State(state): State<AppState>,
    _auth: Authenticated,
    Path(key): Path<String>,
) -> ApiResult<Json<Value>> {
    let provider = state
        .catalog
        .get(&key)
        .ok_or_else(|| ApiError::not_found("no such provider in the catalog"))?;
    Ok(Json(json!(provider.summary())))
}
