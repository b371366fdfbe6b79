//! `GET|POST /api/v1/platform/pause` and `POST /api/v1/platform/resume` (operator only).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{HELD, PauseState};
use crate::app::AppState;
use crate::auth::PlatformAccess;
use crate::error::ApiResult;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PauseRequest {
    /// Why, for whoever looks at the pause later.
    reason: Option<String>,
}

fn view(state: &PauseState) -> Json<Value> {
    Json(json!({
        "paused": state.paused,
        "changed_at": state.changed_at,
        "changed_by": state.changed_by,
        "reason": state.reason,
        "held": if state.paused { HELD } else { &[] },
    }))
}

pub async fn get_pause(State(state): State<AppState>, _: PlatformAccess) -> ApiResult<Json<Value>> {
    Ok(view(&state.pause.state().await?))
}

/// Holds every outside effect. The body (`{"reason"}`) is optional.
pub async fn pause(State(state): State<AppState>, admin: PlatformAccess, body: Bytes) -> ApiResult<Json<Value>> {
    let request: PauseRequest = if body.iter().all(u8::is_ascii_whitespace) {
        PauseRequest::default()
    } else {
        crate::api::extract::parse_json(&body)?
    };
    let reason = request
        .reason
        .map(|r| r.trim().chars().take(500).collect::<String>())
        .filter(|r| !r.is_empty());
    let entry = admin
        .audit(None, "platform.paused", None)
        .with_detail(json!({ "reason": reason }));
    let stored = state
        .pause
        .set(true, admin.principal.actor.clone(), reason, entry)
        .await?;
    Ok(view(&stored))
}

/// Releases the hold; held work starts at once.
pub async fn resume(State(state): State<AppState>, admin: PlatformAccess) -> ApiResult<Json<Value>> {
    let entry = admin.audit(None, "platform.resumed", None);
    let stored = state
        .pause
        .set(false, admin.principal.actor.clone(), None, entry)
        .await?;
    Ok(view(&stored))
}
