//! Domain events, written to the `outbox` table in the same transaction as the change
//! that caused them; outbound webhook delivery fans them out to tenants' endpoints.

use crate::store::sql::{Db, params};
use serde_json::Value;

use crate::store::StoreError;

/// Every event type tessera emits, with what it means.
pub const EVENT_TYPES: &[(&str, &str)] = &[
    ("ping", "A test message sent to an endpoint on request"),
    ("connection.created", "A provider connection was created"),
    (
        "connection.updated",
        "A provider connection's credentials or config changed",
    ),
    ("connection.deleted", "A provider connection was removed"),
    (
        "connection.verified",
        "A provider connection was checked against the provider",
    ),
    (
        "connection.refresh_failed",
        "The provider rejected a token refresh; the connection needs re-authorization",
    ),
    ("inbound.received", "A verified webhook from a provider was stored"),
    ("signup.created", "A new contact entered the pending signup queue"),
];

pub fn is_known_event_type(event_type: &str) -> bool {
    EVENT_TYPES.iter().any(|(t, _)| *t == event_type)
}

/// Records a domain event. `data` must never hold a secret.
pub fn emit(conn: &Db<'_>, tenant_id: &str, event_type: &str, data: Value) -> Result<String, StoreError> {
    debug_assert!(is_known_event_type(event_type), "unknown event type {event_type}");
    let id = crate::ids::new_id();
    let now = crate::time::now_rfc3339();
    let payload = serde_json::json!({ "type": event_type, "timestamp": now, "data": data });
    conn.execute(
        "INSERT INTO outbox (id, tenant_id, event_type, payload, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![id, tenant_id, event_type, payload.to_string(), now],
    )?;
    Ok(id)
}

pub async fn list_event_types() -> axum::Json<Value> {
    let items: Vec<Value> = EVENT_TYPES
        .iter()
        .map(|(name, description)| serde_json::json!({"type": name, "description": description}))
        .collect();
    axum::Json(serde_json::json!({ "items": items }))
}
