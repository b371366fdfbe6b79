//! Usage counters per token, route and status class, kept in memory and written to the
//! database in batches (one upsert per distinct counter per flush, never one per request).

pub mod routes;

use crate::auth::TenantScope;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::store::sql::{Db, params};
use serde::Serialize;

use crate::store::StoreError;
use crate::store::writer::{Durability, Writer};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct CounterKey {
    tenant_id: String,
    actor: String,
    route: String,
    status_class: &'static str,
    hour: String,
}

/// Counts requests until the next flush, and when each API token was last used (so
/// `last_used_at` costs one write per token per flush, not one per request).
#[derive(Default)]
pub struct UsageRecorder {
    pending: Mutex<HashMap<CounterKey, u64>>,
    /// Token id → when it last answered a request (RFC 3339).
    last_used: Mutex<HashMap<String, String>>,
}

pub fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// The start of the hour containing now, as RFC 3339.
fn current_hour() -> String {
    let now = crate::time::now();
    let hour = now.replace_minute(0).and_then(|t| t.replace_second(0)).unwrap_or(now);
    crate::time::format_rfc3339(hour)
}

impl UsageRecorder {
    /// Counts one answered request. `tenant_id` is `None` for platform principals.
    pub fn record(&self, tenant_id: Option<&str>, actor: &str, route: &str, status: u16) {
        let key = CounterKey {
            tenant_id: tenant_id.unwrap_or("").to_owned(),
            actor: actor.to_owned(),
            route: route.to_owned(),
            status_class: status_class(status),
            hour: current_hour(),
        };
        if let Ok(mut pending) = self.pending.lock() {
            *pending.entry(key).or_insert(0) += 1;
        }
        if let Some(token_id) = actor.strip_prefix("token:")
            && let Ok(mut last_used) = self.last_used.lock()
        {
            last_used.insert(token_id.to_owned(), crate::time::now_rfc3339());
        }
    }

    /// Writes the pending counts and token last-use times in one transaction through
    /// `writer` (relaxed: both are statistics, a power cut may lose the last flush). On
    /// failure they are put back.
    pub fn flush(&self, writer: &Writer) -> Result<usize, StoreError> {
        let batch = self.take();
        let used = self.take_last_used();
        if batch.is_empty() && used.is_empty() {
            return Ok(0);
        }
        let (rows, touched) = (batch.clone(), used.clone());
        let result = writer.write_blocking_with(Durability::Relaxed, move |tx| {
            touch_tokens(tx, &touched)?;
            write_counts(tx, &rows)
        });
        if result.is_err() {
            self.restore(batch, used);
        }
        result
    }

    fn take(&self) -> Vec<(CounterKey, u64)> {
        match self.pending.lock() {
            Ok(mut pending) => pending.drain().collect(),
            Err(_) => Vec::new(),
        }
    }

    fn take_last_used(&self) -> Vec<(String, String)> {
        match self.last_used.lock() {
            Ok(mut last_used) => last_used.drain().collect(),
            Err(_) => Vec::new(),
        }
    }

    fn restore(&self, batch: Vec<(CounterKey, u64)>, used: Vec<(String, String)>) {
        if let Ok(mut pending) = self.pending.lock() {
            for (key, count) in batch {
                *pending.entry(key).or_insert(0) += count;
            }
        }
        if let Ok(mut last_used) = self.last_used.lock() {
            for (token_id, at) in used {
                let kept = last_used.entry(token_id).or_insert_with(|| at.clone());
                if *kept < at {
                    *kept = at;
                }
            }
        }
    }
}

fn touch_tokens(tx: &Db<'_>, used: &[(String, String)]) -> Result<(), StoreError> {
    for (token_id, at) in used {
        tx.execute(
            "UPDATE api_tokens SET last_used_at = ?2 WHERE id = ?1 AND (last_used_at IS NULL OR last_used_at < ?2)",
            params![token_id, at],
        )?;
    }
    Ok(())
}

