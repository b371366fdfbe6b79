//! Outbox → deliveries: fan each new domain event out to every matching active endpoint of
//! its tenant, and claim deliveries that are due (retries, tests, replays, lost leases).
//! Both hand back [`WorkItem`]s already leased to this process.

use crate::auth::PlatformScope;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use crate::store::sql::{Db, params};

use super::OutboundError;
use super::endpoints::{self, EndpointRow};
use super::outcome::{Target, WorkItem};
use super::signing::SigningKey;
use crate::plugins::Plugins;
use crate::store::OptionalRow;
use crate::store::nodes::Reclaim;
use crate::time::now_ms;
use crate::vault::Vault;

/// Builds (or reuses from `cache`) the worker's view of an endpoint.
pub fn target_for(
    conn: &Db<'_>,
    vault: &Vault,
    plugins: &Plugins,
    cache: &mut HashMap<String, Arc<Target>>,
    row: &EndpointRow,
    now: i64,
) -> Result<Arc<Target>, OutboundError> {
    if let Some(t) = cache.get(&row.id)
        && t.updated_at == row.updated_at
        && !t.is_stale()
    {
        return Ok(t.clone());
    }
    let (current, previous) = endpoints::open_secrets(conn, vault, row, now)?;
    let key =
        SigningKey::from_secret(&current).ok_or(OutboundError::invalid("secret", "stored secret is malformed"))?;
    let previous = match (previous, row.previous_secret_expires_at) {
        (Some(p), Some(until)) => SigningKey::from_secret(&p).map(|k| (k, until)),
        _ => None,
    };
    let transform = row
        .transform_plugin
        .as_deref()
        .map(|plugin| plugins.outbound_for(conn, &row.tenant_id, plugin).map(Arc::new));
    let target = Arc::new(Target {
        endpoint_id: row.id.clone(),
        tenant_id: row.tenant_id.clone(),
        url: row.url.clone(),
        retry_policy: row.retry_policy,
        updated_at: row.updated_at.clone(),
        key,
        previous,
        stale: AtomicBool::new(false),
        transform,
    });
    // Work queued with the replaced view must not go out with an old URL or secret.
    if let Some(replaced) = cache.insert(row.id.clone(), target.clone()) {
        replaced.stale.store(true, std::sync::atomic::Ordering::Release);
    }
    Ok(target)
}

/// How the fan-out and claims lease what they hand over.
pub struct Lease {
    pub token: Arc<str>,
    /// The node holding it ([`crate::store::Store::node_id`]).
    pub owner: Arc<str>,
    pub until_ms: i64,
    /// Endpoints whose in-memory queue is full: the fan-out stores their deliveries due
    /// now (claimed later) instead of leasing them, and claims skip them.
    pub saturated: Vec<String>,
}

impl Lease {
    fn is_saturated(&self, endpoint_id: &str) -> bool {
        self.saturated.iter().any(|s| s == endpoint_id)
    }
}

/// What one fan-out produced.
pub struct FanOut {
    pub work: Vec<WorkItem>,
    pub events: usize,
    /// Deliveries stored unleased because their endpoint's queue was full.
    pub deferred: usize,
}

/// Fans out up to `limit` undispatched outbox events in one transaction.
pub fn fan_out(
    tx: &Db<'_>,
    vault: &Vault,
    plugins: &Plugins,
    cache: &mut HashMap<String, Arc<Target>>,
    lease: &Lease,
    limit: u32,
) -> Result<FanOut, OutboundError> {
    let now = now_ms();
    // Locked as read, so two nodes fanning out at once never both take an event (each
    // would create its own deliveries, and every endpoint would get the event twice).
    let events: Vec<(String, String, String, String, String)> = tx.query(
        &format!(
            "SELECT id, tenant_id, event_type, payload, created_at FROM outbox
             WHERE dispatched_at IS NULL ORDER BY id LIMIT ?1 {}",
            tx.dialect().skip_locked()
        ),
        [limit],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
    )?;
    let mut deferred = 0;
    if events.is_empty() {
        return Ok(FanOut {
            work: Vec::new(),
            events: 0,
            deferred,
        });
    }
    let mut by_tenant: HashMap<String, Vec<EndpointRow>> = HashMap::new();
    let mut work = Vec::new();
    let dispatched_at = crate::time::now_rfc3339();
    const INSERT: &str = "INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_id, event_type, origin,
             status, attempts, next_attempt_at, lease_token, lease_owner, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'event', 'pending', 0, ?6, ?7, ?9, ?8)";
    for (event_id, tenant_id, event_type, payload, created_at) in &events {
        if !by_tenant.contains_key(tenant_id) {
            by_tenant.insert(tenant_id.clone(), endpoints::list_active(tx, tenant_id)?);
        }
        let payload: Arc<str> = Arc::from(payload.as_str());
        // `ping` goes only where it is asked for (POST .../test), never to every endpoint.
        let matching = by_tenant[tenant_id]
            .iter()
            .filter(|e| event_type != "ping" && e.wants(event_type));
        for endpoint in matching {
            let delivery_id = crate::ids::new_id();
            let leased = !lease.is_saturated(&endpoint.id);
            let (due, token, owner) = if leased {
                (lease.until_ms, Some(&*lease.token), Some(&*lease.owner))
            } else {
                deferred += 1;
                (now, None, None)
            };
            tx.execute(
                INSERT,
                params![
                    delivery_id,
                    tenant_id,
                    endpoint.id,
                    event_id,
                    event_type,
                    due,
                    token,
                    now,
                    owner
                ],
            )?;
            if leased {
                work.push(WorkItem {
                    delivery_id,
                    lease_token: lease.token.clone(),
                    lease_until_ms: lease.until_ms,
                    event_id: event_id.clone(),
                    event_type: event_type.clone(),
                    attempt: 1,
                    payload: payload.clone(),
                    target: target_for(tx, vault, plugins, cache, endpoint, now)?,
                    event_at_ms: crate::time::parse_rfc3339(created_at)
                        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64),
                });
            }
        }
        tx.execute(
            "UPDATE outbox SET dispatched_at = ?2 WHERE id = ?1",
            params![event_id, dispatched_at],
        )?;
    }
    Ok(FanOut {
        work,
        events: events.len(),
        deferred,
    })
}

