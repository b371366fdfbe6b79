//! Retention: audit entries older than `audit_retention_days` and rejected deliveries
//! older than `rejected_events_days` are purged periodically.

use rusqlite::Connection;
use time::{Duration, OffsetDateTime};

use crate::store::StoreError;

/// Deletes audit entries recorded before `now - retention_days`. Returns how many.
pub fn purge_audit(conn: &Connection, now: OffsetDateTime, retention_days: u32) -> Result<usize, StoreError> {
    let cutoff = crate::time::format_rfc3339(now - Duration::days(retention_days.into()));
    Ok(conn.execute("DELETE FROM audit_log WHERE at < ?1", [cutoff])?)
}

/// Runs the purge at start and then on an interval until shutdown.
pub async fn run_purger(state: crate::app::AppState) {
    let mut shutdown = state.shutdown.clone();
    let mut tick = tokio::time::interval(state.config.audit_purge_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => break,
        }
        if *shutdown.borrow() {
            break;
        }
        let days = state.config.audit_retention_days;
        let result = state
            .store
            .write_async(move |tx| purge_audit(tx, crate::time::now(), days))
            .await;
        match result {
            Ok(0) => {}
            Ok(n) => tracing::info!(purged = n, retention_days = days, "audit entries past retention purged"),
            Err(e) => tracing::warn!(error = %e, "audit purge failed; will retry"),
        }
        let days = state.config.rejected_events_days;
        let result = state
            .store
            .write_async(move |tx| crate::inbound::rejections::purge(tx, crate::time::now().unix_timestamp(), days))
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
        let conn = store.conn().unwrap();
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
