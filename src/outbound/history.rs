//! Delivery history and control: list, inspect, retry, test (ping), replay, stats.

use crate::auth::TenantScope;
use crate::store::sql::{Db, Row, params};
use serde::Serialize;
use serde_json::json;

use super::OutboundError;
use super::endpoints::{self, EndpointRow};
use super::signing::message_id;
use crate::store::OptionalRow;
use crate::store::StoreError;
use crate::time::{ms_to_rfc3339, now_ms};

/// One delivery of one event to one endpoint, as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct DeliveryView {
    pub id: String,
    pub endpoint_id: String,
    pub message_id: String,
    pub event_id: String,
    pub event_type: String,
    pub origin: String,
    /// Attempts made so far.
    pub attempt: u32,
    pub status: String,
    pub response_status: Option<u16>,
    pub response_excerpt: Option<String>,
    pub error: Option<String>,
    pub duration_ms: Option<i64>,
    pub next_attempt_at: Option<String>,
    pub last_attempt_at: Option<String>,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts: Option<Vec<AttemptView>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AttemptView {
    pub attempt: u32,
    pub at: String,
    pub succeeded: bool,
    pub response_status: Option<u16>,
    pub response_excerpt: Option<String>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

const COLUMNS: &str = "id, endpoint_id, event_id, event_type, origin, attempts, status, response_status,
     response_excerpt, error, duration_ms, next_attempt_at, last_attempt_at, created_at, lease_token";

fn from_row(r: &Row<'_>) -> Result<DeliveryView, StoreError> {
    let event_id: String = r.get(2)?;
    let next: Option<i64> = r.get(11)?;
    let leased: Option<String> = r.get(14)?;
    Ok(DeliveryView {
        id: r.get(0)?,
        endpoint_id: r.get(1)?,
        message_id: message_id(&event_id),
        event_id,
        event_type: r.get(3)?,
        origin: r.get(4)?,
        attempt: r.get(5)?,
        status: r.get(6)?,
        response_status: r.get(7)?,
        response_excerpt: r.get(8)?,
        error: r.get(9)?,
        duration_ms: r.get(10)?,
        // While a worker holds it, the stored time is the lease expiry, not a plan.
        next_attempt_at: if leased.is_some() {
            None
        } else {
            next.map(ms_to_rfc3339)
        },
        last_attempt_at: r.get::<Option<i64>>(12)?.map(ms_to_rfc3339),
        created_at: ms_to_rfc3339(r.get(13)?),
        attempts: None,
    })
}

/// Newest first. `status` filters; the cursor is the last id seen.
pub fn list(
    conn: &Db<'_>,
    scope: &TenantScope,
    endpoint_id: &str,
    status: Option<&str>,
    before: Option<&str>,
    limit: u32,
) -> Result<Vec<DeliveryView>, OutboundError> {
    let tenant_id = scope.id();
    let rows = conn.query(
        &format!(
            "SELECT {COLUMNS} FROM webhook_deliveries
         WHERE tenant_id = ?1 AND endpoint_id = ?2 AND (?3 IS NULL OR status = ?3) AND (?4 IS NULL OR id < ?4)
         ORDER BY id DESC LIMIT ?5"
        ),
        params![tenant_id, endpoint_id, status, before, limit + 1],
        from_row,
    )?;
    Ok(rows)
}

pub fn get(conn: &Db<'_>, scope: &TenantScope, endpoint_id: &str, id: &str) -> Result<DeliveryView, OutboundError> {
    let tenant_id = scope.id();
    let mut view = conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM webhook_deliveries WHERE tenant_id = ?1 AND endpoint_id = ?2 AND id = ?3"),
            params![tenant_id, endpoint_id, id],
            from_row,
        )
        .optional_row()?
        .ok_or(OutboundError::DeliveryNotFound)?;
    let attempts = conn.query(
        "SELECT attempt, at, succeeded, response_status, response_excerpt, error, duration_ms
         FROM webhook_attempts WHERE tenant_id = ?1 AND delivery_id = ?2 ORDER BY attempt",
        params![tenant_id, id],
        |r| {
            Ok(AttemptView {
                attempt: r.get(0)?,
                at: ms_to_rfc3339(r.get(1)?),
                succeeded: r.get(2)?,
                response_status: r.get(3)?,
                response_excerpt: r.get(4)?,
                error: r.get(5)?,
                duration_ms: r.get(6)?,
            })
        },
    )?;
    view.attempts = Some(attempts);
    Ok(view)
}

