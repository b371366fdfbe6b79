//! The queue engine that runs leased work from the database: jobs (`src/jobs/`) and
//! outbound deliveries (`src/outbound/`) both run on it.
//!
//! Three kinds of thread share one in-memory [`fair`] queue:
//! - the scheduler claims due work (with a lease) through a [`QueueStore`] while there is
//!   room, then sleeps until woken ([`Handle::wake`]), until the store says something is
//!   due, or for the poll interval;
//! - workers take tasks partition by partition (at most `per_partition` in flight each, so
//!   a slow partition holds only its own slots) and run them;
//! - the settler records what finished, many at a time, through the store.
//!
//! Paused mode ([`Pause`]) is honoured here, once for both: while paused nothing is
//! claimed and nothing claimed is started.
//!
//! What the database knows decides: a task whose lease could run out before it ends is
//! not started (`Task::may_start`), so a deep queue cannot cause a second run. On a stop
//! the scheduler stops claiming, workers finish the task they hold, and the settler
//! records those results and hands back every task never started before it returns.

mod fair;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::background::Background;
use crate::pause::Pause;

/// A unit of leased work as a worker holds it.
pub trait Task: Send + 'static {
    /// The fairness partition (an endpoint, a job kind).
    fn partition(&self) -> &str;
    /// Retries wait behind first attempts of their partition.
    fn is_retry(&self) -> bool;
    /// Whether it may still be started now: false once its lease could run out while it
    /// runs, or when what it was claimed for changed since.
    fn may_start(&self) -> bool;
}

/// What became of a claimed task.
pub enum Finished<T, D> {
    Ran(T, D),
    /// Not started (stale, lease too short, stopping): hand it back, due now.
    NotStarted(T),
}

/// What one claim produced.
pub struct Claimed<T> {
    pub tasks: Vec<T>,
    /// More is due than was claimed: claim again without waiting.
    pub more: bool,
}

/// What recording a batch decided beyond the rows themselves.
#[derive(Debug, Default)]
pub struct Settled {
    /// Partitions whose queued tasks were given up in the same transaction (a disabled
    /// endpoint): drop them from memory without running or settling them.
    pub drop_partitions: Vec<String>,
}

/// Claim and record behind one small interface, so the engine does not know the SQL.
/// SQLite implements it through the one writer; a server database (PostgreSQL) claims
/// with `FOR UPDATE SKIP LOCKED` and needs nothing else from the engine.
pub trait QueueStore: Send + Sync + 'static {
    type Task: Task;
    /// What running a task produced.
    type Done: Send + 'static;

    /// Hands back leased work whose holder is gone: at start-up (`at_start`) what the
    /// previous process left, and, called every [`RECLAIM_EVERY`] while running, what a
    /// node that went silent left (only where several nodes share the database).
    fn recover(&self, at_start: bool) -> anyhow::Result<usize>;
    /// Leases up to `limit` due tasks, none of the partitions in `full`.
    fn claim(&self, limit: usize, full: &[String]) -> anyhow::Result<Claimed<Self::Task>>;
    /// Records finished tasks in one go; tasks not started go back in line.
    fn settle(&self, finished: Vec<Finished<Self::Task, Self::Done>>) -> anyhow::Result<Settled>;
    /// How long until something is due that no wake-up will announce (a retry, a lease
    /// running out); `None` when the store cannot tell (the poll interval applies).
    fn next_due_in(&self) -> Option<Duration>;
    /// Extends the leases of the tasks running here, so a run longer than one lease keeps
    /// its claim instead of being claimed (and run) a second time. Called every
    /// [`Settings::renew_every`].
    fn renew(&self) -> anyhow::Result<()> {
        Ok(())
    }
}

/// How an engine runs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Thread names start with it.
    pub name: &'static str,
    pub workers: usize,
    /// Tasks in flight per partition at most.
    pub per_partition: usize,
    /// A partition holding this many tasks (queued and in flight) is claimed no more
    /// until it drains; its work waits in the database, not in memory.
    pub held_per_partition: usize,
    /// Tasks held in memory at most, over all partitions.
    pub max_held: usize,
    /// Tasks one claim takes at most.
    pub claim_batch: usize,
    /// Finished tasks one settle records at most.
    pub settle_batch: usize,
    /// Look for work this often even without a wake-up (`None`: only when woken or due).
    pub poll: Option<Duration>,
    /// Renew the leases of running tasks this often (`None`: runs never outlast a lease).
    pub renew_every: Option<Duration>,
    /// Paused mode: while paused nothing is claimed and claimed work is handed back
    /// unstarted; the release wakes the engine.
    pub hold: Pause,
}

pub use crate::store::nodes::RECLAIM_EVERY;

