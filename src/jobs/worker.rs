//! Jobs on the queue engine ([`crate::queue`]): the job table as its store, the handler
//! registry as what workers run.
//!
//! The scheduler claims due jobs in batches through the writer, woken by
//! [`Queue::wake`] after a commit that enqueues work, otherwise sleeping exactly until
//! the next retry or lease expiry; there is no polling loop. Outcomes are recorded many
//! at a time.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::repo::{self, Job};
use super::{JobFailure, backoff};
use crate::background::Background;
use crate::pause::Pause;
use crate::queue::{self, Claimed, Finished, QueueStore, Settled};
use crate::store::Store;
use crate::store::writer::{Durability, Writer};
use crate::time::Clock;

/// Runs one job. Handlers are closures over the service they need.
pub type Handler = Arc<dyn Fn(&Job) -> Result<(), JobFailure> + Send + Sync>;

/// Job kinds and the functions that run them.
#[derive(Clone, Default)]
pub struct Registry {
    handlers: HashMap<String, Handler>,
}

impl Registry {
    pub fn with(
        mut self,
        kind: &str,
        handler: impl Fn(&Job) -> Result<(), JobFailure> + Send + Sync + 'static,
    ) -> Self {
        self.handlers.insert(kind.to_owned(), Arc::new(handler));
        self
    }

    pub fn merge(mut self, other: Registry) -> Self {
        self.handlers.extend(other.handlers);
        self
    }

    /// Runs `job` with its kind's handler; a panic is a failure worth retrying.
    fn run(&self, job: &Job) -> Result<(), JobFailure> {
        match self.handlers.get(&job.kind) {
            Some(handler) => std::panic::catch_unwind(AssertUnwindSafe(|| handler(job)))
                .unwrap_or_else(|_| Err(JobFailure::Retry("the job handler panicked".into()))),
            None => Err(JobFailure::Permanent(format!("no handler for job kind `{}`", job.kind))),
        }
    }
}

/// Adds jobs and wakes the engine. Cheap to clone.
#[derive(Clone)]
pub struct Queue {
    engine: queue::Handle,
    /// When jobs are due, claimed and retried.
    clock: Clock,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Queue")
    }
}

/// How the worker pool runs, from the config.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Worker threads (outside calls block, so a few run side by side).
    pub workers: usize,
    /// How long a claimed job is held before another claim may take it.
    pub lease: Duration,
    /// First retry delay of a failed job (see [`backoff`]).
    pub retry_base: Duration,
}

impl Queue {
    pub fn new(clock: Clock) -> Queue {
        Queue {
            engine: queue::Handle::default(),
            clock,
        }
    }

    /// Adds a job due now, inside the caller's transaction (so it commits with the change
    /// that caused it). Returns its id; [`Queue::wake`] the workers after the commit.
    pub fn enqueue(
        &self,
        conn: &rusqlite::Connection,
        tenant_id: Option<&str>,
        kind: &str,
        payload: &serde_json::Value,
    ) -> Result<String, crate::store::StoreError> {
        repo::enqueue_at(
            conn,
            tenant_id,
            kind,
            payload,
            self.clock.now_ms(),
            super::DEFAULT_MAX_ATTEMPTS,
        )
    }

    /// Puts a tenant's failed job back in the queue, due now, for one more attempt, inside
    /// the caller's transaction; [`Queue::wake`] the workers after the commit.
    pub fn retry_failed(
        &self,
        conn: &rusqlite::Connection,
        tenant_id: &str,
        id: &str,
    ) -> Result<Result<Job, repo::RetryRefused>, crate::store::StoreError> {
        repo::retry_failed(conn, tenant_id, id, self.clock.now_ms())
    }

    /// Tells the engine that new work was committed.
    pub fn wake(&self) {
        self.engine.wake();
    }