/// Makes a delivery due now: a finished one gets one more attempt, a waiting one is
/// brought forward. One being attempted right now is a conflict.
pub fn retry_now(conn: &Db<'_>, endpoint: &EndpointRow, delivery_id: &str) -> Result<DeliveryView, OutboundError> {
    require_active(endpoint)?;
    let leased: Option<Option<String>> = conn
        .query_row(
            "SELECT lease_token FROM webhook_deliveries WHERE tenant_id = ?1 AND endpoint_id = ?2 AND id = ?3",
            params![endpoint.tenant_id, endpoint.id, delivery_id],
            |r| r.get(0),
        )
        .optional_row()?;
    match leased {
        None => return Err(OutboundError::DeliveryNotFound),
        Some(Some(_)) => {
            return Err(OutboundError::Conflict(
                "this delivery is being attempted right now".into(),
            ));
        }
        Some(None) => {}
    }
    conn.execute(
        "UPDATE webhook_deliveries SET status = CASE WHEN status = 'succeeded' OR status = 'exhausted'
             THEN 'pending' ELSE status END, next_attempt_at = ?4, origin = CASE WHEN origin = 'event' THEN 'retry' ELSE origin END
         WHERE tenant_id = ?1 AND endpoint_id = ?2 AND id = ?3",
        params![endpoint.tenant_id, endpoint.id, delivery_id, now_ms()],
    )?;
    get(conn, &endpoint_scope(endpoint), &endpoint.id, delivery_id)
}

fn require_active(endpoint: &EndpointRow) -> Result<(), OutboundError> {
    if !endpoint.active {
        return Err(OutboundError::Conflict(
            "the endpoint is disabled; re-enable it first (PATCH {\"active\": true})".into(),
        ));
    }
    Ok(())
}

fn insert_delivery(
    conn: &Db<'_>,
    endpoint: &EndpointRow,
    event_id: &str,
    event_type: &str,
    origin: &str,
) -> Result<String, OutboundError> {
    let id = crate::ids::new_id();
    let now = now_ms();
    conn.execute(
        "INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_id, event_type, origin, status, attempts,
             next_attempt_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', 0, ?7, ?7)",
        params![id, endpoint.tenant_id, endpoint.id, event_id, event_type, origin, now],
    )?;
    Ok(id)
}

/// Sends a `ping` to this endpoint only: an outbox event recorded as already dispatched,
/// plus its one delivery.
pub fn send_test(conn: &Db<'_>, endpoint: &EndpointRow) -> Result<DeliveryView, OutboundError> {
    require_active(endpoint)?;
    let event_id = crate::ids::new_id();
    let now = crate::time::now_rfc3339();
    let payload = json!({
        "type": "ping",
        "timestamp": now,
        "data": {"endpoint_id": endpoint.id, "message": "Test message from tessera"},
    });
    conn.execute(
        "INSERT INTO outbox (id, tenant_id, event_type, payload, created_at, dispatched_at) VALUES (?1, ?2, 'ping', ?3, ?4, ?4)",
        params![event_id, endpoint.tenant_id, payload.to_string(), now],
    )?;
    let id = insert_delivery(conn, endpoint, &event_id, "ping", "test")?;
    get(conn, &endpoint_scope(endpoint), &endpoint.id, &id)
}

/// What to replay: one event, or the tenant's events in a time range (both ends inclusive,
/// RFC 3339), filtered by the endpoint's subscription.
#[derive(Debug, Clone)]
pub enum ReplaySelection {
    Event(String),
    /// With `only_undelivered`, events this endpoint already received are skipped.
    Range {
        since: String,
        until: String,
        only_undelivered: bool,
    },
}

pub const MAX_REPLAY: u32 = 10_000;

