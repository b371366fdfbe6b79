//! The delivery engine: one scheduler thread (fan-out and claiming), a pool of blocking
//! HTTP workers, and one recorder thread that writes results in group commits.
//!
//! Fairness: each endpoint has its own in-memory queue with at most
//! `endpoint_concurrency` attempts in flight, and workers take endpoints round-robin, so a
//! slow or dead endpoint holds at most its own slots. Within an endpoint first attempts go
//! before retries. An endpoint whose queue is full is skipped by claiming; its deliveries
//! wait in the database, not in memory.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::OutboundError;
use super::db::EngineDb;
use super::dispatch::{self, Lease};
use super::outcome::{self, AttemptReport, HealthRules, Target, WorkItem};
use super::queues::Queues;
use super::schedule::RetrySchedule;
use crate::net::{NameResolver, SystemResolver, TargetPolicy};
use crate::pause::Pause;
use crate::plugins::Plugins;
use crate::store::Store;
use crate::time::now_ms;
use crate::vault::Vault;

/// Tunables, from the config.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    pub workers: usize,
    pub endpoint_concurrency: usize,
    pub timeout: Duration,
    pub lease: Duration,
    pub poll: Duration,
    pub rules: HealthRules,
    pub policy: TargetPolicy,
    /// The database file, for the engine's own connections (see [`EngineDb`]).
    pub database: Option<std::path::PathBuf>,
}

impl EngineSettings {
    pub fn from_config(config: &crate::config::Config) -> EngineSettings {
        let schedule = match &config.retry_schedule {
            Some(delays) => RetrySchedule::new(delays.clone()),
            None => RetrySchedule::default(),
        };
        let policy = TargetPolicy::new(config.allow_private_targets, config.allowed_target_cidrs.clone());
        EngineSettings {
            workers: config.webhook_workers.max(1),
            endpoint_concurrency: config.webhook_endpoint_concurrency.max(1),
            timeout: config.webhook_timeout,
            lease: Duration::from_secs(300).max(config.webhook_timeout * 4),
            poll: Duration::from_millis(10),
            rules: HealthRules {
                schedule,
                disable_after_ms: config.webhook_disable_after.as_millis() as i64,
            },
            policy,
            database: Some(config.database_path()),
        }
    }
}

/// The engine's handle, held by the services that write outbox rows: wakes the scheduler
/// and tells it about endpoint changes.
/// Configured when the server starts its workers ([`Outbound::start`]); before that every
/// call is a no-op and URLs are judged by the strictest policy.
#[derive(Clone, Default)]
pub struct Outbound {
    engine: Arc<OnceLock<Arc<Inner>>>,
    /// Where recorded attempts are counted (`tessera_deliveries_total`).
    metrics: Arc<OnceLock<Arc<crate::metrics::Metrics>>>,
}

struct Inner {
    settings: EngineSettings,
    names: Arc<dyn NameResolver>,
    agent: ureq::Agent,
    wake: Signal,
    claim_now: AtomicBool,
    queues: Mutex<Queues>,
    work_ready: Condvar,
    results: Mutex<Vec<Finished>>,
    results_ready: Condvar,
    /// Endpoints changed since the scheduler last looked; it owns the target cache.
    changed: Mutex<Vec<String>>,
    stopping: AtomicBool,
    started: AtomicBool,
}

enum Finished {
    Attempted(WorkItem, AttemptReport),
    NotAttempted(WorkItem),
}

#[derive(Default)]
struct Signal {
    flag: Mutex<bool>,
    cv: Condvar,
}

impl Signal {
    fn raise(&self) {
        if let Ok(mut f) = self.flag.lock() {
            *f = true;
            self.cv.notify_one();
        }
    }

    fn wait(&self, timeout: Duration) {
        let Ok(mut f) = self.flag.lock() else { return };
        if !*f {
            f = match self.cv.wait_timeout(f, timeout) {
                Ok((f, _)) => f,
                Err(_) => return,
            };
        }
        *f = false;
    }
}

static STRICT: OnceLock<TargetPolicy> = OnceLock::new();