/// Longest the scheduler sleeps without a reason (a safety net, not the mechanism).
const MAX_IDLE: Duration = Duration::from_secs(60);
/// Idle workers and the settler re-check for a stop this often (they are woken for work).
const IDLE_WAIT: Duration = Duration::from_secs(1);

/// Wakes a running engine's scheduler. Cheap to clone.
#[derive(Clone, Default)]
pub struct Handle {
    signal: Arc<Signal>,
}

impl Handle {
    /// New work was committed (or made due): claim now rather than at the next poll.
    pub fn wake(&self) {
        self.signal.raise();
    }
}

#[derive(Default)]
struct Signal {
    flag: Mutex<bool>,
    cv: Condvar,
}

impl Signal {
    fn raise(&self) {
        *lock(&self.flag) = true;
        self.cv.notify_one();
    }

    fn wait(&self, timeout: Duration) {
        let mut raised = lock(&self.flag);
        if !*raised {
            raised = match self.cv.wait_timeout(raised, timeout) {
                Ok((f, _)) => f,
                Err(e) => e.into_inner().0,
            };
        }
        *raised = false;
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

struct Shared<S: QueueStore> {
    store: Arc<S>,
    settings: Settings,
    wake: Arc<Signal>,
    fair: Mutex<fair::Fair<S::Task>>,
    work_ready: Condvar,
    results: Mutex<Vec<Finished<S::Task, S::Done>>>,
    results_ready: Condvar,
    stopping: AtomicBool,
    workers_alive: AtomicUsize,
}

impl<S: QueueStore> Shared<S> {
    fn stop(&self) {
        self.stopping.store(true, Ordering::Release);
        // Taking each lock orders the flag before the waiters' next check.
        drop(lock(&self.fair));
        self.work_ready.notify_all();
        drop(lock(&self.results));
        self.results_ready.notify_all();
        self.wake.raise();
    }

    fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }
}

/// Starts an engine on `store`, running each task with `run` on a worker thread; its
/// threads are registered with `background`, which stops and joins them. `handle` is the
/// one callers already hold (their wake-ups reach this engine).
pub fn start<S, R>(
    store: Arc<S>,
    run: R,
    settings: Settings,
    handle: &Handle,
    background: &Background,
) -> std::io::Result<()>
where
    S: QueueStore,
    R: Fn(&S::Task) -> S::Done + Send + Sync + 'static,
{
    let shared = Arc::new(Shared {
        store,
        wake: handle.signal.clone(),
        fair: Mutex::new(fair::Fair::default()),
        work_ready: Condvar::new(),
        results: Mutex::new(Vec::new()),
        results_ready: Condvar::new(),
        stopping: AtomicBool::new(false),
        workers_alive: AtomicUsize::new(settings.workers),
        settings,
    });
    let name = shared.settings.name;
    let run = Arc::new(run);
    for n in 0..shared.settings.workers {
        let (s, run) = (shared.clone(), run.clone());
        background.thread(&format!("{name}-worker-{n}"), move || work(&s, run.as_ref()), || {})?;
    }
    let s = shared.clone();
    background.thread(&format!("{name}-settler"), move || settle(&s), || {})?;
    let woken = handle.clone();
    shared.settings.hold.on_resume(move || woken.wake());
    let (s, stopper) = (shared.clone(), shared.clone());
    background.thread(
        &format!("{name}-scheduler"),
        move || schedule(&s),
        move || stopper.stop(),
    )?;
    handle.wake();
    Ok(())
}

fn recover<S: QueueStore>(shared: &Shared<S>, at_start: bool) {
    let name = shared.settings.name;
    match shared.store.recover(at_start) {
        Ok(0) => {}
        Ok(n) if at_start => tracing::info!(
            engine = name,
            tasks = n,
            "work leased by the previous process is due again"
        ),
        Ok(n) => tracing::warn!(
            engine = name,
            tasks = n,
            "work leased by a node that went silent is due again"
        ),
        Err(e) => tracing::error!(engine = name, error = %e, "could not hand back interrupted work"),
    }
}

fn schedule<S: QueueStore>(shared: &Shared<S>) {
    let settings = &shared.settings;
    recover(shared, true);
    let mut next_reclaim = Instant::now() + RECLAIM_EVERY;
    let mut next_renewal = settings.renew_every.map(|every| Instant::now() + every);
    while !shared.is_stopping() {
        if Instant::now() >= next_reclaim {
            recover(shared, false);
            next_reclaim = Instant::now() + RECLAIM_EVERY;
        }
        if let (Some(at), Some(every)) = (next_renewal, settings.renew_every)
            && Instant::now() >= at
        {
            if let Err(e) = shared.store.renew() {
                tracing::error!(engine = settings.name, error = %e, "renewing the leases of running work failed");
            }
            next_renewal = Some(Instant::now() + every);
        }
        if settings.hold.is_paused() {
            // Work waits in the database; the release wakes the scheduler.
            shared.wake.wait(IDLE_WAIT);
            continue;
        }
        let (room, full) = {
            let fair = lock(&shared.fair);
            (
                settings.max_held.saturating_sub(fair.held()),
                fair.full(settings.held_per_partition),
            )
        };
        let limit = room.min(settings.claim_batch);
        let mut again = false;
        let mut failed = false;
        if limit > 0 {
            match shared.store.claim(limit, &full) {
                Ok(claimed) => {
                    again = claimed.more && !claimed.tasks.is_empty();
                    if !claimed.tasks.is_empty() {
                        let mut fair = lock(&shared.fair);
                        for task in claimed.tasks {
                            fair.push(task, settings.per_partition);
                        }
                        drop(fair);
                        shared.work_ready.notify_all();
                    }
                }
                Err(e) => {
                    tracing::error!(engine = settings.name, error = %e, "claiming work failed; retrying");
                    failed = true;
                }
            }
        }
        if again {
            continue;
        }
        let timeout = if failed {
            Duration::from_millis(500)
        } else {
            let due = if room > 0 { shared.store.next_due_in() } else { None };
            let reclaim = next_reclaim.saturating_duration_since(Instant::now());
            let renewal = next_renewal.map(|at| at.saturating_duration_since(Instant::now()));
            [
                Some(MAX_IDLE),
                Some(reclaim),
                renewal,
                settings.poll,
                due.map(|d| d + Duration::from_millis(2)),
            ]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(MAX_IDLE)
        };
        shared.wake.wait(timeout);
    }
    shared.stop();
}

/// Counts a worker out when it returns, even by a panic.
struct Alive<'a, S: QueueStore>(&'a Shared<S>);

