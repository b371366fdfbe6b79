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
use crate::store::sql::Db;
use crate::store::writer::{Durability, Writer};
use crate::time::Clock;

/// Runs one job. Handlers are closures over the service they need; a handler may leave
/// its changes as a [`JobWrite`] for the transaction that records the job as done.
type Handler = Arc<dyn Fn(&Job) -> Result<Option<JobWrite>, JobFailure> + Send + Sync>;

/// A job's changes, applied in the transaction that records it as done, beside the
/// changes of the other jobs finished meanwhile: many jobs then cost one commit (one
/// fsync) instead of one each, and a job's effects and its completion commit together.
pub struct JobWrite {
    /// Applies the changes, in a savepoint of its own: on `Err` none of them stay, and
    /// the job is recorded as failed, as if its handler had returned the error.
    write: Changes,
    /// Runs once the transaction committed, the write's changes or its failure record
    /// (wake-ups for the work they queued).
    then: Box<dyn FnOnce() + Send>,
    /// Records a failed `write` where the job's subject shows it, in the same transaction.
    failed: Option<FailureRecord>,
}

type Changes = Box<dyn FnOnce(&Db<'_>) -> Result<(), JobFailure> + Send>;
type FailureRecord = Box<dyn FnOnce(&Db<'_>, &JobFailure) -> Result<(), crate::store::StoreError> + Send>;

impl JobWrite {
    pub fn new(
        write: impl FnOnce(&Db<'_>) -> Result<(), JobFailure> + Send + 'static,
        then: impl FnOnce() + Send + 'static,
    ) -> JobWrite {
        JobWrite {
            write: Box::new(write),
            then: Box::new(then),
            failed: None,
        }
    }

    /// What to write when `write` fails (after its changes were rolled back).
    pub fn on_failure(
        mut self,
        record: impl FnOnce(&Db<'_>, &JobFailure) -> Result<(), crate::store::StoreError> + Send + 'static,
    ) -> JobWrite {
        self.failed = Some(Box::new(record));
        self
    }
}

/// Jobs one claim takes at most (and the engine holds in memory at most) unless more
/// workers run.
const CLAIM_AT_MOST: usize = 64;

/// Job kinds and the functions that run them.
#[derive(Clone, Default)]
pub struct Registry {
    handlers: HashMap<String, Handler>,
}

impl Registry {
    /// A handler that writes what it does itself.
    pub fn with(
        mut self,
        kind: &str,
        handler: impl Fn(&Job) -> Result<(), JobFailure> + Send + Sync + 'static,
    ) -> Self {
        self.handlers
            .insert(kind.to_owned(), Arc::new(move |job: &Job| handler(job).map(|()| None)));
        self
    }

    /// A handler whose changes commit with its completion ([`JobWrite`]).
    pub fn with_write(
        mut self,
        kind: &str,
        handler: impl Fn(&Job) -> Result<JobWrite, JobFailure> + Send + Sync + 'static,
    ) -> Self {
        self.handlers
            .insert(kind.to_owned(), Arc::new(move |job: &Job| handler(job).map(Some)));
        self
    }

    pub fn merge(mut self, other: Registry) -> Self {
        self.handlers.extend(other.handlers);
        self
    }

    /// Runs `job` with its kind's handler; a panic is a failure worth retrying.
    fn run(&self, job: &Job) -> Result<Option<JobWrite>, JobFailure> {
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
        conn: &Db<'_>,
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
        conn: &Db<'_>,
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
        let running = Running::default();
        let renew_every = settings.lease / 4;
        let jobs = Arc::new(JobStore {
            store,
            writer,
            clock: self.clock.clone(),
            settings,
            running: running.clone(),
        });
        // Claims stay close to what can run soon, since a claimed job is `running` in the
        // database, yet take enough for a burst of quick jobs (processing an event is a
        // few reads here and a few rows in the settling commit): a claim costs a commit.
        let held = (workers * 2).max(CLAIM_AT_MOST);
        let engine = queue::Settings {
            name: "tessera-job",
            workers,
            // Every kind may use every worker, and hold three quarters of what is held.
            per_partition: workers,
            held_per_partition: held * 3 / 4,
            max_held: held,
            claim_batch: held,
            settle_batch: CLAIM_AT_MOST,
            poll: None,
            renew_every: Some(renew_every),
            hold: hold.clone(),
        };
        let run = move |job: &LeasedJob| {
            let _running = running.enter(&job.job);
            registry.run(&job.job)
        };
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
    running: Running,
}

/// The jobs running on this node's workers (id and attempt), whose leases are renewed
/// while they run: a job may make many outside calls (a sync of hundreds of contacts),
/// each bounded, but not their sum. Keyed by attempt too: a run whose lease was lost
/// (the node stalled) may still be ending while the same node runs the next attempt.
#[derive(Clone, Default)]
struct Running(Arc<std::sync::Mutex<std::collections::HashSet<(String, i64)>>>);

impl Running {
    /// Holds `job` in the set until the returned guard drops (also on a panic).
    fn enter(&self, job: &Job) -> RunningGuard {
        let key = (job.id.clone(), i64::from(job.attempts));
        self.lock().insert(key.clone());
        RunningGuard {
            running: self.clone(),
            key,
        }
    }

    fn snapshot(&self) -> Vec<(String, i64)> {
        self.lock().iter().cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<(String, i64)>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

struct RunningGuard {
    running: Running,
    key: (String, i64),
}

impl Drop for RunningGuard {
    fn drop(&mut self) {
        self.running.lock().remove(&self.key);
    }
}

impl QueueStore for JobStore {
    type Task = LeasedJob;
    type Done = Result<Option<JobWrite>, JobFailure>;

    fn recover(&self, at_start: bool) -> anyhow::Result<usize> {
        let Some(reclaim) = self.store.reclaim(at_start) else {
            return Ok(0);
        };
        Ok(self
            .writer
            .write_blocking_with(Durability::Durable.without_savepoint(), move |c| {
                repo::recover(c, &reclaim)
            })?)
    }

    fn claim(&self, limit: usize, full: &[String]) -> anyhow::Result<Claimed<LeasedJob>> {
        let now = self.clock.now_ms();
        let lease = self.settings.lease;
        let skip = full.to_vec();
        let owner = self.store.node_id().to_owned();
        let jobs = self
            .writer
            .write_blocking_with(Durability::Durable.without_savepoint(), move |c| {
                repo::claim_batch(c, &owner, now, lease.as_millis() as i64, limit, &skip)
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
        let outcomes: Vec<(Job, Option<<Self as QueueStore>::Done>)> = finished
            .into_iter()
            .map(|f| match f {
                Finished::Ran(leased, done) => (leased.job, Some(done)),
                Finished::NotStarted(leased) => (leased.job, None),
            })
            .collect();
        let owner = self.store.node_id().to_owned();
        let recorded = self.writer.write_blocking(move |c| {
            let mut settled = Vec::with_capacity(outcomes.len());
            let mut then = Vec::new();
            for (job, outcome) in outcomes {
                if !repo::still_held(c, &job, &owner)? {
                    tracing::warn!(job = %job.id, kind = %job.kind, attempt = job.attempts, "job lease lost to another claim; this run's result is dropped");
                    continue;
                }
                let outcome = match outcome {
                    Some(Ok(Some(write))) => match c.savepoint(write.write) {
                        Ok(()) => {
                            then.push(write.then);
                            Some(Ok(()))
                        }
                        Err(failure) => {
                            if let Some(record) = write.failed {
                                record(c, &failure)?;
                            }
                            then.push(write.then);
                            Some(Err(failure))
                        }
                    },
                    Some(Ok(None)) => Some(Ok(())),
                    Some(Err(failure)) => Some(Err(failure)),
                    None => None,
                };
                let given_up = match &outcome {
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
                settled.push((job, outcome, given_up));
            }
            Ok::<_, crate::store::StoreError>((settled, then))
        })?;
        let (settled, then) = recorded;
        for then in then {
            then();
        }
        for (job, outcome, gave_up) in &settled {
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

    fn renew(&self) -> anyhow::Result<()> {
        let running = self.running.snapshot();
        if running.is_empty() {
            return Ok(());
        }
        let until = self.clock.now_ms() + self.settings.lease.as_millis() as i64;
        let owner = self.store.node_id().to_owned();
        self.writer
            .write_blocking_with(Durability::Relaxed.without_savepoint(), move |c| {
                repo::renew(c, &running, &owner, until)
            })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::jobs::JobStatus;

    fn probes(store: &Store) -> Vec<i64> {
        store
            .read(|c| {
                let ids = c.query("SELECT id FROM health_probe ORDER BY id", [], |r| r.get(0))?;
                Ok::<_, crate::store::StoreError>(ids)
            })
            .unwrap()
    }

    /// Two workers on `queue` with `lease`, registered with the returned `Background`.
    fn start_workers(queue: &Queue, store: &Store, writer: &Writer, registry: Registry, lease: Duration) -> Background {
        let background = Background::default();
        let settings = WorkerSettings {
            workers: 2,
            lease,
            retry_base: Duration::from_secs(1),
        };
        let hold = Pause::default();
        queue
            .start(store.clone(), writer.clone(), registry, settings, &hold, &background)
            .unwrap();
        background
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_jobs_write_commits_with_its_completion_and_a_failed_one_leaves_only_its_record() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        let writer = Writer::start(&store).unwrap();
        let clock = Clock::system();
        let queue = Queue::new(clock.clone());
        let woken = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = woken.clone();
        let registry = Registry::default().with_write("test.write", move |job| {
            let payload: serde_json::Value = serde_json::from_str(&job.payload).unwrap_or_default();
            let id = payload["id"].as_i64().unwrap_or(0);
            let fail = payload["fail"].as_bool().unwrap_or(false);
            let seen = seen.clone();
            Ok(JobWrite::new(
                move |c| {
                    c.execute("INSERT INTO health_probe (id, at) VALUES (?1, 'w')", [id])?;
                    if fail {
                        return Err(JobFailure::Permanent("refused".into()));
                    }
                    Ok(())
                },
                move || {
                    seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                },
            )
            .on_failure(move |c, failure| {
                assert_eq!(failure.message(), "refused");
                c.execute("INSERT INTO health_probe (id, at) VALUES (?1, 'f')", [id + 1000])?;
                Ok(())
            }))
        });
        let ids = {
            let queue = queue.clone();
            writer
                .write(move |c| -> Result<Vec<String>, crate::store::StoreError> {
                    Ok(vec![
                        queue.enqueue(c, None, "test.write", &serde_json::json!({"id": 1}))?,
                        queue.enqueue(c, None, "test.write", &serde_json::json!({"id": 2, "fail": true}))?,
                    ])
                })
                .await
                .unwrap()
        };
        let background = start_workers(&queue, &store, &writer, registry, Duration::from_secs(60));
        let status = |id: &str| store.read(|c| repo::find(c, id)).unwrap().map(|j| j.status);
        let deadline = Instant::now() + Duration::from_secs(20);
        // The after-commit steps run once the settling commit is done, after the rows show.
        let after_commit = || woken.load(std::sync::atomic::Ordering::SeqCst);
        while status(&ids[0]) != Some(JobStatus::Succeeded)
            || status(&ids[1]) != Some(JobStatus::Failed)
            || after_commit() < 2
        {
            assert!(Instant::now() < deadline, "the jobs did not finish");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(
            probes(&store),
            vec![1, 1002],
            "the failed write rolled back; its record stayed"
        );
        let failed = store.read(|c| repo::find(c, &ids[1])).unwrap().unwrap();
        assert_eq!(failed.last_error.as_deref(), Some("refused"));
        assert_eq!(
            woken.load(std::sync::atomic::Ordering::SeqCst),
            2,
            "after-commit steps ran"
        );
        background.stop_signal();
        assert!(background.stop(Duration::from_secs(20)).await.is_empty());
        writer.close();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_job_running_longer_than_its_lease_keeps_it_and_runs_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        let writer = Writer::start(&store).unwrap();
        let queue = Queue::new(Clock::system());
        let runs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = runs.clone();
        let registry = Registry::default().with("test.long", move |_| {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            // Two and a half leases long: without renewal the lease runs out twice
            // meanwhile and the idle second worker takes the job again.
            std::thread::sleep(Duration::from_secs(5));
            Ok(())
        });
        let id = {
            let queue = queue.clone();
            writer
                .write(move |c| queue.enqueue(c, None, "test.long", &serde_json::json!({})))
                .await
                .unwrap()
        };
        let background = start_workers(&queue, &store, &writer, registry, Duration::from_secs(2));
        let deadline = Instant::now() + Duration::from_secs(30);
        let job = loop {
            let job = store.read(|c| repo::find(c, &id)).unwrap().unwrap();
            if job.status == JobStatus::Succeeded {
                break job;
            }
            assert!(Instant::now() < deadline, "the job did not finish: {:?}", job.status);
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 1, "run once");
        assert_eq!(job.attempts, 1, "never claimed again");
        background.stop_signal();
        assert!(background.stop(Duration::from_secs(20)).await.is_empty());
        writer.close();
    }
}
