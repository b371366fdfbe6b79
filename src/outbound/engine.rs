//! Delivery on the queue engine ([`crate::queue`]): each endpoint is a partition (at most
//! `endpoint_concurrency` attempts in flight, taken round-robin, so a slow or dead
//! endpoint holds only its own slots; first attempts before retries), claims fan new
//! outbox events out and lease due deliveries, and results are recorded in batches.
//!
//! Everything the engine writes goes through the writer with relaxed durability: it can
//! all be derived again after a power cut — a lost fan-out leaves its outbox row
//! undispatched, a lost result leaves the delivery leased until it is due again — so the
//! worst case is a repeated delivery with the same `webhook-id`.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use super::OutboundError;
use super::dispatch::{self, Lease};
use super::outcome::{self, AttemptReport, HealthRules, Target, WorkItem};
use super::schedule::RetrySchedule;
use crate::background::Background;
use crate::net::{NameResolver, SystemResolver, TargetPolicy};
use crate::pause::Pause;
use crate::plugins::Plugins;
use crate::queue::{self, Claimed, Finished, QueueStore, Settled};
use crate::store::Store;
use crate::store::sql::Db;
use crate::store::writer::{Durability, Writer};
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
        }
    }

    /// Work held in memory per endpoint; the rest waits in the database. Items that sit
    /// too long are not sent (see [`WorkItem::lease_until_ms`]), so a deep queue in front
    /// of a slow endpoint cannot cause a double delivery.
    fn held_per_endpoint(&self) -> usize {
        (self.endpoint_concurrency * 32).max(64)
    }
}

/// The engine's handle, held by the services that write outbox rows: wakes the engine
/// and tells it about endpoint changes. Configured when the server starts its workers
/// ([`Outbound::start`]); before that wake-ups are no-ops and URLs are judged by the
/// strictest policy.
#[derive(Clone, Default)]
pub struct Outbound {
    configured: Arc<OnceLock<Arc<Configured>>>,
    engine: queue::Handle,
    /// What changed since the last claim; the claim owns the target cache. Queued work
    /// covered by a change waiting here is not started either.
    changed: Arc<Mutex<Vec<Stale>>>,
    /// Where recorded attempts are counted (`tessera_deliveries_total`).
    metrics: Arc<OnceLock<Arc<crate::metrics::Metrics>>>,
}

struct Configured {
    settings: EngineSettings,
    names: Arc<dyn NameResolver>,
}

static STRICT: OnceLock<TargetPolicy> = OnceLock::new();

impl Outbound {
    /// A started-later handle with its settings and name resolver fixed now (benchmarks).
    pub fn configured(settings: EngineSettings, names: Arc<dyn NameResolver>) -> Outbound {
        let outbound = Outbound::default();
        let _ = outbound.configured.set(Arc::new(Configured { settings, names }));
        outbound
    }

    pub fn policy(&self) -> &TargetPolicy {
        match self.configured.get() {
            Some(c) => &c.settings.policy,
            None => STRICT.get_or_init(TargetPolicy::default),
        }
    }

    pub fn names(&self) -> &dyn NameResolver {
        match self.configured.get() {
            Some(c) => c.names.as_ref(),
            None => &SystemResolver,
        }
    }

    /// Counts recorded delivery attempts in `metrics` (set once, before [`Outbound::start`]).
    pub fn report_to(&self, metrics: Arc<crate::metrics::Metrics>) {
        let _ = self.metrics.set(metrics);
    }

    /// New outbox rows may be waiting: fan them out now rather than at the next poll.
    pub fn wake(&self) {
        self.engine.wake();
    }

    /// Deliveries were made due (test, retry, replay): claim them now.
    pub fn claim_soon(&self) {
        self.engine.wake();
    }

    /// An endpoint changed (URL, secret, filter, active, transformation) or was deleted:
    /// queued work re-reads it.
    pub fn endpoint_changed(&self, endpoint_id: &str) {
        self.went_stale(Stale::Endpoint(endpoint_id.to_owned()));
    }

    /// A tenant was deleted: none of its queued work goes out (its secrets are gone).
    pub fn tenant_deleted(&self, tenant_id: &str) {
        self.went_stale(Stale::Tenant(tenant_id.to_owned()));
    }

    /// Anything may have changed (this node missed other nodes' announcements): every
    /// queued item re-reads its endpoint.
    pub fn forget_every_endpoint(&self) {
        self.went_stale(Stale::Everything);
    }

