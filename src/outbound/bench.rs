//! `tessera bench deliveries`: how fast the delivery engine moves events from the outbox to
//! a local receiver, against that receiver's own ceiling measured in the same run.
//!
//! Three phases, each on a fresh temporary data dir with the real store, vault and engine:
//! 1. ceiling: the same number of worker threads POST the same signed body straight to
//!    the receiver (no tessera in between) — the most this receiver takes on this machine;
//! 2. throughput: N events are committed to the outbox, then the engine fans them out to
//!    E endpoints and delivers them; deliveries/s until every one is recorded succeeded;
//! 3. latency: events committed one by one at a steady rate; time from each commit to the
//!    receiver seeing its first attempt. Once with a wake after each commit (as tessera's
//!    own handlers do) and once relying on the poll alone (callers that do not wake).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::json;

use super::Outbound;
use super::endpoints::{self, EndpointRow, RetryPolicy};
use super::engine::EngineSettings;
use super::signing::{SigningKey, generate_secret, message_id, signature_header};
use crate::background::Background;
use crate::config::Config;
use crate::net::SystemResolver;
use crate::store::Store;
use crate::vault::{KeyScope, Vault};

#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// Outbound webhook deliveries: throughput and commit-to-attempt latency.
    Deliveries(DeliveriesArgs),
}

pub fn execute(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Deliveries(args) => run(&args),
    }
}

#[derive(Debug, clap::Args)]
pub struct DeliveriesArgs {
    /// Events committed for the throughput phase.
    #[arg(long, default_value_t = 20_000)]
    pub events: u32,
    /// Endpoints each event fans out to.
    #[arg(long, default_value_t = 4)]
    pub endpoints: u32,
    /// Events for each latency phase (committed one at a time).
    #[arg(long, default_value_t = 500)]
    pub latency_events: u32,
    /// Commits per second during the latency phases.
    #[arg(long, default_value_t = 200)]
    pub latency_rate: u32,
}

/// Counts what reaches it and when each `webhook-id` first arrived.
#[derive(Default)]
struct ReceiverLog {
    count: AtomicU64,
    first_seen: Mutex<HashMap<String, Instant>>,
}

struct LocalReceiver {
    url: String,
    log: Arc<ReceiverLog>,
    _runtime: tokio::runtime::Runtime,
}

