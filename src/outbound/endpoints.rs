//! Webhook endpoints: where a tenant wants events, which ones, and the secret that signs
//! them. Every query takes the tenant id first; an endpoint is never found without it.

use crate::auth::TenantScope;
use crate::store::sql::{Db, Row, params};
use serde::Serialize;

use super::OutboundError;
use super::signing::{SigningKey, generate_secret};
use crate::outbox::is_known_event_type;
use crate::store::OptionalRow;
use crate::store::StoreError;
use crate::store::postgres::changes;
use crate::time::{ms_to_rfc3339, now_ms};
use crate::vault::{KeyScope, Location, Secret, Vault};

/// How long a rotated-out secret keeps signing beside the new one.
pub const ROTATION_OVERLAP_MS: i64 = 24 * 3600 * 1000;
const MAX_DESCRIPTION: usize = 500;
const MAX_URL: usize = 2048;
const TABLE: &str = "webhook_endpoints";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RetryPolicy {
    Exponential,
    Linear,
    None,
}

impl RetryPolicy {
    pub fn parse(value: &str) -> Result<RetryPolicy, OutboundError> {
        match value {
            "exponential" => Ok(RetryPolicy::Exponential),
            "linear" => Ok(RetryPolicy::Linear),
            "none" => Ok(RetryPolicy::None),
            _ => Err(OutboundError::invalid(
                "retry_policy",
                "must be exponential, linear or none",
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RetryPolicy::Exponential => "exponential",
            RetryPolicy::Linear => "linear",
            RetryPolicy::None => "none",
        }
    }
}

#[derive(Debug, Clone)]
pub struct EndpointRow {
    pub id: String,
    pub tenant_id: String,
    pub url: String,
    pub description: String,
    pub events: Vec<String>,
    pub active: bool,
    pub retry_policy: RetryPolicy,
    pub secret: Vec<u8>,
    pub previous_secret: Option<Vec<u8>>,
    pub previous_secret_expires_at: Option<i64>,
    pub disabled_reason: Option<String>,
    pub disabled_at: Option<i64>,
    pub failing_since: Option<i64>,
    pub created_at: String,
    pub updated_at: String,
    /// The installed plugin whose transformation reshapes this endpoint's messages.
    pub transform_plugin: Option<String>,
}

impl EndpointRow {
    pub fn wants(&self, event_type: &str) -> bool {
        wants(&self.events, event_type)
    }
}

pub fn wants(filter: &[String], event_type: &str) -> bool {
    filter.iter().any(|e| e == "*" || e == event_type)
}

/// What the API shows of an endpoint (never a secret).
#[derive(Debug, Clone, Serialize)]
pub struct EndpointView {
    pub id: String,
    pub url: String,
    pub description: String,
    pub events: Vec<String>,
    pub active: bool,
    pub retry_policy: RetryPolicy,
    pub disabled_reason: Option<String>,
    pub disabled_at: Option<String>,
    pub failing_since: Option<String>,
    /// When the previous secret stops signing, while a rotation overlaps.
    pub previous_secret_expires_at: Option<String>,
    /// The plugin reshaping messages for this endpoint (`null`: sent as they are).
    pub transform: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&EndpointRow> for EndpointView {
    fn from(row: &EndpointRow) -> Self {
        let now = now_ms();
        EndpointView {
            id: row.id.clone(),
            url: row.url.clone(),
            description: row.description.clone(),
            events: row.events.clone(),
            active: row.active,
            retry_policy: row.retry_policy,
            disabled_reason: row.disabled_reason.clone(),
            disabled_at: row.disabled_at.map(ms_to_rfc3339),
            failing_since: row.failing_since.map(ms_to_rfc3339),
            previous_secret_expires_at: row
                .previous_secret_expires_at
                .filter(|at| *at > now && row.previous_secret.is_some())
                .map(ms_to_rfc3339),
            transform: row.transform_plugin.clone(),
            created_at: row.created_at.clone(),
            updated_at: row.updated_at.clone(),
        }
    }
}

/// Validates an `events` filter: `["*"]` or known event types, at least one.
pub fn validate_events(events: &[String]) -> Result<Vec<String>, OutboundError> {
    if events.is_empty() {
        return Err(OutboundError::invalid(
            "events",
            "name at least one event type, or \"*\"",
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for (i, event) in events.iter().enumerate() {
        let event = event.trim();
        if event != "*" && !is_known_event_type(event) {
            return Err(OutboundError::invalid(
                "events",
                format!("entry {i} is not an event type (see GET /api/v1/event-types)"),
            ));
        }
        if !out.iter().any(|e| e == event) {
            out.push(event.to_owned());
        }
    }
    if out.iter().any(|e| e == "*") && out.len() > 1 {
        return Err(OutboundError::invalid("events", "\"*\" already means every event type"));
    }
    Ok(out)
}

pub fn validate_description(description: &str) -> Result<String, OutboundError> {
    let description = description.trim();
    if description.chars().count() > MAX_DESCRIPTION {
        return Err(OutboundError::invalid(
            "description",
            format!("at most {MAX_DESCRIPTION} characters"),
        ));
    }
    Ok(description.to_owned())
}

/// Parses and vets a URL against the SSRF policy; returns the normalised form to store.
pub fn validate_url(
    raw: &str,
    policy: &crate::net::TargetPolicy,
    names: &dyn crate::net::NameResolver,
) -> Result<String, OutboundError> {
    if raw.len() > MAX_URL {
        return Err(OutboundError::invalid("url", format!("at most {MAX_URL} characters")));
    }
    Ok(crate::net::ssrf::check_target(raw, policy, names)?.to_string())
}

/// A supplied secret, or a fresh one.
pub fn secret_or_generated(supplied: Option<&str>) -> Result<Secret, OutboundError> {
    match supplied {
        Some(s) => {
            SigningKey::parse(s.trim()).map_err(|m| OutboundError::invalid("secret", m))?;
            Ok(Secret::new(s.trim()))
        }
        None => Ok(generate_secret()),
    }
}

fn location<'a>(scope: &'a KeyScope, id: &'a str, field: &'a str) -> Location<'a> {
    Location {
        scope,
        table: TABLE,
        row_id: id,
        field,
    }
}

pub fn seal_secret(
    conn: &Db<'_>,
    vault: &Vault,
    tenant_id: &str,
    id: &str,
    field: &str,
    secret: &Secret,
) -> Result<Vec<u8>, OutboundError> {
    let scope = KeyScope::Tenant(tenant_id.to_owned());
    Ok(vault.seal(conn, &location(&scope, id, field), secret.expose().as_bytes())?)
}

/// The current secret and, while a rotation overlaps, the previous one.
pub fn open_secrets(
    conn: &Db<'_>,
    vault: &Vault,
    row: &EndpointRow,
    now: i64,
) -> Result<(Secret, Option<Secret>), OutboundError> {
    let scope = KeyScope::Tenant(row.tenant_id.clone());
    let current = vault.open_string(conn, &location(&scope, &row.id, "secret"), &row.secret)?;
    let previous = match (&row.previous_secret, row.previous_secret_expires_at) {
        (Some(blob), Some(until)) if until > now => {
            Some(vault.open_string(conn, &location(&scope, &row.id, "previous_secret"), blob)?)
        }
        _ => None,
    };
    Ok((current, previous))
}

const COLUMNS: &str = "id, tenant_id, url, description, events, active, retry_policy, secret, previous_secret,
     previous_secret_expires_at, disabled_reason, disabled_at, failing_since, created_at, updated_at, transform_plugin";

fn from_row(r: &Row<'_>) -> Result<EndpointRow, StoreError> {
    let events: String = r.get(4)?;
    let policy: String = r.get(6)?;
    Ok(EndpointRow {
        id: r.get(0)?,
        tenant_id: r.get(1)?,
        url: r.get(2)?,
        description: r.get(3)?,
        events: serde_json::from_str(&events).unwrap_or_default(),
        active: r.get(5)?,
        retry_policy: RetryPolicy::parse(&policy).unwrap_or(RetryPolicy::Exponential),
        secret: r.get(7)?,
        previous_secret: r.get(8)?,
        previous_secret_expires_at: r.get(9)?,
        disabled_reason: r.get(10)?,
        disabled_at: r.get(11)?,
        failing_since: r.get(12)?,
        created_at: r.get(13)?,
        updated_at: r.get(14)?,
        transform_plugin: r.get(15)?,
    })
}

pub fn insert(conn: &Db<'_>, row: &EndpointRow) -> Result<(), OutboundError> {
    conn.execute(
        &format!("INSERT INTO webhook_endpoints ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"),
        params![
            row.id,
            row.tenant_id,
            row.url,
            row.description,
            serde_json::to_string(&row.events).unwrap_or_else(|_| "[]".into()),
            row.active,
            row.retry_policy.as_str(),
            row.secret,
            row.previous_secret,
            row.previous_secret_expires_at,
            row.disabled_reason,
            row.disabled_at,
            row.failing_since,
            row.created_at,
            row.updated_at,
            row.transform_plugin,
        ],
    )?;
    Ok(())
}

pub fn update(conn: &Db<'_>, row: &EndpointRow) -> Result<(), OutboundError> {
    let changed = conn.execute(
        "UPDATE webhook_endpoints SET url = ?3, description = ?4, events = ?5, active = ?6, retry_policy = ?7,
             secret = ?8, previous_secret = ?9, previous_secret_expires_at = ?10, disabled_reason = ?11,
             disabled_at = ?12, failing_since = ?13, updated_at = ?14, transform_plugin = ?15
         WHERE tenant_id = ?1 AND id = ?2",
        params![
            row.tenant_id,
            row.id,
            row.url,
            row.description,
            serde_json::to_string(&row.events).unwrap_or_else(|_| "[]".into()),
            row.active,
            row.retry_policy.as_str(),
            row.secret,
            row.previous_secret,
            row.previous_secret_expires_at,
            row.disabled_reason,
            row.disabled_at,
            row.failing_since,
            row.updated_at,
            row.transform_plugin,
        ],
    )?;
    if changed == 0 {
        return Err(OutboundError::EndpointNotFound);
    }
    conn.announce(&changes::endpoint(&row.id))?;
    Ok(())
}

pub fn find(conn: &Db<'_>, scope: &TenantScope, id: &str) -> Result<Option<EndpointRow>, OutboundError> {
    let tenant_id = scope.id();
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM webhook_endpoints WHERE tenant_id = ?1 AND id = ?2"),
            params![tenant_id, id],
            from_row,
        )
        .optional_row()?)
}

pub fn get(conn: &Db<'_>, scope: &TenantScope, id: &str) -> Result<EndpointRow, OutboundError> {
    find(conn, scope, id)?.ok_or(OutboundError::EndpointNotFound)
}

pub fn list(
    conn: &Db<'_>,
    scope: &TenantScope,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<EndpointRow>, OutboundError> {
    let tenant_id = scope.id();
    let rows = conn.query(&format!(
        "SELECT {COLUMNS} FROM webhook_endpoints WHERE tenant_id = ?1 AND (?2 IS NULL OR id > ?2) ORDER BY id LIMIT ?3"
    ), params![tenant_id, after, limit + 1], from_row)?;
    Ok(rows)
}

/// The tenant's active endpoints (for fan-out).
pub fn list_active(conn: &Db<'_>, tenant_id: &str) -> Result<Vec<EndpointRow>, OutboundError> {
    let rows = conn.query(
        &format!("SELECT {COLUMNS} FROM webhook_endpoints WHERE tenant_id = ?1 AND active = 1"),
        params![tenant_id],
        from_row,
    )?;
    Ok(rows)
}

pub fn delete(conn: &Db<'_>, scope: &TenantScope, id: &str) -> Result<(), OutboundError> {
    let tenant_id = scope.id();
    let removed = conn.execute(
        "DELETE FROM webhook_endpoints WHERE tenant_id = ?1 AND id = ?2",
        params![tenant_id, id],
    )?;
    if removed == 0 {
        return Err(OutboundError::EndpointNotFound);
    }
    conn.announce(&changes::endpoint(id))?;
    Ok(())
}

/// Starts a rotation: `new_secret` signs from now on, the current one keeps signing beside
/// it for [`ROTATION_OVERLAP_MS`].
pub fn rotate_secret(
    conn: &Db<'_>,
    vault: &Vault,
    row: &mut EndpointRow,
    new_secret: &Secret,
    now: i64,
) -> Result<(), OutboundError> {
    let (current, _) = open_secrets(conn, vault, row, now)?;
    row.previous_secret = Some(seal_secret(
        conn,
        vault,
        &row.tenant_id,
        &row.id,
        "previous_secret",
        &current,
    )?);
    row.previous_secret_expires_at = Some(now + ROTATION_OVERLAP_MS);
    row.secret = seal_secret(conn, vault, &row.tenant_id, &row.id, "secret", new_secret)?;
    Ok(())
}

/// Takes an endpoint out of delivery: nothing new is fanned out to it and what was
/// waiting is given up (a re-enabled endpoint gets what it missed by replay).
pub fn disable(conn: &Db<'_>, row: &mut EndpointRow, reason: &str, now: i64) -> Result<usize, OutboundError> {
    row.active = false;
    row.disabled_reason = Some(reason.to_owned());
    row.disabled_at = Some(now);
    row.updated_at = ms_to_rfc3339(now);
    update(conn, row)?;
    let given_up = conn.execute(
        "UPDATE webhook_deliveries SET status = 'exhausted', next_attempt_at = NULL, lease_token = NULL,
             error = COALESCE(error || '; ', '') || ?3
         WHERE tenant_id = ?1 AND endpoint_id = ?2 AND next_attempt_at IS NOT NULL",
        params![row.tenant_id, row.id, format!("endpoint disabled ({reason})")],
    )?;
    Ok(given_up)
}

/// Events of the tenant in `[since, until]` the endpoint subscribes to and has not
/// received successfully.
pub fn count_undelivered_events(
    conn: &Db<'_>,
    row: &EndpointRow,
    since: &str,
    until: &str,
) -> Result<u64, OutboundError> {
    let counts = conn.query(
        "SELECT o.event_type, COUNT(*) FROM outbox o
         WHERE o.tenant_id = ?1 AND o.created_at >= ?2 AND o.created_at <= ?3 AND o.event_type <> 'ping'
           AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = o.id AND d.endpoint_id = ?4
                           AND d.status = 'succeeded')
         GROUP BY o.event_type",
        params![row.tenant_id, since, until, row.id],
        |r| Ok((r.get::<String>(0)?, r.get::<i64>(1)? as u64)),
    )?;
    Ok(counts.iter().filter(|(t, _)| row.wants(t)).map(|(_, n)| n).sum())
}

/// Endpoints failing right now or disabled by failure or 410, for `GET /api/v1/status`
/// (one tenant's, or every tenant's for the platform).
pub fn count_failing(conn: &Db<'_>, reach: &crate::auth::Reach) -> Result<u64, OutboundError> {
    let n: i64 = conn.query_row(
        "SELECT COUNT(*) FROM webhook_endpoints WHERE (?1 IS NULL OR tenant_id = ?1)
           AND (failing_since IS NOT NULL OR disabled_reason IN ('gone', 'failing'))",
        params![reach.tenant_filter()],
        |r| r.get(0),
    )?;
    Ok(n as u64)
}
