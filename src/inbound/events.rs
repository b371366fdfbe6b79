//! The inbound event store (SQL). Every query is scoped by tenant.

use crate::auth::TenantScope;
use crate::store::sql::{Db, Row, params};
use serde::Serialize;
use serde_json::Value;

use crate::store::{OptionalRow, StoreError};
use crate::vault::{KeyScope, Location, Vault};

#[derive(Debug, Clone, Serialize)]
pub struct EventView {
    pub id: String,
    pub provider: String,
    #[serde(rename = "type")]
    pub event_type: Option<String>,
    pub external_id: Option<String>,
    pub status: String,
    pub received_at: String,
    pub processed_at: Option<String>,
    pub error: Option<String>,
    /// What is known of a rejected delivery (reason, size, body hash, source address).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headers: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<Value>,
}

/// A stored event with its sealed body, for processing.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub view: EventView,
    pub tenant_id: String,
    pub sealed: Option<Vec<u8>>,
}

const COLUMNS: &str = "id, provider, event_type, external_id, status, received_at, processed_at, error, detail, headers, tenant_id, payload";

fn from_row(row: &Row<'_>) -> Result<StoredEvent, StoreError> {
    let status: String = row.get(4)?;
    let detail: String = row.get(8)?;
    let headers: String = row.get(9)?;
    Ok(StoredEvent {
        view: EventView {
            id: row.get(0)?,
            provider: row.get(1)?,
            event_type: row.get(2)?,
            external_id: row.get(3)?,
            detail: (status == "rejected").then(|| serde_json::from_str(&detail).unwrap_or(Value::Null)),
            status,
            received_at: row.get(5)?,
            processed_at: row.get(6)?,
            error: row.get(7)?,
            headers: Some(serde_json::from_str(&headers).unwrap_or(Value::Null)),
            payload: None,
        },
        tenant_id: row.get(10)?,
        sealed: row.get(11)?,
    })
}

pub fn location<'a>(scope: &'a KeyScope, id: &'a str) -> Location<'a> {
    Location {
        scope,
        table: "inbound_events",
        row_id: id,
        field: "payload",
    }
}

/// A delivery that passed verification.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub id: String,
    pub tenant_id: String,
    pub provider: String,
    pub event_type: Option<String>,
    pub external_id: String,
    pub headers: Value,
    /// The raw body sealed under the tenant key for (`inbound_events`, id, `payload`).
    pub sealed: Vec<u8>,
}

/// A delivery that failed verification: nothing of its content is trusted or kept.
#[derive(Debug, Clone)]
pub struct Rejected {
    pub id: String,
    pub tenant_id: String,
    pub provider: String,
    pub reason: String,
    pub body_bytes: usize,
    pub detail: Value,
}

pub enum Stored {
    New(String),
    Duplicate(String),
}

pub fn find_by_external_id(
    conn: &Db<'_>,
    tenant_id: &str,
    provider: &str,
    external_id: &str,
) -> Result<Option<String>, StoreError> {
    conn.query_row(
        "SELECT id FROM inbound_events WHERE tenant_id = ?1 AND provider = ?2 AND external_id = ?3",
        params![tenant_id, provider, external_id],
        |r| r.get(0),
    )
    .optional_row()
}

/// Seals a delivery's raw body for the event row `id`.
pub fn seal_body(conn: &Db<'_>, vault: &Vault, tenant_id: &str, id: &str, body: &[u8]) -> Result<Vec<u8>, StoreError> {
    let scope = KeyScope::Tenant(tenant_id.to_owned());
    vault
        .seal(conn, &location(&scope, id), body)
        .map_err(|e| StoreError::Task(e.to_string()))
}