fn start_receiver() -> anyhow::Result<LocalReceiver> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let log = Arc::new(ReceiverLog::default());
    let handler_log = log.clone();
    let app = Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, _body: axum::body::Bytes| {
            let log = handler_log.clone();
            async move {
                let now = Instant::now();
                log.count.fetch_add(1, Ordering::Relaxed);
                if let Some(id) = headers.get("webhook-id").and_then(|v| v.to_str().ok())
                    && let Ok(mut seen) = log.first_seen.lock()
                {
                    seen.entry(id.to_owned()).or_insert(now);
                }
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    runtime.spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(LocalReceiver {
        url,
        log,
        _runtime: runtime,
    })
}

struct Sandbox {
    dir: PathBuf,
    store: Store,
    vault: Arc<Vault>,
    config: Config,
    tenant_id: String,
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn sandbox(name: &str, workers: usize, endpoint_concurrency: usize) -> anyhow::Result<Sandbox> {
    let dir = std::env::temp_dir().join(format!("tessera-bench-{name}-{}", crate::ids::new_id()));
    let mut config = Config::with_data_dir(&dir);
    config.allow_private_targets = true;
    config.webhook_workers = workers;
    config.webhook_endpoint_concurrency = endpoint_concurrency;
    crate::setup::initialise(&config)?;
    let (store, vault) = crate::setup::open(&config)?;
    let vault = Arc::new(vault);
    let tenant_id = crate::ids::new_id();
    let now = crate::time::now_rfc3339();
    store.write(|tx| {
        crate::tenants::insert_tenant(
            tx,
            &crate::tenants::Tenant {
                id: tenant_id.clone(),
                slug: "bench".into(),
                name: "bench".into(),
                tier: crate::tenants::Tier::Enterprise,
                notification_emails: Vec::new(),
                created_at: now.clone(),
                updated_at: now.clone(),
            },
        )?;
        vault.create_data_key(tx, &KeyScope::Tenant(tenant_id.clone()))?;
        Ok::<_, crate::tenants::TenantError>(())
    })?;
    Ok(Sandbox {
        dir,
        store,
        vault,
        config,
        tenant_id,
    })
}

fn add_endpoints(sb: &Sandbox, url: &str, n: u32) -> anyhow::Result<()> {
    sb.store.write(|tx| {
        for _ in 0..n {
            let id = crate::ids::new_id();
            let now = crate::time::now_rfc3339();
            let secret = generate_secret();
            let row = EndpointRow {
                secret: endpoints::seal_secret(tx, &sb.vault, &sb.tenant_id, &id, "secret", &secret)?,
                id,
                tenant_id: sb.tenant_id.clone(),
                url: url.to_owned(),
                description: "bench".into(),
                events: vec!["*".into()],
                active: true,
                retry_policy: RetryPolicy::Exponential,
                previous_secret: None,
                previous_secret_expires_at: None,
                disabled_reason: None,
                disabled_at: None,
                failing_since: None,
                created_at: now.clone(),
                updated_at: now,
                transform_plugin: None,
            };
            endpoints::insert(tx, &row)?;
        }
        Ok::<_, super::OutboundError>(())
    })?;
    Ok(())
}

fn event_data(i: u32) -> serde_json::Value {
    json!({"provider": "stripe", "auth_mode": "api_key", "status": "active", "sequence": i})
}

/// Phase 1: the receiver's ceiling with `workers` concurrent senders.
fn ceiling(receiver: &LocalReceiver, workers: usize, total: u64) -> f64 {
    let key = SigningKey::from_secret(&generate_secret()).expect("generated secrets parse");
    let body = json!({"type": "connection.updated", "timestamp": crate::time::now_rfc3339(), "data": event_data(0)})
        .to_string();
    // The engine's own agent settings (connection pool per host, no redirects), guard open.
    let agent = crate::net::guarded_agent(
        Duration::from_secs(30),
        &crate::net::TargetPolicy::new(true, Vec::new()),
    );
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let (agent, next, body, key, url) = (agent.clone(), next.clone(), &body, &key, &receiver.url);
            scope.spawn(move || {
                while next.fetch_add(1, Ordering::Relaxed) < total {
                    let id = message_id(&crate::ids::new_id());
                    let ts = crate::time::now().unix_timestamp();
                    let sig = signature_header(std::slice::from_ref(key), &id, ts, body.as_bytes());
                    let _ = agent
                        .post(url)
                        .header("content-type", "application/json")
                        .header("webhook-id", &id)
                        .header("webhook-timestamp", ts.to_string())
                        .header("webhook-signature", sig)
                        .send(body.as_bytes());
                }
            });
        }
    });
    total as f64 / started.elapsed().as_secs_f64()
}

/// The engine's threads, stopped and joined when dropped.
struct Running(Background);

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_time().build() {
            runtime.block_on(self.0.stop(Duration::from_secs(10)));
        }
    }
}

fn start_engine(sb: &Sandbox) -> anyhow::Result<(Outbound, Running)> {
    let settings = EngineSettings::from_config(&sb.config);
    let outbound = Outbound::configured(settings.clone(), Arc::new(SystemResolver));
    let background = Background::default();
    let plugins = crate::plugins::Plugins::standalone(sb.store.clone(), sb.vault.clone(), Default::default())?;
    let parts = super::engine::EngineParts {
        store: sb.store.clone(),
        writer: crate::store::writer::Writer::start(&sb.store)?,
        vault: sb.vault.clone(),
        plugins,
        hold: Default::default(),
    };
    outbound.start(settings, parts, &background)?;
    Ok((outbound, Running(background)))
}

fn count_succeeded(store: &Store) -> anyhow::Result<u64> {
    Ok(store.read(|conn| {
        conn.query_row(
            "SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'succeeded'",
            [],
            |r| r.get::<i64>(0),
        )
    })? as u64)
}