impl<S: QueueStore> Drop for Alive<'_, S> {
    fn drop(&mut self) {
        self.0.workers_alive.fetch_sub(1, Ordering::AcqRel);
        drop(lock(&self.0.results));
        self.0.results_ready.notify_all();
    }
}

fn work<S: QueueStore>(shared: &Shared<S>, run: &(dyn Fn(&S::Task) -> S::Done + Send + Sync)) {
    let _alive = Alive(shared);
    let cap = shared.settings.per_partition;
    loop {
        let task = {
            let mut fair = lock(&shared.fair);
            loop {
                if shared.is_stopping() {
                    return;
                }
                if let Some(task) = fair.pop(cap) {
                    break task;
                }
                fair = match shared.work_ready.wait_timeout(fair, IDLE_WAIT) {
                    Ok((f, _)) => f,
                    Err(e) => e.into_inner().0,
                };
            }
        };
        let partition = task.partition().to_owned();
        // Work claimed before a pause goes back unstarted.
        let finished = if task.may_start() && !shared.settings.hold.is_paused() {
            let done = run(&task);
            Finished::Ran(task, done)
        } else {
            Finished::NotStarted(task)
        };
        lock(&shared.results).push(finished);
        shared.results_ready.notify_one();
        if lock(&shared.fair).done(&partition, cap) {
            shared.work_ready.notify_one();
        }
    }
}

fn settle<S: QueueStore>(shared: &Shared<S>) {
    loop {
        let batch: Vec<Finished<S::Task, S::Done>> = {
            let mut results = lock(&shared.results);
            while results.is_empty() {
                if shared.is_stopping() && shared.workers_alive.load(Ordering::Acquire) == 0 {
                    drop(results);
                    hand_back_queued(shared);
                    return;
                }
                results = match shared.results_ready.wait_timeout(results, IDLE_WAIT) {
                    Ok((r, _)) => r,
                    Err(e) => e.into_inner().0,
                };
            }
            let n = results.len().min(shared.settings.settle_batch);
            results.drain(..n).collect()
        };
        record(shared, batch);
    }
}

fn record<S: QueueStore>(shared: &Shared<S>, batch: Vec<Finished<S::Task, S::Done>>) {
    let count = batch.len();
    match shared.store.settle(batch) {
        Ok(settled) => {
            if !settled.drop_partitions.is_empty() {
                let mut fair = lock(&shared.fair);
                for id in &settled.drop_partitions {
                    fair.take_partition(id);
                }
            }
            shared.wake.raise();
        }
        Err(e) => {
            // The leases run out and the work is claimed again.
            tracing::error!(engine = shared.settings.name, error = %e, count, "recording finished work failed");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// Stopping: what was claimed but never started goes back to the database, due now.
fn hand_back_queued<S: QueueStore>(shared: &Shared<S>) {
    let queued = lock(&shared.fair).take_all();
    if !queued.is_empty() {
        record(shared, queued.into_iter().map(Finished::NotStarted).collect());
    }
}

#[cfg(test)]
mod tests;