    /// Starts the engine's threads, registered with `background`: jobs left running by a
    /// previous process are re-queued first. While `hold` is paused no job is claimed:
    /// every job may call outside.
    pub fn start(
        &self,
        store: Store,
        writer: Writer,
        registry: Registry,
        settings: WorkerSettings,
        hold: &Pause,
        background: &Background,
    ) -> std::io::Result<()> {
        let workers = settings.workers.max(1);
        let jobs = Arc::new(JobStore {
            store,
            writer,
            clock: self.clock.clone(),
            settings,
        });
        let engine = queue::Settings {
            name: "tessera-job",
            workers,
            // Every kind may use every worker; claims stay close to what can run soon,
            // since a claimed job is `running` in the database.
            per_partition: workers,
            held_per_partition: workers * 2,
            max_held: workers * 2,
            claim_batch: workers * 2,
            settle_batch: 256,
            poll: None,
            hold: hold.clone(),
        };
        let run = move |job: &LeasedJob| registry.run(&job.job);
        queue::start(jobs, run, engine, &self.engine, background)
    }
}

/// A claimed job and how long it may wait in memory before it must not start any more.
pub struct LeasedJob {
    job: Job,
    start_by: Instant,
}

impl queue::Task for LeasedJob {
    fn partition(&self) -> &str {
        &self.job.kind
    }

    fn is_retry(&self) -> bool {
        self.job.attempts > 1
    }

    fn may_start(&self) -> bool {
        Instant::now() < self.start_by
    }
}

/// The `jobs` table as the engine's store; every write goes through the writer, durably.
struct JobStore {
    store: Store,
    writer: Writer,
    clock: Clock,
    settings: WorkerSettings,
}

impl QueueStore for JobStore {
    type Task = LeasedJob;
    type Done = Result<(), JobFailure>;

    fn recover(&self) -> anyhow::Result<usize> {
        Ok(self
            .writer
            .write_blocking_with(Durability::Durable.without_savepoint(), repo::recover)?)
    }

    fn claim(&self, limit: usize, full: &[String]) -> anyhow::Result<Claimed<LeasedJob>> {
        let now = self.clock.now_ms();
        let lease = self.settings.lease;
        let skip = full.to_vec();
        let jobs = self
            .writer
            .write_blocking_with(Durability::Durable.without_savepoint(), move |c| {
                repo::claim_batch(c, now, lease.as_millis() as i64, limit, &skip)
            })?;
        // Half the lease at most in memory: the other half covers the run itself.
        let start_by = Instant::now() + lease / 2;
        Ok(Claimed {
            more: jobs.len() == limit,
            tasks: jobs.into_iter().map(|job| LeasedJob { job, start_by }).collect(),
        })
    }

    fn settle(&self, finished: Vec<Finished<LeasedJob, Self::Done>>) -> anyhow::Result<Settled> {
        let now = self.clock.now_ms();
        let base = self.settings.retry_base;
        let outcomes: Vec<(Job, Option<Result<(), JobFailure>>)> = finished
            .into_iter()
            .map(|f| match f {
                Finished::Ran(leased, done) => (leased.job, Some(done)),
                Finished::NotStarted(leased) => (leased.job, None),
            })
            .collect();
        let recorded = self.writer.write_blocking(move |c| {
            let mut gave_up = Vec::with_capacity(outcomes.len());
            for (job, outcome) in &outcomes {
                let given_up = match outcome {
                    Some(Ok(())) => repo::complete(c, &job.id).map(|_| false)?,
                    Some(Err(failure)) => {
                        let retry_at = match failure {
                            JobFailure::Retry(_) => Some(now + backoff(base, job.attempts).as_millis() as i64),
                            JobFailure::Permanent(_) => None,
                        };
                        repo::record_failure(c, &job.id, failure.message(), retry_at)?
                    }
                    None => repo::release(c, &job.id).map(|_| false)?,
                };
                gave_up.push(given_up);
            }
            Ok::<_, crate::store::StoreError>((outcomes, gave_up))
        })?;
        let (outcomes, gave_up) = recorded;
        for ((job, outcome), gave_up) in outcomes.iter().zip(gave_up) {
            match outcome {
                Some(Ok(())) => tracing::debug!(job = %job.id, kind = %job.kind, "job done"),
                Some(Err(f)) => {
                    tracing::warn!(job = %job.id, kind = %job.kind, attempt = job.attempts, gave_up, error = %f.message(), "job failed")
                }
                None => tracing::debug!(job = %job.id, kind = %job.kind, "job handed back unstarted"),
            }
        }
        Ok(Settled::default())
    }

    fn next_due_in(&self) -> Option<Duration> {
        let now = self.clock.now_ms();
        let due = self.store.read(|c| repo::next_due_in(c, now)).ok().flatten()?;
        Some(Duration::from_millis(due.max(0) as u64))
    }
}