/// Schedules the selected events again for `endpoint` (same `webhook-id` as before, so a
/// receiver that already has one can tell). Returns how many were scheduled.
pub fn replay(conn: &Db<'_>, endpoint: &EndpointRow, selection: &ReplaySelection) -> Result<u64, OutboundError> {
    require_active(endpoint)?;
    let events: Vec<(String, String)> = match selection {
        ReplaySelection::Event(id) => {
            let found: Option<String> = conn
                .query_row(
                    "SELECT event_type FROM outbox WHERE tenant_id = ?1 AND id = ?2",
                    params![endpoint.tenant_id, id],
                    |r| r.get(0),
                )
                .optional_row()?;
            let event_type = found.ok_or(OutboundError::EventNotFound)?;
            vec![(id.clone(), event_type)]
        }
        ReplaySelection::Range {
            since,
            until,
            only_undelivered,
        } => {
            let rows = conn.query(
                "SELECT o.id, o.event_type FROM outbox o WHERE o.tenant_id = ?1 AND o.created_at >= ?2
                   AND o.created_at <= ?3 AND o.event_type <> 'ping'
                   AND (?5 = 0 OR NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = o.id
                        AND d.endpoint_id = ?6 AND d.status = 'succeeded'))
                 ORDER BY o.id LIMIT ?4",
                params![
                    endpoint.tenant_id,
                    since,
                    until,
                    MAX_REPLAY + 1,
                    only_undelivered,
                    endpoint.id
                ],
                |r| Ok((r.get::<String>(0)?, r.get::<String>(1)?)),
            )?;
            if rows.len() as u32 > MAX_REPLAY {
                return Err(OutboundError::invalid(
                    "since",
                    format!("more than {MAX_REPLAY} events in the range; replay a shorter one"),
                ));
            }
            rows.into_iter().filter(|(_, t)| endpoint.wants(t)).collect()
        }
    };
    for (event_id, event_type) in &events {
        insert_delivery(conn, endpoint, event_id, event_type, "replay")?;
    }
    Ok(events.len() as u64)
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct HourBucket {
    pub hour: String,
    pub succeeded: u64,
    pub failed: u64,
}

/// Attempts per hour over the last `hours` (oldest first, empty hours included), for the
/// whole tenant or one endpoint.
pub fn stats(
    conn: &Db<'_>,
    tenant_id: &str,
    endpoint_id: Option<&str>,
    hours: u32,
    now: i64,
) -> Result<Vec<HourBucket>, OutboundError> {
    const HOUR: i64 = 3_600_000;
    let current = now - now.rem_euclid(HOUR);
    let start = current - (hours as i64 - 1) * HOUR;
    let mut buckets: Vec<HourBucket> = (0..hours as i64)
        .map(|i| HourBucket {
            hour: ms_to_rfc3339(start + i * HOUR),
            succeeded: 0,
            failed: 0,
        })
        .collect();
    let rows = conn.query(
        "SELECT (at - ?3) / 3600000 AS bucket, succeeded, COUNT(*) FROM webhook_attempts
         WHERE tenant_id = ?1 AND (?2 IS NULL OR endpoint_id = ?2) AND at >= ?3
         GROUP BY bucket, succeeded",
        params![tenant_id, endpoint_id, start],
        |r| Ok((r.get::<i64>(0)?, r.get::<bool>(1)?, r.get::<i64>(2)? as u64)),
    )?;
    for (bucket, succeeded, count) in rows {
        if let Some(b) = usize::try_from(bucket).ok().and_then(|i| buckets.get_mut(i)) {
            if succeeded {
                b.succeeded += count;
            } else {
                b.failed += count;
            }
        }
    }
    Ok(buckets)
}

/// When re-enabling: the events the endpoint never received since its failures began
/// (or since it was disabled), and the replay request that sends them.
pub fn missed_since(
    conn: &Db<'_>,
    endpoint: &EndpointRow,
    now: i64,
) -> Result<Option<serde_json::Value>, OutboundError> {
    let Some(disabled_at) = endpoint.disabled_at else {
        return Ok(None);
    };
    let from = endpoint.failing_since.map_or(disabled_at, |f| f.min(disabled_at));
    let since = ms_to_rfc3339(from);
    let until = ms_to_rfc3339(now);
    let count = endpoints::count_undelivered_events(conn, endpoint, &since, &until)?;
    Ok(Some(json!({
        "since": since,
        "until": until,
        "events": count,
        "replay": {"since": since, "until": until, "only_undelivered": true},
    })))
}

/// The scope of an endpoint row already found in its tenant's scope.
fn endpoint_scope(endpoint: &EndpointRow) -> TenantScope {
    crate::auth::PlatformScope::for_server_work().narrow_to(&endpoint.tenant_id)
}