/// Stores an accepted delivery (body already sealed) with its processing job, or finds
/// the earlier copy of the same delivery. This is the hot path of the one writer, so it
/// does only the inserts; `inbound.received` is emitted by processing.
pub fn store_accepted(conn: &Db<'_>, jobs: &crate::jobs::Queue, event: &Accepted) -> Result<Stored, StoreError> {
    let now = crate::time::now();
    // A repeated delivery conflicts on its external id: the insert does nothing, and the
    // earlier copy answers (no failed statement, which would end a PostgreSQL transaction).
    let inserted = conn.execute(
        "INSERT INTO inbound_events (id, tenant_id, provider, event_type, external_id, status, payload, headers,
                                     received_at, received_epoch)
         VALUES (?1, ?2, ?3, ?4, ?5, 'received', ?6, ?7, ?8, ?9)
         ON CONFLICT (tenant_id, provider, external_id) DO NOTHING",
        params![
            event.id,
            event.tenant_id,
            event.provider,
            event.event_type,
            event.external_id,
            event.sealed,
            event.headers.to_string(),
            crate::time::format_rfc3339(now),
            now.unix_timestamp()
        ],
    )?;
    if inserted == 0 {
        let id = find_by_external_id(conn, &event.tenant_id, &event.provider, &event.external_id)?
            .ok_or_else(|| StoreError::Task("duplicate delivery vanished".into()))?;
        return Ok(Stored::Duplicate(id));
    }
    jobs.enqueue(
        conn,
        Some(&event.tenant_id),
        super::JOB_PROCESS,
        &serde_json::json!({ "event_id": event.id }),
    )?;
    Ok(Stored::New(event.id.clone()))
}

/// The `inbound.received` domain event for an accepted event (emitted once, by its
/// first processing, in the transaction that records the outcome).
pub fn emit_received(conn: &Db<'_>, tenant_id: &str, event: &EventView) -> Result<(), StoreError> {
    crate::outbox::emit(
        conn,
        tenant_id,
        "inbound.received",
        serde_json::json!({
            "event_id": event.id,
            "provider": event.provider,
            "type": event.event_type,
            "external_id": event.external_id,
        }),
    )?;
    Ok(())
}

pub fn find(conn: &Db<'_>, scope: &TenantScope, id: &str) -> Result<Option<StoredEvent>, StoreError> {
    let tenant_id = scope.id();
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM inbound_events WHERE tenant_id = ?1 AND id = ?2"),
        params![tenant_id, id],
        from_row,
    )
    .optional_row()
}

/// The latest rejected delivery of `provider` whose body had this SHA-256 (rejections keep
/// only the hash of what was sent).
pub fn find_rejected_by_body(
    conn: &Db<'_>,
    tenant_id: &str,
    provider: &str,
    body_sha256: &str,
) -> Result<Option<EventView>, StoreError> {
    conn.query_row(
        &format!(
            "SELECT {COLUMNS} FROM inbound_events WHERE tenant_id = ?1 AND provider = ?2 AND status = 'rejected'
             AND {} = ?3 ORDER BY id DESC LIMIT 1",
            conn.dialect().json_text("detail", "body_sha256")
        ),
        params![tenant_id, provider, body_sha256],
        |r| from_row(r).map(|e| e.view),
    )
    .optional_row()
}

/// Opens the sealed body of an accepted event.
pub fn open_payload(conn: &Db<'_>, vault: &Vault, event: &StoredEvent) -> Result<Option<Vec<u8>>, StoreError> {
    let Some(sealed) = &event.sealed else { return Ok(None) };
    let scope = KeyScope::Tenant(event.tenant_id.clone());
    let plain = vault
        .open(conn, &location(&scope, &event.view.id), sealed)
        .map_err(|e| StoreError::Task(e.to_string()))?;
    Ok(Some(plain.to_vec()))
}

#[derive(Debug, Default, Clone)]
pub struct EventFilter {
    pub provider: Option<String>,
    pub event_type: Option<String>,
    pub status: Option<String>,
    pub before: Option<String>,
}

pub fn list(
    conn: &Db<'_>,
    scope: &TenantScope,
    filter: &EventFilter,
    limit: u32,
) -> Result<Vec<EventView>, StoreError> {
    let tenant_id = scope.id();
    let rows = conn.query(
        &format!(
            "SELECT {COLUMNS} FROM inbound_events WHERE tenant_id = ?1 AND (?2 IS NULL OR provider = ?2)
         AND (?3 IS NULL OR event_type = ?3) AND (?4 IS NULL OR status = ?4) AND (?5 IS NULL OR id < ?5)
         ORDER BY id DESC LIMIT ?6"
        ),
        params![
            tenant_id,
            filter.provider,
            filter.event_type,
            filter.status,
            filter.before,
            limit + 1
        ],
        |r| from_row(r).map(|e| e.view),
    )?;
    Ok(rows)
}

