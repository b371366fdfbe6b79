//! The worker pool: blocking threads that sleep on a channel until work is due.
//!
//! A worker claims jobs until none is due, then waits on the wake channel for at most the
//! time until the next due job (a retry, an expiring lease). Enqueuers call
//! [`Queue::wake`] after their commit; there is no polling loop.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use super::repo::{self, Job};
use super::{JobFailure, backoff};
use crate::pause::Pause;
use crate::store::Store;
use crate::store::group_commit::GroupCommit;
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
}

/// Adds jobs and wakes idle workers. Cheap to clone.
#[derive(Clone)]
pub struct Queue {
    tx: Sender<()>,
    rx: Arc<Mutex<Receiver<()>>>,
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

/// What the scheduler and the workers share.
struct Pool {
    store: Store,
    writer: GroupCommit,
    registry: Registry,
    settings: WorkerSettings,
    shutdown: watch::Receiver<bool>,
    /// While paused no job is claimed: every job may call outside.
    hold: Pause,
}

/// Longest a worker sleeps without being woken (a safety net, not the mechanism).
const MAX_IDLE: Duration = Duration::from_secs(60);

impl Queue {
    pub fn new(clock: Clock) -> Queue {
        let (tx, rx) = channel();
        Queue {
            tx,
            rx: Arc::new(Mutex::new(rx)),
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

    /// Tells the workers that new work was committed.
    pub fn wake(&self) {
        let _ = self.tx.send(());
    }

    /// Blocks until woken or `timeout` passes; drains extra wake-ups so a burst of
    /// enqueues costs one wake-up.
    fn wait(&self, timeout: Duration) {
        let Ok(rx) = self.rx.lock() else { return };
        match rx.recv_timeout(timeout) {
            Ok(()) => while rx.try_recv().is_ok() {},
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {}
        }
    }

    /// Starts the scheduler and `count` worker threads; they stop when the server shuts
    /// down. The scheduler alone waits on the wake channel (until woken, or until the
    /// next retry / lease expiry is due), claims jobs while a worker is idle and hands
    /// them over; workers wait only for handed-over jobs.
    pub fn start(
        &self,
        store: Store,
        writer: GroupCommit,
        registry: Registry,
        settings: WorkerSettings,
        shutdown: watch::Receiver<bool>,
        hold: Pause,
    ) {
        let count = settings.workers;
        let queue = self.clone();
        hold.on_resume(move || queue.wake());
        let pool = Arc::new(Pool {
            store,
            writer,
            registry,
            settings,
            shutdown,
            hold,
        });
        match pool
            .store
            .conn()
            .map_err(|e| e.to_string())
            .and_then(|c| repo::recover(&c).map_err(|e| e.to_string()))
        {
            Ok(n) if n > 0 => tracing::info!(jobs = n, "re-queued jobs left running by the previous process"),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "could not re-queue interrupted jobs"),
        }
        let idle = Arc::new(AtomicUsize::new(count));
        let (work_tx, work_rx) = channel::<Job>();
        let work_rx = Arc::new(Mutex::new(work_rx));
        for n in 0..count {
            let pool = pool.clone();
            let queue = self.clone();
            let idle = idle.clone();
            let work_rx = work_rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("tessera-job-{n}"))
                .spawn(move || {
                    loop {
                        let next = match work_rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        let Ok(job) = next else { return };
                        queue.run_job(&pool, &job);
                        idle.fetch_add(1, Ordering::SeqCst);
                        queue.wake();
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "could not start a job worker");
            }
        }
        let scheduler_pool = pool.clone();
        let queue = self.clone();
        let spawned = std::thread::Builder::new()
            .name("tessera-job-scheduler".into())
            .spawn(move || queue.schedule(&scheduler_pool, &idle, &work_tx));
        if let Err(e) = spawned {
            tracing::error!(error = %e, "could not start the job scheduler");
        }
        // On shutdown, wake the scheduler so it sees the flag and stops the workers.
        let mut shutdown = pool.shutdown.clone();
        let queue = self.clone();
        tokio::spawn(async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
            queue.wake();
        });
        self.wake();
    }

    fn schedule(&self, pool: &Pool, idle: &AtomicUsize, work_tx: &Sender<Job>) {
        let lease_ms = pool.settings.lease.as_millis() as i64;
        loop {
            if *pool.shutdown.borrow() {
                return;
            }
            if pool.hold.is_paused() {
                // Woken by the release (or shutdown); jobs wait in the table meanwhile.
                self.wait(MAX_IDLE);
                continue;
            }
            let mut failed = false;
            let free = idle.load(Ordering::SeqCst);
            if free > 0 {
                let now = self.clock.now_ms();
                let claimed = pool
                    .writer
                    .write_blocking(move |c| repo::claim_batch(c, now, lease_ms, free));
                match claimed {
                    Ok(jobs) => {
                        for job in jobs {
                            idle.fetch_sub(1, Ordering::SeqCst);
                            if work_tx.send(job).is_err() {
                                return;
                            }
                        }
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "job claim failed");
                        failed = true;
                    }
                }
            }
            let timeout = if failed {
                Duration::from_secs(1)
            } else if idle.load(Ordering::SeqCst) == 0 {
                // Every worker is busy; one finishing wakes the scheduler.
                MAX_IDLE
            } else {
                let due = pool
                    .store
                    .conn()
                    .ok()
                    .and_then(|c| repo::next_due_in(&c, self.clock.now_ms()).ok().flatten());
                due.map_or(MAX_IDLE, |ms| Duration::from_millis(ms as u64 + 2).min(MAX_IDLE))
            };
            self.wait(timeout);
        }
    }

    fn run_job(&self, pool: &Pool, job: &Job) {
        let outcome = match pool.registry.handlers.get(&job.kind) {
            Some(handler) => std::panic::catch_unwind(AssertUnwindSafe(|| handler(job)))
                .unwrap_or_else(|_| Err(JobFailure::Retry("the job handler panicked".into()))),
            None => Err(JobFailure::Permanent(format!("no handler for job kind `{}`", job.kind))),
        };
        let id = job.id.clone();
        let result = match &outcome {
            Ok(()) => pool
                .writer
                .write_blocking(move |c| repo::complete(c, &id).map(|_| false)),
            Err(failure) => {
                let retry_at = match failure {
                    JobFailure::Retry(_) => {
                        Some(self.clock.now_ms() + backoff(pool.settings.retry_base, job.attempts).as_millis() as i64)
                    }
                    JobFailure::Permanent(_) => None,
                };
                let message = failure.message().to_owned();
                pool.writer
                    .write_blocking(move |c| repo::record_failure(c, &id, &message, retry_at))
            }
        };
        match (&outcome, result) {
            (Ok(()), Ok(_)) => tracing::debug!(job = %job.id, kind = %job.kind, "job done"),
            (Err(f), Ok(gave_up)) => {
                tracing::warn!(job = %job.id, kind = %job.kind, attempt = job.attempts, gave_up, error = %f.message(), "job failed")
            }
            (_, Err(e)) => tracing::error!(job = %job.id, error = %e, "could not record the job outcome"),
        }
    }
}
