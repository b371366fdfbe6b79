//! The durable job queue: every call to an outside service runs as a job.
//!
//! A job is claimed with a lease (longer than any outside call's timeout); a crash
//! leaves it `running` with a lease that expires, and the next claim re-runs it, so
//! handlers are idempotent. Failures retry with exponential backoff and jitter until
//! `max_attempts`, then the job is `failed` with its `last_error`.

mod repo;
pub mod routes;
mod worker;

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

pub use repo::{
    Job, JobFilter, RetryRefused, claim_batch, claim_next, complete, enqueue_at, find, list, next_due_in,
    record_failure, recover, retry_failed, set_result,
};
pub use worker::{JobWrite, Queue, Registry, WorkerSettings};

/// Attempts before a job is given up.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Pending,
    Running,
    Succeeded,
    Failed,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "pending",
            JobStatus::Running => "running",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Failed => "failed",
        }
    }

    pub fn parse(value: &str) -> Option<JobStatus> {
        [
            JobStatus::Pending,
            JobStatus::Running,
            JobStatus::Succeeded,
            JobStatus::Failed,
        ]
        .into_iter()
        .find(|s| s.as_str() == value)
    }
}

/// How a handler failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobFailure {
    /// Worth trying again later (outside service down, 5xx, timeout, data not there yet).
    Retry(String),
    /// Trying again cannot help (bad configuration, malformed data).
    Permanent(String),
}

impl JobFailure {
    pub fn message(&self) -> &str {
        match self {
            JobFailure::Retry(m) | JobFailure::Permanent(m) => m,
        }
    }
}

impl From<crate::store::StoreError> for JobFailure {
    fn from(e: crate::store::StoreError) -> Self {
        JobFailure::Retry(e.to_string())
    }
}

/// Delay before attempt `attempts + 1`: `base * 2^(attempts-1)`, capped at an hour, with
/// ±25 % jitter so a burst of failures does not retry in lockstep.
pub fn backoff(base: Duration, attempts: u32) -> Duration {
    use rand::Rng;
    let exp = attempts.saturating_sub(1).min(16);
    let raw = base.as_millis().saturating_mul(1u128 << exp).min(3_600_000) as f64;
    let jitter = rand::thread_rng().gen_range(0.75..1.25);
    Duration::from_millis((raw * jitter) as u64)
}

/// The payload as a JSON value (jobs store JSON text).
pub fn payload_of(job: &Job) -> Value {
    serde_json::from_str(&job.payload).unwrap_or(Value::Null)
}

/// The tenant a job was queued for; a tenant's job without one can never run.
pub fn scope_of(job: &Job) -> Result<crate::auth::TenantScope, JobFailure> {
    crate::auth::TenantScope::for_job(job).ok_or_else(|| JobFailure::Permanent("job has no tenant".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_are_due_by_the_queue_clock() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(&dir.path().join("t.db")).unwrap();
        let clock = crate::time::Clock::manual(crate::time::parse_rfc3339("2030-01-01T00:00:00Z").unwrap());
        let queue = Queue::new(clock.clone());
        let pooled = store.conn().unwrap();
        let conn = crate::store::sql::Db::sqlite(&pooled);
        let id = queue.enqueue(&conn, None, "test.kind", &Value::Null).unwrap();
        let start = clock.now_ms();
        assert_eq!(next_due_in(&conn, start - 250).unwrap(), Some(250));
        assert!(
            claim_next(&conn, "node-a", start - 1, 1_000).unwrap().is_none(),
            "not due before the clock's now"
        );
        clock.advance(Duration::from_secs(1));
        let job = claim_next(&conn, "node-a", clock.now_ms(), 1_000).unwrap().unwrap();
        assert_eq!(job.id, id);
    }

    #[test]
    fn backoff_grows_and_jitters_within_bounds() {
        let base = Duration::from_secs(5);
        for attempts in 1..10 {
            let d = backoff(base, attempts).as_millis() as f64;
            let nominal = (5000u128 * (1 << (attempts - 1))).min(3_600_000) as f64;
            assert!(
                d >= nominal * 0.75 - 1.0 && d <= nominal * 1.25 + 1.0,
                "{attempts}: {d}"
            );
        }
    }
}