    fn went_stale(&self, stale: Stale) {
        lock(&self.changed).push(stale);
        self.engine.wake();
    }

    /// Configures (unless [`Outbound::configured`] did) and starts the engine, registered
    /// with `background`, which stops it.
    pub fn start(&self, settings: EngineSettings, parts: EngineParts, background: &Background) -> anyhow::Result<()> {
        let configured = self
            .configured
            .get_or_init(|| {
                Arc::new(Configured {
                    settings,
                    names: Arc::new(SystemResolver),
                })
            })
            .clone();
        let settings = &configured.settings;
        let agent = crate::net::guarded_agent_with(settings.timeout, &settings.policy, configured.names.clone());
        let deliveries = Arc::new(Deliveries {
            store: parts.store,
            writer: parts.writer,
            vault: parts.vault,
            plugins: parts.plugins.clone(),
            targets: Arc::default(),
            changed: self.changed.clone(),
            lease: settings.lease,
            timeout: settings.timeout,
            rules: settings.rules.clone(),
            metrics: self.metrics.get().cloned(),
        });
        let engine = queue::Settings {
            name: "webhook",
            workers: settings.workers,
            per_partition: settings.endpoint_concurrency,
            held_per_partition: settings.held_per_endpoint(),
            max_held: usize::MAX,
            claim_batch: CLAIM_BATCH as usize,
            settle_batch: 1024,
            poll: Some(settings.poll),
            // A delivery is one call, bounded by its timeout, which its lease outlasts.
            renew_every: None,
            hold: parts.hold,
        };
        let plugins = parts.plugins;
        let run = move |delivery: &Delivery| outcome::attempt(&agent, &plugins, &delivery.item, now_ms());
        queue::start(deliveries, run, engine, &self.engine, background)?;
        Ok(())
    }
}

/// What made cached endpoint views stale.
enum Stale {
    Endpoint(String),
    Tenant(String),
    Everything,
}

impl Stale {
    fn covers(&self, target: &Target) -> bool {
        match self {
            Stale::Endpoint(id) => target.endpoint_id == *id,
            Stale::Tenant(id) => target.tenant_id == *id,
            Stale::Everything => true,
        }
    }
}

/// What the engine works with besides its settings.
pub struct EngineParts {
    pub store: Store,
    pub writer: Writer,
    pub vault: Arc<Vault>,
    /// Endpoints' outbound transformations run through it.
    pub plugins: Plugins,
    /// Paused mode: nothing is claimed or sent while it holds.
    pub hold: Pause,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

const FAN_OUT_BATCH: u32 = 512;
const CLAIM_BATCH: u32 = 512;

/// A leased delivery as a worker holds it.
pub struct Delivery {
    item: WorkItem,
    /// When its attempt must have started by to end inside the lease.
    start_by_ms: i64,
    /// Changes announced since the claim ([`Outbound::changed`]): one covering its
    /// endpoint or tenant keeps it from starting before the next claim marks its view.
    changed: Arc<Mutex<Vec<Stale>>>,
}

impl queue::Task for Delivery {
    fn partition(&self) -> &str {
        &self.item.target.endpoint_id
    }

    fn is_retry(&self) -> bool {
        self.item.attempt > 1
    }

    /// Not once the endpoint changed or its tenant is gone (its URL or secret may be
    /// gone), nor when the attempt could outlast the lease (the delivery may belong to
    /// another claim by then).
    fn may_start(&self) -> bool {
        let target = &self.item.target;
        !target.is_stale()
            && !lock(&self.changed).iter().any(|stale| stale.covers(target))
            && now_ms() < self.start_by_ms
    }
}

/// The delivery tables as the engine's store.
struct Deliveries {
    store: Store,
    writer: Writer,
    vault: Arc<Vault>,
    plugins: Plugins,
    /// Each endpoint's signing view, built once per endpoint version.
    targets: Arc<Mutex<HashMap<String, Arc<Target>>>>,
    changed: Arc<Mutex<Vec<Stale>>>,
    lease: Duration,
    /// An attempt's timeout: it must end before its lease does.
    timeout: Duration,
    rules: HealthRules,
    metrics: Option<Arc<crate::metrics::Metrics>>,
}

impl Deliveries {
    fn relaxed<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Db<'_>) -> Result<T, OutboundError> + Send + 'static,
    ) -> Result<T, OutboundError> {
        self.writer.write_blocking_with(Durability::Relaxed, f)
    }

