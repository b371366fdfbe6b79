//! SQL for the job queue. Times are unix milliseconds, passed in so tests control them.

use crate::auth::TenantScope;
use crate::store::sql::{Db, Row, params};
use serde::Serialize;
use serde_json::Value;

use super::JobStatus;
use crate::store::nodes::Reclaim;
use crate::store::{OptionalRow, StoreError};

#[derive(Debug, Clone, Serialize)]
pub struct Job {
    pub id: String,
    pub tenant_id: Option<String>,
    pub kind: String,
    #[serde(skip)]
    pub payload: String,
    pub status: JobStatus,
    pub attempts: u32,
    pub max_attempts: u32,
    pub run_at: String,
    pub last_error: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub finished_at: Option<String>,
    /// What the job reported it found and did (e.g. an import's counts).
    pub result: Option<Value>,
}

const COLUMNS: &str = "id, tenant_id, kind, payload, status, attempts, max_attempts, run_at, last_error, created_at, updated_at, finished_at, result";

fn from_row(row: &Row<'_>) -> Result<Job, StoreError> {
    let status: String = row.get(4)?;
    let run_at: i64 = row.get(7)?;
    Ok(Job {
        id: row.get(0)?,
        tenant_id: row.get(1)?,
        kind: row.get(2)?,
        payload: row.get(3)?,
        status: JobStatus::parse(&status).unwrap_or(JobStatus::Pending),
        attempts: row.get(5)?,
        max_attempts: row.get(6)?,
        run_at: crate::time::ms_to_rfc3339(run_at),
        last_error: row.get(8)?,
        created_at: row.get(9)?,
        updated_at: row.get(10)?,
        finished_at: row.get(11)?,
        result: row
            .get::<Option<String>>(12)?
            .and_then(|text| serde_json::from_str(&text).ok()),
    })
}

/// Records what a job found and did; a later attempt replaces it.
pub fn set_result(conn: &Db<'_>, id: &str, result: &Value) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE jobs SET result = ?2 WHERE id = ?1",
        params![id, result.to_string()],
    )?;
    Ok(())
}

/// Adds a job due at `run_at_ms`, inside the caller's transaction.
pub fn enqueue_at(
    conn: &Db<'_>,
    tenant_id: Option<&str>,
    kind: &str,
    payload: &Value,
    run_at_ms: i64,
    max_attempts: u32,
) -> Result<String, StoreError> {
    let id = crate::ids::new_id();
    let now = crate::time::now_rfc3339();
    conn.execute(
        "INSERT INTO jobs (id, tenant_id, kind, payload, status, attempts, max_attempts, run_at, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, 'pending', 0, ?5, ?6, ?7, ?7)", params![id, tenant_id, kind, payload.to_string(), max_attempts, run_at_ms, now])?;
    Ok(id)
}

/// Hands leased work back to the queue: every lease at a start-up on SQLite (nothing can
/// still be running), else the leases of nodes that went silent.
pub fn recover(conn: &Db<'_>, reclaim: &Reclaim) -> Result<usize, StoreError> {
    const HAND_BACK: &str = "UPDATE jobs SET status = 'pending', lease_until = NULL, lease_owner = NULL, updated_at = ?1 WHERE status = 'running'";
    let now = crate::time::now_rfc3339();
    match reclaim.owner_gone("lease_owner", 2) {
        None => conn.execute(HAND_BACK, [now]),
        Some(gone) => conn.execute(&format!("{HAND_BACK} AND {gone}"), params![now, reclaim.cutoff_ms()]),
    }
}

/// Claims the oldest due job (or one whose lease ran out) with a lease of `lease_ms`.
pub fn claim_next(conn: &Db<'_>, owner: &str, now_ms: i64, lease_ms: i64) -> Result<Option<Job>, StoreError> {
    Ok(claim_batch(conn, owner, now_ms, lease_ms, 1, &[])?.into_iter().next())
}