/// Phase 2: deliveries per second from a committed outbox to recorded success.
fn throughput(args: &DeliveriesArgs, receiver: &LocalReceiver) -> anyhow::Result<(f64, f64)> {
    let sb = sandbox("throughput", 32, 8)?;
    add_endpoints(&sb, &receiver.url, args.endpoints)?;
    for chunk in (0..args.events).collect::<Vec<_>>().chunks(1000) {
        sb.store.write(|tx| {
            for i in chunk {
                crate::outbox::emit(tx, &sb.tenant_id, "connection.updated", event_data(*i))?;
            }
            Ok::<_, crate::store::StoreError>(())
        })?;
    }
    let expected = args.events as u64 * args.endpoints as u64;
    let before = receiver.log.count.load(Ordering::Relaxed);
    let started = Instant::now();
    let (_outbound, stop) = start_engine(&sb)?;
    let mut received_at = None;
    loop {
        if received_at.is_none() && receiver.log.count.load(Ordering::Relaxed) - before >= expected {
            received_at = Some(started.elapsed());
        }
        if count_succeeded(&sb.store)? >= expected {
            break;
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(600),
            "throughput phase took over 10 minutes"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let recorded = started.elapsed();
    drop(stop);
    let received = received_at.unwrap_or(recorded);
    Ok((
        expected as f64 / received.as_secs_f64(),
        expected as f64 / recorded.as_secs_f64(),
    ))
}

/// Phase 3: commit → first attempt at the receiver, in milliseconds (sorted).
fn latency(args: &DeliveriesArgs, receiver: &LocalReceiver, wake: bool) -> anyhow::Result<Vec<f64>> {
    let sb = sandbox(if wake { "latency-wake" } else { "latency-poll" }, 32, 8)?;
    add_endpoints(&sb, &receiver.url, 1)?;
    let (outbound, stop) = start_engine(&sb)?;
    std::thread::sleep(Duration::from_millis(200));
    let interval = Duration::from_secs_f64(1.0 / args.latency_rate.max(1) as f64);
    let mut committed: Vec<(String, Instant)> = Vec::with_capacity(args.latency_events as usize);
    let started = Instant::now();
    for i in 0..args.latency_events {
        let id = sb
            .store
            .write(|tx| crate::outbox::emit(tx, &sb.tenant_id, "connection.verified", event_data(i)))?;
        committed.push((message_id(&id), Instant::now()));
        if wake {
            outbound.wake();
        }
        let next = started + interval * (i + 1);
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut latencies = Vec::new();
    while Instant::now() < deadline {
        let seen = receiver
            .log
            .first_seen
            .lock()
            .map_err(|_| anyhow::anyhow!("receiver lock"))?;
        if committed.iter().all(|(id, _)| seen.contains_key(id)) {
            latencies = committed
                .iter()
                .map(|(id, at)| seen[id].saturating_duration_since(*at).as_secs_f64() * 1000.0)
                .collect();
            break;
        }
        drop(seen);
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(stop);
    anyhow::ensure!(!latencies.is_empty(), "not every latency event arrived within 60 s");
    latencies.sort_by(f64::total_cmp);
    Ok(latencies)
}

/// Round trip of one request straight to the receiver (the latency floor), sorted, in ms.
fn direct_round_trips(receiver: &LocalReceiver, n: u32) -> Vec<f64> {
    let agent = crate::net::agent(Duration::from_secs(30));
    let mut out: Vec<f64> = (0..n)
        .map(|_| {
            let started = Instant::now();
            let _ = agent
                .post(&receiver.url)
                .header("webhook-id", message_id(&crate::ids::new_id()))
                .send("{}");
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    out.sort_by(f64::total_cmp);
    out
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

pub fn run(args: &DeliveriesArgs) -> anyhow::Result<()> {
    let receiver = start_receiver()?;
    let total = args.events as u64 * args.endpoints as u64;
    eprintln!("bench: receiver ceiling with 32 senders, {total} requests ...");
    let ceiling = ceiling(&receiver, 32, total);
    eprintln!(
        "bench: throughput, {} events x {} endpoints ...",
        args.events, args.endpoints
    );
    let (received_rate, recorded_rate) = throughput(args, &receiver)?;
    eprintln!(
        "bench: latency, {} events at {}/s ...",
        args.latency_events, args.latency_rate
    );
    let woken = latency(args, &receiver, true)?;
    let polled = latency(args, &receiver, false)?;
    let floor = direct_round_trips(&receiver, 200);
    let report = json!({
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "receiver_ceiling_per_s": ceiling.round(),
        "throughput": {
            "events": args.events,
            "endpoints": args.endpoints,
            "deliveries": total,
            "received_per_s": received_rate.round(),
            "recorded_per_s": recorded_rate.round(),
            "ratio_to_ceiling": (recorded_rate / ceiling * 1000.0).round() / 1000.0,
        },
        "latency_ms": {
            "direct_round_trip_p50": round2(percentile(&floor, 0.5)),
            "with_wake": summary(&woken),
            "poll_only": summary(&polled),
        },
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

fn summary(sorted: &[f64]) -> serde_json::Value {
    json!({
        "p50": round2(percentile(sorted, 0.5)),
        "p90": round2(percentile(sorted, 0.9)),
        "p99": round2(percentile(sorted, 0.99)),
        "max": round2(percentile(sorted, 1.0)),
    })
}