    /// Queued work of changed endpoints is not sent with the old URL or secret. The
    /// changes stay listed until their views are marked, so a delivery checking the list
    /// in between still sees them.
    fn forget_changed(&self) {
        let mut changed = lock(&self.changed);
        if changed.is_empty() {
            return;
        }
        lock(&self.targets).retain(|_, target| {
            let forgotten = changed.iter().any(|stale| stale.covers(target));
            if forgotten {
                target.stale.store(true, Ordering::Release);
            }
            !forgotten
        });
        changed.clear();
    }

    fn timed(&self, items: Vec<WorkItem>, timeout_ms: i64) -> Vec<Delivery> {
        items
            .into_iter()
            .map(|item| {
                let start_by_ms = item.lease_until_ms - timeout_ms;
                Delivery {
                    item,
                    start_by_ms,
                    changed: self.changed.clone(),
                }
            })
            .collect()
    }
}

impl QueueStore for Deliveries {
    type Task = Delivery;
    type Done = AttemptReport;

    /// Leases left by a process that is gone: their deliveries are due again now (with
    /// the same `webhook-id`).
    fn recover(&self, at_start: bool) -> anyhow::Result<usize> {
        let Some(reclaim) = self.store.reclaim(at_start) else {
            return Ok(0);
        };
        Ok(self.relaxed(move |tx| dispatch::release_orphaned_leases(tx, &reclaim))?)
    }

    fn claim(&self, limit: usize, full: &[String]) -> anyhow::Result<Claimed<Delivery>> {
        self.forget_changed();
        let lease = Arc::new(Lease {
            token: Arc::from(crate::ids::new_id()),
            owner: Arc::from(self.store.node_id()),
            until_ms: now_ms() + self.lease.as_millis() as i64,
            saturated: full.to_vec(),
        });
        let timeout_ms = self.timeout.as_millis() as i64;
        let mut tasks = Vec::new();
        let mut more = false;
        // Cheap reads first, so an idle engine never takes the write lock.
        if self.store.read(dispatch::has_undispatched)? {
            let (vault, plugins, targets, lease) = (
                self.vault.clone(),
                self.plugins.clone(),
                self.targets.clone(),
                lease.clone(),
            );
            let fanned = self.relaxed(move |tx| {
                dispatch::fan_out(tx, &vault, &plugins, &mut lock(&targets), &lease, FAN_OUT_BATCH)
            })?;
            more |= fanned.events as u32 == FAN_OUT_BATCH || fanned.deferred > 0;
            tasks.extend(self.timed(fanned.work, timeout_ms));
        }
        let room = limit.saturating_sub(tasks.len()).min(CLAIM_BATCH as usize) as u32;
        if room > 0 && self.store.read(|conn| dispatch::has_due(conn, now_ms()))? {
            let (vault, plugins, targets, lease) = (
                self.vault.clone(),
                self.plugins.clone(),
                self.targets.clone(),
                lease.clone(),
            );
            let claimed =
                self.relaxed(move |tx| dispatch::claim_due(tx, &vault, &plugins, &mut lock(&targets), &lease, room))?;
            more |= claimed.len() as u32 == room;
            tasks.extend(self.timed(claimed, timeout_ms));
        }
        Ok(Claimed { tasks, more })
    }

    fn settle(&self, finished: Vec<Finished<Delivery, AttemptReport>>) -> anyhow::Result<Settled> {
        let rules = self.rules.clone();
        let (disabled, outcomes) = self.relaxed(move |tx| {
            let mut disabled = Vec::new();
            let mut outcomes = Vec::new();
            for finished in &finished {
                match finished {
                    Finished::Ran(Delivery { item, .. }, report) => {
                        let effects = outcome::record(tx, item, report, &rules)?;
                        disabled.extend(effects.disabled_endpoint);
                        outcomes.extend(effects.outcome);
                    }
                    Finished::NotStarted(Delivery { item, .. }) => outcome::release(tx, item, now_ms())?,
                }
            }
            Ok((disabled, outcomes))
        })?;
        if let Some(metrics) = &self.metrics {
            for outcome in outcomes {
                metrics.delivery(outcome);
            }
        }
        // A disabled endpoint's queued work is dropped: its deliveries were given up in
        // the same transaction that disabled it.
        lock(&self.changed).extend(disabled.iter().cloned().map(Stale::Endpoint));
        Ok(Settled {
            drop_partitions: disabled,
        })
    }

    fn next_due_in(&self) -> Option<Duration> {
        None
    }
}