/// Claims up to `limit` due jobs at once (one write for a whole batch of work), none of
/// the kinds in `skip`, leased to `owner` (this node): first those whose lease ran out,
/// then pending ones by due time.
///
/// Two statements, each walking `jobs_due` in order and stopping at `limit`: one query
/// with an `OR` of both states would collect and sort every due job first, which costs
/// as much as the backlog is long — in a burst, most of the writer's time.
pub fn claim_batch(
    conn: &Db<'_>,
    owner: &str,
    now_ms: i64,
    lease_ms: i64,
    limit: usize,
    skip: &[String],
) -> Result<Vec<Job>, StoreError> {
    let skip = serde_json::to_string(skip).unwrap_or_else(|_| "[]".into());
    let mut jobs = Vec::new();
    for (state, due_column) in [("running", "lease_until"), ("pending", "run_at")] {
        let room = limit.saturating_sub(jobs.len());
        if room == 0 {
            break;
        }
        // Expired leases compare strictly (a lease ending now still holds); due jobs run at `run_at`.
        let due = if state == "running" { "<" } else { "<=" };
        // On PostgreSQL several nodes claim at once: each skips the rows another holds.
        let kinds_skipped = conn.dialect().json_array_values("?5");
        let lock = conn.dialect().skip_locked();
        let claimed = conn.query(
            &format!(
                "UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_until = ?2, updated_at = ?3, lease_owner = ?6
                 WHERE id IN (SELECT id FROM jobs
                              WHERE status = '{state}' AND {due_column} {due} ?1
                                AND kind NOT IN ({kinds_skipped})
                              ORDER BY {due_column} LIMIT ?4 {lock})
                 RETURNING {COLUMNS}"
            ),
            params![now_ms, now_ms + lease_ms, crate::time::now_rfc3339(), room as i64, skip, owner],
            from_row,
        )?;
        jobs.extend(claimed);
    }
    Ok(jobs)
}

/// Hands a claimed job that was never started back to the queue, due as it was, without
/// counting the attempt.
pub fn release(conn: &Db<'_>, id: &str) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE jobs SET status = 'pending', attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, lease_until = NULL, updated_at = ?2
         WHERE id = ?1 AND status = 'running'",
        params![id, crate::time::now_rfc3339()],
    )?;
    Ok(())
}

/// How long until some job is due (pending run_at or an expired lease); `None` if idle.
pub fn next_due_in(conn: &Db<'_>, now_ms: i64) -> Result<Option<i64>, StoreError> {
    let next: Option<i64> = conn.query_row(
        "SELECT MIN(t) FROM (
            SELECT MIN(run_at) AS t FROM jobs WHERE status = 'pending'
            UNION ALL SELECT MIN(lease_until) FROM jobs WHERE status = 'running') AS due",
        [],
        |r| r.get(0),
    )?;
    Ok(next.map(|t| (t - now_ms).max(0)))
}

/// Extends to `until_ms` the leases of the `running` jobs (id and the attempt claimed)
/// that `owner` still holds at that attempt.
pub fn renew(conn: &Db<'_>, running: &[(String, i64)], owner: &str, until_ms: i64) -> Result<usize, StoreError> {
    let mut renewed = 0;
    for (id, attempts) in running {
        renewed += conn.execute(
            "UPDATE jobs SET lease_until = ?4 WHERE id = ?1 AND status = 'running' AND attempts = ?2 AND lease_owner = ?3",
            params![id, attempts, owner, until_ms],
        )?;
    }
    Ok(renewed)
}

/// Whether `job` is still this claim's: running, leased by `owner`, at the attempt it was
/// claimed for. A node that stalled past its lease finds its jobs handed to another claim,
/// and must not record what it did. Locks the row until the commit.
pub fn still_held(conn: &Db<'_>, job: &Job, owner: &str) -> Result<bool, StoreError> {
    let held = conn
        .query_row(
            &format!(
                "SELECT 1 FROM jobs WHERE id = ?1 AND status = 'running' AND attempts = ?2 AND lease_owner = ?3 {}",
                conn.dialect().lock_rows()
            ),
            params![job.id, job.attempts, owner],
            |_| Ok(()),
        )
        .optional_row()?;
    Ok(held.is_some())
}