impl Outbound {
    /// A started-later handle with its settings and name resolver fixed now (benchmarks).
    pub fn configured(settings: EngineSettings, names: Arc<dyn NameResolver>) -> Outbound {
        let outbound = Outbound::default();
        let _ = outbound.engine.set(Arc::new(Inner::new(settings, names)));
        outbound
    }

    fn inner(&self) -> Option<&Arc<Inner>> {
        self.engine.get()
    }

    pub fn policy(&self) -> &TargetPolicy {
        match self.inner() {
            Some(inner) => &inner.settings.policy,
            None => STRICT.get_or_init(TargetPolicy::default),
        }
    }

    pub fn names(&self) -> &dyn NameResolver {
        match self.inner() {
            Some(inner) => inner.names.as_ref(),
            None => &SystemResolver,
        }
    }

    /// Counts recorded delivery attempts in `metrics` (set once, before [`Outbound::start`]).
    pub fn report_to(&self, metrics: Arc<crate::metrics::Metrics>) {
        let _ = self.metrics.set(metrics);
    }

    /// New outbox rows may be waiting: fan them out now rather than at the next poll.
    pub fn wake(&self) {
        if let Some(inner) = self.inner() {
            inner.wake.raise();
        }
    }

    /// Deliveries were made due (test, retry, replay): claim them now.
    pub fn claim_soon(&self) {
        if let Some(inner) = self.inner() {
            inner.claim_now.store(true, Ordering::Release);
            inner.wake.raise();
        }
    }

    /// An endpoint changed (URL, secret, filter, active): queued work re-reads it.
    pub fn endpoint_changed(&self, endpoint_id: &str) {
        if let Some(inner) = self.inner()
            && let Ok(mut changed) = inner.changed.lock()
        {
            changed.push(endpoint_id.to_owned());
        }
        self.claim_soon();
    }

    /// Configures (unless [`Outbound::configured`] did) and starts the threads; they stop
    /// when `shutdown` turns true. Starting twice is a no-op.
    pub fn start(
        &self,
        settings: EngineSettings,
        store: Store,
        vault: Arc<Vault>,
        plugins: Plugins,
        shutdown: watch::Receiver<bool>,
        hold: Pause,
    ) -> anyhow::Result<()> {
        let inner = self
            .engine
            .get_or_init(|| Arc::new(Inner::new(settings, Arc::new(SystemResolver))))
            .clone();
        if inner.started.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        store.write(|tx| dispatch::release_orphaned_leases(tx))?;
        let woken = self.clone();
        hold.on_resume(move || woken.claim_soon());
        let (s, v, p, i, h) = (
            store.clone(),
            vault.clone(),
            plugins.clone(),
            inner.clone(),
            hold.clone(),
        );
        std::thread::Builder::new()
            .name("webhook-scheduler".into())
            .spawn(move || scheduler(&i, &s, &v, &p, shutdown, &h))?;
        for n in 0..inner.settings.workers {
            let (i, p, h) = (inner.clone(), plugins.clone(), hold.clone());
            std::thread::Builder::new()
                .name(format!("webhook-worker-{n}"))
                .spawn(move || worker(&i, &p, &h))?;
        }
        let (i, metrics) = (inner.clone(), self.metrics.get().cloned());
        std::thread::Builder::new()
            .name("webhook-recorder".into())
            .spawn(move || recorder(&i, &store, metrics.as_deref()))?;
        Ok(())
    }
}

impl Inner {
    fn new(settings: EngineSettings, names: Arc<dyn NameResolver>) -> Inner {
        let agent = crate::net::guarded_agent_with(settings.timeout, &settings.policy, names.clone());
        Inner {
            settings,
            names,
            agent,
            wake: Signal::default(),
            claim_now: AtomicBool::new(false),
            queues: Mutex::new(Queues::default()),
            work_ready: Condvar::new(),
            results: Mutex::new(Vec::new()),
            results_ready: Condvar::new(),
            changed: Mutex::new(Vec::new()),
            stopping: AtomicBool::new(false),
            started: AtomicBool::new(false),
        }
    }

    /// Work held in memory per endpoint; the rest waits in the database. Items that sit
    /// too long are not sent (see [`WorkItem::lease_until_ms`]), so a deep queue in front
    /// of a slow endpoint cannot cause a double delivery.
    fn queue_limit(&self) -> usize {
        (self.settings.endpoint_concurrency * 32).max(64)
    }