/// Ids of a provider's accepted events, oldest first, after `after` and received at or
/// after `since_unix` — what a binding sync processes again, page by page.
pub fn ids_for_sync(
    conn: &Db<'_>,
    tenant_id: &str,
    provider: &str,
    since_unix: Option<i64>,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<String>, StoreError> {
    let rows = conn.query(
        "SELECT id FROM inbound_events WHERE tenant_id = ?1 AND provider = ?2 AND status != 'rejected'
         AND (?3 IS NULL OR received_epoch >= ?3) AND (?4 IS NULL OR id > ?4) ORDER BY id LIMIT ?5",
        params![tenant_id, provider, since_unix, after, limit],
        |r| r.get(0),
    )?;
    Ok(rows)
}

pub fn mark_processed(conn: &Db<'_>, tenant_id: &str, id: &str) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE inbound_events SET status = 'processed', processed_at = ?3, error = NULL
         WHERE tenant_id = ?1 AND id = ?2 AND status != 'rejected'",
        params![tenant_id, id, crate::time::now_rfc3339()],
    )?;
    Ok(())
}

/// Records a processing error; `final_failure` moves the event to `failed`.
pub fn mark_error(
    conn: &Db<'_>,
    tenant_id: &str,
    id: &str,
    error: &str,
    final_failure: bool,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE inbound_events SET error = ?3, status = CASE WHEN ?4 THEN 'failed' ELSE status END,
                processed_at = CASE WHEN ?4 THEN ?5 ELSE processed_at END
         WHERE tenant_id = ?1 AND id = ?2 AND status != 'rejected'",
        params![tenant_id, id, error, final_failure, crate::time::now_rfc3339()],
    )?;
    Ok(())
}

/// Puts an event back to `received` and queues its processing again.
pub fn replay(conn: &Db<'_>, jobs: &crate::jobs::Queue, tenant_id: &str, id: &str) -> Result<String, StoreError> {
    conn.execute(
        "UPDATE inbound_events SET status = 'received', error = NULL, processed_at = NULL WHERE tenant_id = ?1 AND id = ?2",
        params![tenant_id, id],
    )?;
    jobs.enqueue(
        conn,
        Some(tenant_id),
        super::JOB_PROCESS,
        &serde_json::json!({ "event_id": id, "replay": true }),
    )
}

/// Accepted and rejected deliveries per hour over the last `hours`, oldest first, with
/// empty hours included.
pub fn hourly_stats(conn: &Db<'_>, scope: &TenantScope, now_unix: i64, hours: i64) -> Result<Vec<Value>, StoreError> {
    let tenant_id = scope.id();
    let end_hour = now_unix.div_euclid(3600);
    let start_hour = end_hour - hours + 1;
    let mut counts = vec![(0i64, 0i64); hours as usize];
    let rows = conn.query(
        "SELECT received_epoch / 3600 AS h, SUM(CASE WHEN status <> 'rejected' THEN 1 ELSE 0 END),
                SUM(CASE WHEN status = 'rejected' THEN 1 ELSE 0 END)
         FROM inbound_events WHERE tenant_id = ?1 AND received_epoch >= ?2 GROUP BY h",
        params![tenant_id, start_hour * 3600],
        |r| Ok((r.get::<i64>(0)?, r.get::<i64>(1)?, r.get::<i64>(2)?)),
    )?;
    for (hour, accepted, rejected) in rows {
        if let Some(slot) = counts.get_mut((hour - start_hour) as usize) {
            *slot = (accepted, rejected);
        }
    }
    for (hour, summarised) in super::rejections::counts_by_hour(conn, scope, start_hour * 3600)? {
        if let Some(slot) = counts.get_mut((hour - start_hour) as usize) {
            slot.1 += summarised;
        }
    }
    Ok(counts
        .into_iter()
        .enumerate()
        .map(|(i, (accepted, rejected))| {
            let at = time::OffsetDateTime::from_unix_timestamp((start_hour + i as i64) * 3600)
                .map(crate::time::format_rfc3339)
                .unwrap_or_default();
            serde_json::json!({ "hour": at, "accepted": accepted, "rejected": rejected })
        })
        .collect())
}