fn write_counts(tx: &Db<'_>, batch: &[(CounterKey, u64)]) -> Result<usize, StoreError> {
    for (key, count) in batch {
        tx.execute(
            "INSERT INTO usage_counters (tenant_id, actor, route, status_class, hour, count)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (tenant_id, hour, actor, route, status_class)
             DO UPDATE SET count = usage_counters.count + excluded.count",
            params![
                key.tenant_id,
                key.actor,
                key.route,
                key.status_class,
                key.hour,
                *count as i64
            ],
        )?;
    }
    Ok(batch.len())
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct UsageRow {
    /// `token:<id>` or `user:<id>`.
    pub actor: String,
    pub token_id: Option<String>,
    pub route: String,
    pub status_class: String,
    pub count: u64,
}

/// Counts for a tenant between `from` (inclusive) and `to` (exclusive), by hour bucket.
pub fn usage_between(conn: &Db<'_>, scope: &TenantScope, from: &str, to: &str) -> Result<Vec<UsageRow>, StoreError> {
    let tenant_id = scope.id();
    let rows = conn.query(
        "SELECT actor, route, status_class, SUM(count) FROM usage_counters
         WHERE tenant_id = ?1 AND hour >= ?2 AND hour < ?3
         GROUP BY actor, route, status_class ORDER BY actor, route, status_class",
        params![tenant_id, from, to],
        |r| {
            let actor: String = r.get(0)?;
            Ok(UsageRow {
                token_id: actor.strip_prefix("token:").map(str::to_owned),
                actor,
                route: r.get(1)?,
                status_class: r.get(2)?,
                count: r.get::<i64>(3)?.max(0) as u64,
            })
        },
    )?;
    Ok(rows)
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ActorUsage {
    pub actor: String,
    pub token_id: Option<String>,
    /// The token's name or the user's email, while they exist.
    pub name: Option<String>,
    pub count: u64,
}

/// Counts per actor between `from` and `to`, with who the actor is in words.
pub fn usage_by_actor(conn: &Db<'_>, scope: &TenantScope, from: &str, to: &str) -> Result<Vec<ActorUsage>, StoreError> {
    let tenant_id = scope.id();
    let rows = conn.query(
        "SELECT c.actor, MAX(COALESCE(u.email, t.name)), SUM(c.count) FROM usage_counters c
         LEFT JOIN users u ON substr(c.actor, 1, 5) = 'user:' AND u.id = substr(c.actor, 6)
         LEFT JOIN api_tokens t ON substr(c.actor, 1, 6) = 'token:' AND t.id = substr(c.actor, 7)
         WHERE c.tenant_id = ?1 AND c.hour >= ?2 AND c.hour < ?3
         GROUP BY c.actor ORDER BY c.actor",
        params![tenant_id, from, to],
        |r| {
            let actor: String = r.get(0)?;
            Ok(ActorUsage {
                token_id: actor.strip_prefix("token:").map(str::to_owned),
                actor,
                name: r.get(1)?,
                count: r.get::<i64>(2)?.max(0) as u64,
            })
        },
    )?;
    Ok(rows)
}

/// Counts per hour and status class between `from` and `to`: `(hour, status_class, count)`,
/// hours without requests left out.
pub fn usage_by_hour(
    conn: &Db<'_>,
    scope: &TenantScope,
    from: &str,
    to: &str,
) -> Result<Vec<(String, String, u64)>, StoreError> {
    let tenant_id = scope.id();
    let rows = conn.query(
        "SELECT hour, status_class, SUM(count) FROM usage_counters
         WHERE tenant_id = ?1 AND hour >= ?2 AND hour < ?3
         GROUP BY hour, status_class ORDER BY hour, status_class",
        params![tenant_id, from, to],
        |r| Ok((r.get(0)?, r.get(1)?, r.get::<i64>(2)?.max(0) as u64)),
    )?;
    Ok(rows)
}

/// Usage counting: the in-memory counters and their periodic flush. Cheap to clone.
#[derive(Clone)]
pub struct Usage {
    writer: Writer,
    recorder: Arc<UsageRecorder>,
}

impl Usage {
    pub fn new(writer: Writer) -> Usage {
        Usage {
            writer,
            recorder: Arc::default(),
        }
    }

    /// Counts one answered request. `tenant_id` is `None` for platform principals.
    pub fn record(&self, tenant_id: Option<&str>, actor: &str, route: &str, status: u16) {
        self.recorder.record(tenant_id, actor, route, status);
    }

    /// Writes what has been counted so far; a failure keeps the counts for the next try.
    pub async fn flush_now(&self) {
        let batch = self.recorder.take();
        let used = self.recorder.take_last_used();
        if batch.is_empty() && used.is_empty() {
            return;
        }
        let (rows, touched) = (batch.clone(), used.clone());
        let result = self
            .writer
            .write_with(Durability::Relaxed, move |tx| {
                touch_tokens(tx, &touched)?;
                write_counts(tx, &rows)
            })
            .await;
        if let Err(e) = result {
            self.recorder.restore(batch, used);
            tracing::warn!(error = %e, "usage flush failed; counts kept for the next try");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_counts_and_adds_to_existing_rows() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(&dir.path().join("t.db")).unwrap();
        let writer = Writer::start(&store).unwrap();
        let usage = UsageRecorder::default();
        for _ in 0..3 {
            usage.record(Some("t1"), "token:a", "/api/v1/x", 200);
        }
        usage.record(Some("t1"), "token:a", "/api/v1/x", 404);
        usage.record(Some("t2"), "token:b", "/api/v1/x", 200);
        assert_eq!(usage.flush(&writer).unwrap(), 3);
        usage.record(Some("t1"), "token:a", "/api/v1/x", 201);
        assert_eq!(usage.flush(&writer).unwrap(), 1);
        assert_eq!(usage.flush(&writer).unwrap(), 0);
        let scope = |t: &str| crate::auth::PlatformScope::for_server_work().narrow_to(t);
        let between = |t: &str| {
            store
                .read(|c| usage_between(c, &scope(t), "2000-01-01T00:00:00Z", "2999-01-01T00:00:00Z"))
                .unwrap()
        };
        assert_eq!(between("t2").len(), 1, "a tenant's scope reads its own counts only");
        let rows = between("t1");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].status_class, "2xx");
        assert_eq!(rows[0].count, 4);
        assert_eq!(rows[0].token_id.as_deref(), Some("a"));
        assert_eq!(rows[1].count, 1);
    }
}