pub fn complete(conn: &Db<'_>, id: &str) -> Result<(), StoreError> {
    let now = crate::time::now_rfc3339();
    conn.execute(
        "UPDATE jobs SET status = 'succeeded', lease_until = NULL, last_error = NULL, updated_at = ?2, finished_at = ?2
         WHERE id = ?1",
        params![id, now],
    )?;
    Ok(())
}

/// Records a failed attempt: back to `pending` at `retry_at_ms`, or `failed` for good.
/// Returns true when the job is given up.
pub fn record_failure(conn: &Db<'_>, id: &str, error: &str, retry_at_ms: Option<i64>) -> Result<bool, StoreError> {
    let now = crate::time::now_rfc3339();
    let error: String = error.chars().take(1000).collect();
    if let Some(at) = retry_at_ms {
        let changed = conn.execute(
            "UPDATE jobs SET status = 'pending', run_at = ?2, lease_until = NULL, last_error = ?3, updated_at = ?4
             WHERE id = ?1 AND attempts < max_attempts",
            params![id, at, error, now],
        )?;
        if changed > 0 {
            return Ok(false);
        }
    }
    conn.execute(
        "UPDATE jobs SET status = 'failed', lease_until = NULL, last_error = ?2, updated_at = ?3, finished_at = ?3
         WHERE id = ?1",
        params![id, error, now],
    )?;
    Ok(true)
}

pub fn find(conn: &Db<'_>, id: &str) -> Result<Option<Job>, StoreError> {
    conn.query_row(&format!("SELECT {COLUMNS} FROM jobs WHERE id = ?1"), [id], from_row)
        .optional_row()
}

/// Why a manual retry did not queue the job.
#[derive(Debug, PartialEq, Eq)]
pub enum RetryRefused {
    NotFailed(JobStatus),
    NotFound,
}

/// Puts a tenant's failed job back in the queue, due at `now_ms`, with one more attempt
/// than it has used (its last error stays until the attempt replaces it).
pub fn retry_failed(
    conn: &Db<'_>,
    tenant_id: &str,
    id: &str,
    now_ms: i64,
) -> Result<Result<Job, RetryRefused>, StoreError> {
    let queued = conn
        .query_row(
            &format!(
                "UPDATE jobs SET status = 'pending', run_at = ?3, max_attempts = CASE WHEN max_attempts > attempts THEN max_attempts ELSE attempts + 1 END,
                        lease_until = NULL, finished_at = NULL, updated_at = ?4
                 WHERE id = ?1 AND tenant_id = ?2 AND status = 'failed'
                 RETURNING {COLUMNS}"
            ),
            params![id, tenant_id, now_ms, crate::time::now_rfc3339()],
            from_row,
        )
        .optional_row()?;
    if let Some(job) = queued {
        return Ok(Ok(job));
    }
    let status: Option<String> = conn
        .query_row(
            "SELECT status FROM jobs WHERE id = ?1 AND tenant_id = ?2",
            params![id, tenant_id],
            |r| r.get(0),
        )
        .optional_row()?;
    Ok(Err(match status.as_deref().and_then(JobStatus::parse) {
        Some(status) => RetryRefused::NotFailed(status),
        None => RetryRefused::NotFound,
    }))
}

#[derive(Debug, Default, Clone)]
pub struct JobFilter {
    pub kind: Option<String>,
    pub status: Option<String>,
    pub before: Option<String>,
}