    fn enqueue(&self, items: Vec<WorkItem>) {
        if items.is_empty() {
            return;
        }
        let cap = self.settings.endpoint_concurrency;
        if let Ok(mut q) = self.queues.lock() {
            for item in items {
                q.push(item, cap);
            }
        }
        self.work_ready.notify_all();
    }

    fn stop(&self) {
        self.stopping.store(true, Ordering::Release);
        self.work_ready.notify_all();
        self.results_ready.notify_all();
    }

    fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }
}

const FAN_OUT_BATCH: u32 = 512;
const CLAIM_BATCH: u32 = 512;
/// Idle workers and the recorder re-check for shutdown this often (they are woken for work).
const IDLE_WAIT: Duration = Duration::from_secs(1);
const CLAIM_EVERY: Duration = Duration::from_millis(100);

fn scheduler(
    inner: &Inner,
    store: &Store,
    vault: &Vault,
    plugins: &Plugins,
    shutdown: watch::Receiver<bool>,
    hold: &Pause,
) {
    let mut db = EngineDb::open(store, inner.settings.database.as_deref());
    let mut last_claim = Instant::now() - CLAIM_EVERY;
    let mut backlog = true;
    let mut targets: HashMap<String, Arc<Target>> = HashMap::new();
    while !*shutdown.borrow() {
        if hold.is_paused() {
            // Nothing is fanned out or claimed; the release wakes the scheduler.
            inner.wake.wait(IDLE_WAIT);
            continue;
        }
        let changed: Vec<String> = inner
            .changed
            .lock()
            .map(|mut c| std::mem::take(&mut *c))
            .unwrap_or_default();
        for id in changed {
            if let Some(t) = targets.remove(&id) {
                t.stale.store(true, Ordering::Release);
            }
        }
        let busy = match schedule_once(
            inner,
            &mut db,
            vault,
            plugins,
            &mut targets,
            &mut last_claim,
            &mut backlog,
        ) {
            Ok(busy) => busy,
            Err(e) => {
                tracing::error!(error = %e, "webhook scheduler failed; retrying");
                std::thread::sleep(Duration::from_millis(500));
                false
            }
        };
        if !busy {
            inner.wake.wait(inner.settings.poll);
        }
    }
    inner.stop();
}

/// One round of fan-out and, when due, claiming. Returns whether there was work.
fn schedule_once(
    inner: &Inner,
    db: &mut EngineDb,
    vault: &Vault,
    plugins: &Plugins,
    targets: &mut HashMap<String, Arc<Target>>,
    last_claim: &mut Instant,
    backlog: &mut bool,
) -> Result<bool, OutboundError> {
    let limit = inner.queue_limit();
    let saturated: Vec<String> = inner.queues.lock().map(|q| q.saturated(limit)).unwrap_or_default();
    let lease = Lease {
        token: Arc::from(crate::ids::new_id()),
        until_ms: now_ms() + inner.settings.lease.as_millis() as i64,
        saturated: &|id: &str| saturated.iter().any(|s| s == id),
    };
    let mut fanned = dispatch::FanOut {
        work: Vec::new(),
        events: 0,
        deferred: 0,
    };
    if db.read(dispatch::has_undispatched)? {
        fanned = db.write(|tx| dispatch::fan_out(tx, vault, plugins, targets, &lease, FAN_OUT_BATCH))?;
    }
    inner.enqueue(fanned.work);
    *backlog |= fanned.deferred > 0;
    let mut claimed = 0;
    // With a backlog (deferred or more due than one batch), claim whenever woken, i.e.
    // after each recorded batch frees queue room; otherwise poll every CLAIM_EVERY.
    let claim = inner.claim_now.swap(false, Ordering::AcqRel) || *backlog || last_claim.elapsed() >= CLAIM_EVERY;
    if claim && db.read(|conn| dispatch::has_due(conn, now_ms()))? {
        *last_claim = Instant::now();
        let items = db.write(|tx| dispatch::claim_due(tx, vault, plugins, targets, &lease, &saturated, CLAIM_BATCH))?;
        claimed = items.len();
        inner.enqueue(items);
        *backlog = claimed as u32 == CLAIM_BATCH || (!saturated.is_empty() && (*backlog || claimed > 0));
    } else if claim {
        *last_claim = Instant::now();
        *backlog = false;
    }
    Ok(fanned.events > 0 || claimed as u32 == CLAIM_BATCH)
}