/// Leases up to `limit` due deliveries, skipping endpoints in `saturated`.
pub fn claim_due(
    tx: &Db<'_>,
    vault: &Vault,
    plugins: &Plugins,
    cache: &mut HashMap<String, Arc<Target>>,
    lease: &Lease,
    limit: u32,
) -> Result<Vec<WorkItem>, OutboundError> {
    let now = now_ms();
    let skip = serde_json::to_string(&lease.saturated).unwrap_or_else(|_| "[]".into());
    let claimed: Vec<(String, String, String, String, String, u32)> = tx.query(
        &format!(
            "UPDATE webhook_deliveries SET next_attempt_at = ?3, lease_token = ?4, lease_owner = ?6
             WHERE id IN (SELECT id FROM webhook_deliveries
                          WHERE next_attempt_at <= ?1 AND endpoint_id NOT IN ({})
                          ORDER BY next_attempt_at LIMIT ?5 {})
             RETURNING id, tenant_id, endpoint_id, event_id, event_type, attempts",
            tx.dialect().json_array_values("?2"),
            tx.dialect().skip_locked()
        ),
        params![now, skip, lease.until_ms, &*lease.token, limit, &*lease.owner],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
    )?;
    let mut work = Vec::with_capacity(claimed.len());
    let mut endpoints_seen: HashMap<String, Option<EndpointRow>> = HashMap::new();
    for (delivery_id, tenant_id, endpoint_id, event_id, event_type, attempts) in claimed {
        if !endpoints_seen.contains_key(&endpoint_id) {
            // The engine acts for the tenant of the row it claimed.
            let scope = PlatformScope::for_server_work().narrow_to(&tenant_id);
            let row = endpoints::find(tx, &scope, &endpoint_id)?.filter(|e| e.active);
            endpoints_seen.insert(endpoint_id.clone(), row);
        }
        let payload: Option<String> = tx
            .query_row("SELECT payload FROM outbox WHERE id = ?1", [&event_id], |r| r.get(0))
            .optional_row()?;
        let (Some(endpoint), Some(payload)) = (&endpoints_seen[&endpoint_id], payload) else {
            tx.execute(
                "UPDATE webhook_deliveries SET status = 'exhausted', next_attempt_at = NULL, lease_token = NULL,
                     error = 'endpoint disabled or event no longer stored' WHERE id = ?1",
                [&delivery_id],
            )?;
            continue;
        };
        work.push(WorkItem {
            delivery_id,
            lease_token: lease.token.clone(),
            lease_until_ms: lease.until_ms,
            event_id,
            event_type,
            attempt: attempts + 1,
            payload: Arc::from(payload),
            target: target_for(tx, vault, plugins, cache, endpoint, now)?,
            event_at_ms: None,
        });
    }
    Ok(work)
}

/// Cheap read-only checks, so an idle engine never takes the write lock.
pub fn has_undispatched(conn: &Db<'_>) -> Result<bool, OutboundError> {
    Ok(conn
        .query_row("SELECT 1 FROM outbox WHERE dispatched_at IS NULL LIMIT 1", [], |_| {
            Ok(())
        })
        .optional_row()?
        .is_some())
}

pub fn has_due(conn: &Db<'_>, now: i64) -> Result<bool, OutboundError> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM webhook_deliveries WHERE next_attempt_at <= ?1 LIMIT 1",
            [now],
            |_| Ok(()),
        )
        .optional_row()?
        .is_some())
}

/// Hands back the leases of a process that is gone (every lease at a start-up on SQLite,
/// else those of silent nodes): their deliveries are due again now, with the same
/// `webhook-id`.
pub fn release_orphaned_leases(conn: &Db<'_>, reclaim: &Reclaim) -> Result<usize, OutboundError> {
    const HAND_BACK: &str = "UPDATE webhook_deliveries SET next_attempt_at = ?1, lease_token = NULL, lease_owner = NULL
         WHERE lease_token IS NOT NULL AND next_attempt_at IS NOT NULL";
    Ok(match reclaim.owner_gone("lease_owner", 2) {
        None => conn.execute(HAND_BACK, [now_ms()])?,
        Some(gone) => conn.execute(
            &format!("{HAND_BACK} AND {gone}"),
            params![now_ms(), reclaim.cutoff_ms()],
        )?,
    })
}