/// A tenant's jobs, newest first.
pub fn list(conn: &Db<'_>, scope: &TenantScope, filter: &JobFilter, limit: u32) -> Result<Vec<Job>, StoreError> {
    let tenant_id = scope.id();
    let rows = conn.query(
        &format!(
            "SELECT {COLUMNS} FROM jobs WHERE tenant_id = ?1 AND (?2 IS NULL OR kind = ?2)
         AND (?3 IS NULL OR status = ?3) AND (?4 IS NULL OR id < ?4) ORDER BY id DESC LIMIT ?5"
        ),
        params![tenant_id, filter.kind, filter.status, filter.before, limit + 1],
        from_row,
    )?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        (dir, store)
    }

    #[test]
    fn a_claim_whose_lease_went_to_another_holds_the_job_no_more() {
        let (_dir, store) = store();
        let pooled = store.conn().unwrap();
        let conn = crate::store::sql::Db::sqlite(&pooled);
        enqueue_at(&conn, None, "a", &serde_json::json!({}), 50, 5).unwrap();
        let first = claim_batch(&conn, "node-a", 100, 10, 1, &[]).unwrap().remove(0);
        assert!(still_held(&conn, &first, "node-a").unwrap());
        assert!(!still_held(&conn, &first, "node-b").unwrap(), "another node's claim");
        // The lease ran out and the same node claimed the job again: the first run is over.
        let again = claim_batch(&conn, "node-a", 200, 10, 1, &[]).unwrap().remove(0);
        assert_eq!((again.id.as_str(), again.attempts), (first.id.as_str(), 2));
        assert!(!still_held(&conn, &first, "node-a").unwrap(), "an earlier attempt");
        assert!(still_held(&conn, &again, "node-a").unwrap());
        complete(&conn, &again.id).unwrap();
        assert!(!still_held(&conn, &again, "node-a").unwrap(), "a finished job");
    }

    #[test]
    fn a_batch_takes_expired_leases_first_then_the_oldest_due_and_skips_full_kinds() {
        let (_dir, store) = store();
        let pooled = store.conn().unwrap();
        let conn = crate::store::sql::Db::sqlite(&pooled);
        let payload = serde_json::json!({});
        let stale = enqueue_at(&conn, None, "a", &payload, 50, 5).unwrap();
        assert_eq!(claim_batch(&conn, "node-a", 100, 10, 1, &[]).unwrap()[0].id, stale);
        let newer = enqueue_at(&conn, None, "a", &payload, 300, 5).unwrap();
        let older = enqueue_at(&conn, None, "a", &payload, 200, 5).unwrap();
        let skipped = enqueue_at(&conn, None, "b", &payload, 100, 5).unwrap();
        let not_due = enqueue_at(&conn, None, "a", &payload, 10_000, 5).unwrap();
        let ids = |jobs: Vec<Job>| jobs.into_iter().map(|j| j.id).collect::<Vec<_>>();
        let claimed = ids(claim_batch(&conn, "node-a", 1_000, 10, 2, &["b".into()]).unwrap());
        assert_eq!(
            claimed,
            vec![stale.clone(), older.clone()],
            "the expired lease, then the oldest due"
        );
        let rest = ids(claim_batch(&conn, "node-a", 1_000, 10, 10, &[]).unwrap());
        assert_eq!(rest.len(), 2);
        assert!(rest.contains(&newer) && rest.contains(&skipped) && !rest.contains(&not_due));
    }

    #[test]
    fn claim_lease_retry_and_give_up() {
        let (_dir, store) = store();
        let pooled = store.conn().unwrap();
        let conn = crate::store::sql::Db::sqlite(&pooled);
        let id = enqueue_at(&conn, None, "test.kind", &serde_json::json!({"n":1}), 1_000, 2).unwrap();
        assert!(claim_next(&conn, "node-a", 999, 100).unwrap().is_none(), "not due yet");
        assert_eq!(next_due_in(&conn, 900).unwrap(), Some(100));
        let job = claim_next(&conn, "node-a", 1_000, 100).unwrap().unwrap();
        assert_eq!((job.id.as_str(), job.attempts), (id.as_str(), 1));
        assert!(claim_next(&conn, "node-a", 1_050, 100).unwrap().is_none(), "leased");
        // The worker died: the lease runs out and the job is claimed again.
        let again = claim_next(&conn, "node-a", 1_101, 100).unwrap().unwrap();
        assert_eq!(again.attempts, 2);
        // Second attempt fails: max_attempts reached, so it is given up.
        assert!(record_failure(&conn, &id, "boom", Some(5_000)).unwrap());
        let job = find(&conn, &id).unwrap().unwrap();
        assert_eq!(job.status, JobStatus::Failed);
        assert_eq!(job.last_error.as_deref(), Some("boom"));
        assert_eq!(next_due_in(&conn, 0).unwrap(), None);
    }

    #[test]
    fn a_failed_job_is_retried_once_more_and_only_in_its_tenant() {
        let (_dir, store) = store();
        let pooled = store.conn().unwrap();
        let conn = crate::store::sql::Db::sqlite(&pooled);
        conn.execute(
            "INSERT INTO tenants (id, slug, name, tier, created_at, updated_at) VALUES ('t1', 'a', 'A', 'free', 'x', 'x')",
            [],
        )
        .unwrap();
        let id = enqueue_at(&conn, Some("t1"), "k", &Value::Null, 0, 1).unwrap();
        assert_eq!(
            retry_failed(&conn, "t1", &id, 30).unwrap().unwrap_err(),
            RetryRefused::NotFailed(JobStatus::Pending)
        );
        claim_next(&conn, "node-a", 10, 100).unwrap().unwrap();
        assert!(
            record_failure(&conn, &id, "boom", Some(20)).unwrap(),
            "one attempt allowed"
        );
        assert_eq!(
            retry_failed(&conn, "other", &id, 30).unwrap().unwrap_err(),
            RetryRefused::NotFound
        );
        let job = retry_failed(&conn, "t1", &id, 30)
            .unwrap()
            .expect("a failed job is queued again");
        assert_eq!((job.status, job.attempts, job.max_attempts), (JobStatus::Pending, 1, 2));
        assert_eq!(job.last_error.as_deref(), Some("boom"));
        assert_eq!(job.finished_at, None);
        let again = claim_next(&conn, "node-a", 30, 100).unwrap().unwrap();
        assert_eq!((again.id.as_str(), again.attempts), (id.as_str(), 2));
        assert!(
            record_failure(&conn, &id, "boom again", Some(40)).unwrap(),
            "given up after it"
        );
    }

    #[test]
    fn recovery_while_running_spares_the_leases_of_live_nodes() {
        let (_dir, store) = store();
        let pooled = store.conn().unwrap();
        let conn = crate::store::sql::Db::sqlite(&pooled);
        for (node, seen_at) in [("alive", 10_000), ("silent", 1_000)] {
            conn.execute(
                "INSERT INTO nodes (id, started_at, seen_at) VALUES (?1, 'then', ?2)",
                params![node, seen_at],
            )
            .unwrap();
        }
        let mut held = Vec::new();
        for owner in ["alive", "silent", "unlisted"] {
            enqueue_at(&conn, None, "k", &Value::Null, 0, 3).unwrap();
            held.push((owner, claim_next(&conn, owner, 10, 1_000_000).unwrap().unwrap().id));
        }
        assert_eq!(recover(&conn, &Reclaim::SilentSince(5_000)).unwrap(), 2);
        for (owner, id) in held {
            let status = find(&conn, &id).unwrap().unwrap().status;
            let expected = if owner == "alive" {
                JobStatus::Running
            } else {
                JobStatus::Pending
            };
            assert_eq!(status, expected, "{owner}");
        }
    }

    #[test]
    fn recover_requeues_running_jobs() {
        let (_dir, store) = store();
        let pooled = store.conn().unwrap();
        let conn = crate::store::sql::Db::sqlite(&pooled);
        let id = enqueue_at(&conn, None, "k", &Value::Null, 0, 3).unwrap();
        claim_next(&conn, "node-a", 10, 1_000_000).unwrap().unwrap();
        assert_eq!(recover(&conn, &Reclaim::Everything).unwrap(), 1);
        let job = claim_next(&conn, "node-a", 20, 100).unwrap().unwrap();
        assert_eq!(job.id, id);
        complete(&conn, &id).unwrap();
        assert_eq!(find(&conn, &id).unwrap().unwrap().status, JobStatus::Succeeded);
    }
}
