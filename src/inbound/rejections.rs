//! Rejected deliveries, kept within bounds: one row each up to `rejected_events_max` per
//! tenant, then counted per hour, provider and reason; both kept `rejected_events_days`.
//! A flood of forged deliveries then costs a tenant a fixed number of rows.

use crate::auth::TenantScope;
use crate::store::sql::{Db, params};
use serde::Serialize;

use super::events::Rejected;
use crate::store::StoreError;

/// How a rejected delivery was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// As an event row (`status = 'rejected'`).
    Event,
    /// As a count in its hour's summary: the tenant already has its bound of rows.
    Summary,
}

impl Recorded {
    pub fn as_str(self) -> &'static str {
        match self {
            Recorded::Event => "event",
            Recorded::Summary => "summary",
        }
    }
}

/// The tenant's stored rejected rows, counting at most to `max` (so the cost is bounded).
pub fn stored_count(conn: &Db<'_>, scope: &TenantScope, max: u32) -> Result<u32, StoreError> {
    count_stored(conn, scope.id(), max)
}

/// [`stored_count`] for the tenant a rejected delivery was addressed to.
fn count_stored(conn: &Db<'_>, tenant_id: &str, max: u32) -> Result<u32, StoreError> {
    conn.query_row(
        "SELECT COUNT(*) FROM (SELECT 1 FROM inbound_events WHERE tenant_id = ?1 AND status = 'rejected' LIMIT ?2) AS recent",
        params![tenant_id, max],
        |r| r.get(0),
    )
}

/// Records a rejected delivery as a row while the tenant is below `max`, else as a count.
pub fn record(conn: &Db<'_>, event: &Rejected, max: u32) -> Result<Recorded, StoreError> {
    let now = crate::time::now();
    if count_stored(conn, &event.tenant_id, max)? < max {
        conn.execute(
            "INSERT INTO inbound_events (id, tenant_id, provider, status, detail, error, received_at, received_epoch)
             VALUES (?1, ?2, ?3, 'rejected', ?4, ?5, ?6, ?7)",
            params![
                event.id,
                event.tenant_id,
                event.provider,
                event.detail.to_string(),
                event.reason,
                crate::time::format_rfc3339(now),
                now.unix_timestamp()
            ],
        )?;
        return Ok(Recorded::Event);
    }
    let hour = now.unix_timestamp().div_euclid(3600) * 3600;
    conn.execute(
        "INSERT INTO inbound_rejection_counts (tenant_id, provider, reason, hour_epoch, count, body_bytes, last_at)
         VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6)
         ON CONFLICT (tenant_id, hour_epoch, provider, reason)
         DO UPDATE SET count = inbound_rejection_counts.count + 1,
             body_bytes = inbound_rejection_counts.body_bytes + excluded.body_bytes, last_at = excluded.last_at",
        params![
            event.tenant_id,
            event.provider,
            event.reason,
            hour,
            event.body_bytes as i64,
            crate::time::format_rfc3339(now)
        ],
    )?;
    Ok(Recorded::Summary)
}

/// Deletes rejected rows and counts older than `days`. Returns how many went.
pub fn purge(conn: &Db<'_>, now_unix: i64, days: u32) -> Result<usize, StoreError> {
    let cutoff = now_unix - i64::from(days) * 86_400;
    // Tenant by tenant, so the partial index on (tenant_id, received_epoch) is used.
    let rows = conn.execute(
        "DELETE FROM inbound_events WHERE tenant_id IN (SELECT id FROM tenants)
         AND status = 'rejected' AND received_epoch < ?1",
        [cutoff],
    )?;
    let counts = conn.execute("DELETE FROM inbound_rejection_counts WHERE hour_epoch < ?1", [cutoff])?;
    Ok(rows + counts)
}

#[derive(Debug, Serialize)]
pub struct HourCount {
    pub hour: String,
    pub provider: String,
    pub reason: String,
    pub count: i64,
    pub body_bytes: i64,
    pub last_at: String,
}

/// The tenant's summarised rejections, newest hour first (at most `limit` rows).
pub fn summarised(conn: &Db<'_>, scope: &TenantScope, limit: u32) -> Result<Vec<HourCount>, StoreError> {
    let tenant_id = scope.id();
    let rows = conn.query(
        "SELECT hour_epoch, provider, reason, count, body_bytes, last_at FROM inbound_rejection_counts
         WHERE tenant_id = ?1 ORDER BY hour_epoch DESC, provider, reason LIMIT ?2",
        params![tenant_id, limit],
        |r| {
            let hour: i64 = r.get(0)?;
            Ok(HourCount {
                hour: time::OffsetDateTime::from_unix_timestamp(hour)
                    .map(crate::time::format_rfc3339)
                    .unwrap_or_default(),
                provider: r.get(1)?,
                reason: r.get(2)?,
                count: r.get(3)?,
                body_bytes: r.get(4)?,
                last_at: r.get(5)?,
            })
        },
    )?;
    Ok(rows)
}

/// Summarised rejections per hour since `start_epoch`, for the hourly chart.
pub fn counts_by_hour(conn: &Db<'_>, scope: &TenantScope, start_epoch: i64) -> Result<Vec<(i64, i64)>, StoreError> {
    let tenant_id = scope.id();
    let rows = conn.query(
        "SELECT hour_epoch / 3600, SUM(count) FROM inbound_rejection_counts
         WHERE tenant_id = ?1 AND hour_epoch >= ?2 GROUP BY hour_epoch",
        params![tenant_id, start_epoch],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rejected(tenant: &str, n: usize) -> Rejected {
        Rejected {
            id: format!("ev{n}"),
            tenant_id: tenant.into(),
            provider: "poshvip".into(),
            reason: "bad_signature".into(),
            body_bytes: 10,
            detail: json!({}),
        }
    }

    #[test]
    fn rows_up_to_the_bound_then_counts_then_purged() {
        let platform = crate::auth::PlatformScope::for_server_work();
        let (t1, t2) = (platform.narrow_to("t1"), platform.narrow_to("t2"));
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(&dir.path().join("t.db")).unwrap();
        let pooled = store.conn().unwrap();
        let conn = crate::store::sql::Db::sqlite(&pooled);
        for t in ["t1", "t2"] {
            conn.execute(
                "INSERT INTO tenants (id, slug, name, tier, created_at, updated_at) VALUES (?1, ?1, ?1, 'free', 'x', 'x')",
                [t],
            )
            .unwrap();
        }
        let kinds: Vec<Recorded> = (0..5).map(|n| record(&conn, &rejected("t1", n), 2).unwrap()).collect();
        assert_eq!(kinds.iter().filter(|k| **k == Recorded::Event).count(), 2);
        assert_eq!(stored_count(&conn, &t1, 100).unwrap(), 2);
        let summary = summarised(&conn, &t1, 10).unwrap();
        assert_eq!(summary.len(), 1);
        assert_eq!((summary[0].count, summary[0].body_bytes), (3, 30));
        // Another tenant has its own bound.
        assert_eq!(record(&conn, &rejected("t2", 9), 2).unwrap(), Recorded::Event);
        assert!(summarised(&conn, &t2, 10).unwrap().is_empty());
        // Nothing is older than a day yet; 40 days on, everything is.
        let now = crate::time::now().unix_timestamp();
        assert_eq!(purge(&conn, now, 1).unwrap(), 0);
        assert_eq!(purge(&conn, now + 40 * 86_400, 30).unwrap(), 4);
        assert_eq!(stored_count(&conn, &t1, 100).unwrap(), 0);
    }
}