fn worker(inner: &Inner, plugins: &Plugins, hold: &Pause) {
    let cap = inner.settings.endpoint_concurrency;
    loop {
        let item = {
            let Ok(mut q) = inner.queues.lock() else { return };
            loop {
                if inner.is_stopping() {
                    return;
                }
                if let Some(item) = q.pop(cap) {
                    break item;
                }
                q = match inner.work_ready.wait_timeout(q, IDLE_WAIT) {
                    Ok((q, _)) => q,
                    Err(_) => return,
                };
            }
        };
        let now = now_ms();
        let must_end_by = item.lease_until_ms - inner.settings.timeout.as_millis() as i64;
        // Work queued before a pause goes back to the table unsent.
        let finished = if item.target.is_stale() || now >= must_end_by || hold.is_paused() {
            Finished::NotAttempted(item)
        } else {
            let report = outcome::attempt(&inner.agent, plugins, &item, now);
            Finished::Attempted(item, report)
        };
        let endpoint_id = match &finished {
            Finished::Attempted(i, _) | Finished::NotAttempted(i) => i.target.endpoint_id.clone(),
        };
        if let Ok(mut results) = inner.results.lock() {
            results.push(finished);
        }
        inner.results_ready.notify_one();
        if let Ok(mut q) = inner.queues.lock()
            && q.done(&endpoint_id, cap)
        {
            inner.work_ready.notify_one();
        }
    }
}

const RECORD_BATCH: usize = 1024;

fn recorder(inner: &Inner, store: &Store, metrics: Option<&crate::metrics::Metrics>) {
    let mut db = EngineDb::open(store, inner.settings.database.as_deref());
    loop {
        let batch: Vec<Finished> = {
            let Ok(mut results) = inner.results.lock() else { return };
            while results.is_empty() {
                if inner.is_stopping() {
                    return;
                }
                results = match inner.results_ready.wait_timeout(results, IDLE_WAIT) {
                    Ok((r, _)) => r,
                    Err(_) => return,
                };
            }
            let n = results.len().min(RECORD_BATCH);
            results.drain(..n).collect()
        };
        if inner.is_stopping() {
            // A result recorded after shutdown began could race a restarted server; the
            // lease makes the delivery due again instead.
            return;
        }
        let written = db.write(|tx| {
            let mut disabled = Vec::new();
            let mut outcomes = Vec::new();
            for finished in &batch {
                match finished {
                    Finished::Attempted(item, report) => {
                        let effects = outcome::record(tx, item, report, &inner.settings.rules)?;
                        disabled.extend(effects.disabled_endpoint);
                        outcomes.extend(effects.outcome);
                    }
                    Finished::NotAttempted(item) => outcome::release(tx, item, now_ms())?,
                }
            }
            Ok::<_, OutboundError>((disabled, outcomes))
        });
        match written {
            Ok((disabled, outcomes)) => {
                if let Some(metrics) = metrics {
                    for outcome in outcomes {
                        metrics.delivery(outcome);
                    }
                }
                let released = !disabled.is_empty() || batch.iter().any(|f| matches!(f, Finished::NotAttempted(_)));
                for id in disabled {
                    drop_endpoint_work(inner, &id);
                }
                if released {
                    inner.claim_now.store(true, Ordering::Release);
                }
                inner.wake.raise();
            }
            Err(e) => {
                // The leases expire and the deliveries are retried with the same webhook-id.
                tracing::error!(error = %e, count = batch.len(), "recording webhook attempts failed");
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
}

/// A disabled endpoint's queued work is dropped (its deliveries were given up in the same
/// transaction that disabled it).
fn drop_endpoint_work(inner: &Inner, endpoint_id: &str) {
    if let Ok(mut changed) = inner.changed.lock() {
        changed.push(endpoint_id.to_owned());
    }
    if let Ok(mut q) = inner.queues.lock() {
        q.take_endpoint(endpoint_id);
    }
}
