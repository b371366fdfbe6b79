//! Retention: audit entries older than `audit_retention_days` and rejected webhook
//! deliveries older than `rejected_events_days` are purged periodically.

use crate::store::sql::Db;
use time::{Duration, OffsetDateTime};

use crate::store::StoreError;

/// Deletes audit entries recorded before `now - retention_days`. Returns how many.
pub fn purge_audit(conn: &Db<'_>, now: OffsetDateTime, retention_days: u32) -> Result<usize, StoreError> {
    let cutoff = crate::time::format_rfc3339(now - Duration::days(retention_days.into()));
    conn.execute("DELETE FROM audit_log WHERE at < ?1", [cutoff])
}

/// What the purge needs.
#[derive(Clone)]
pub struct Retention {
    pub store: crate::store::Store,
    pub clock: crate::time::Clock,
    pub retention_days: u32,
    /// Rejected deliveries (rows and hourly counts) are kept this many days.
    pub rejected_days: u32,
}

impl Retention {
    /// One purge pass (run every audit purge interval): audit entries past retention,
    /// then rejected deliveries past theirs.
    pub async fn purge_once(&self) {
        let (days, now) = (self.retention_days, self.clock.now());
        let result = self.store.write_async(move |tx| purge_audit(tx, now, days)).await;
        match result {
            Ok(0) => {}
            Ok(n) => tracing::info!(purged = n, retention_days = days, "audit entries past retention purged"),
            Err(e) => tracing::warn!(error = %e, "audit purge failed; will retry"),
        }
        let (days, now_unix) = (self.rejected_days, now.unix_timestamp());
        let result = self
            .store
            .write_async(move |tx| crate::inbound::rejections::purge(tx, now_unix, days))
            .await;
        match result {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                purged = n,
                retention_days = days,
                "rejected deliveries past retention purged"
            ),
            Err(e) => tracing::warn!(error = %e, "rejected-delivery purge failed; will retry"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purges_only_entries_past_retention() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(&dir.path().join("t.db")).unwrap();
        let pooled = store.conn().unwrap();
        let conn = crate::store::sql::Db::sqlite(&pooled);
        for (id, at) in [
            ("a", "2019-01-01T00:00:00Z"),
            ("b", "2025-12-10T00:00:00Z"),
            ("c", "2026-01-01T00:00:00Z"),
        ] {
            conn.execute(
                "INSERT INTO audit_log (id, at, actor, action) VALUES (?1, ?2, 'x', 'y')",
                [id, at],
            )
            .unwrap();
        }
        let now = crate::time::parse_rfc3339("2026-01-02T00:00:00Z").unwrap();
        assert_eq!(purge_audit(&conn, now, 30).unwrap(), 1);
        let left: i64 = conn
            .query_row("SELECT COUNT(*) FROM audit_log", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 2);
        assert_eq!(purge_audit(&conn, now, 7 * 365).unwrap(), 0);
    }
}
