use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::error::{ApiError, ApiResult};

pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

pub async fn readyz(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let writable = state.store.run(|store| Ok::<_, ApiError>(store.is_writable())).await?;
    if writable {
        Ok(Json(json!({"status": "ready"})))
    } else {
        Err(ApiError::unavailable("the database does not accept writes"))
    }
}
