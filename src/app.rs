//! Application state, router assembly and the server's lifetime.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::middleware;
use tokio::net::TcpListener;

use crate::auth::Auth;
use crate::background::Background;
use crate::catalog::{Catalog, Catalogs};
use crate::config::Config;
use crate::connections::Connections;
use crate::demo::Demo;
use crate::easyappointments::EasyAppointments;
use crate::inbound::{Inbound, InboundParts, ProviderCalls, ReceiverSettings};
use crate::jobs::{Queue, WorkerSettings};
use crate::metrics::Metrics;
use crate::net::{Agents, TargetPolicy};
use crate::oauth::{OAuth, OAuthParts, OAuthSettings};
use crate::outbound::Outbound;
use crate::pause::PauseControl;
use crate::plugins::{PluginLimits, Plugins, PluginsParts};
use crate::ratelimit::RateLimiter;
use crate::signups::Signups;
use crate::store::Store;
use crate::store::writer::Writer;
use crate::tenants::Tenants;
use crate::time::Clock;
use crate::usage::Usage;
use crate::users::Users;
use crate::vault::Vault;

/// What the HTTP layer sees: the services, built once in [`AppState::open`], and the
/// shared pieces handlers read directly. Domain code, job handlers and background workers
/// get only the service they need, never this. Cheap to clone: one `Arc`, because axum
/// clones the state for every request and a field-by-field clone of every service showed
/// up as a fifth of `/healthz`'s CPU time.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// What [`AppState`] holds.
pub struct Services {
    pub config: Arc<Config>,
    pub started_at: Instant,
    /// The time where expiry matters (tokens, sessions, job scheduling).
    pub clock: Clock,
    pub store: Store,
    pub vault: Arc<Vault>,
    /// Every tenant's effective provider catalog (built-ins, providers file, plugins).
    pub catalogs: Arc<Catalogs>,
    /// The one writer: webhook ingestion, the job queue, processing, delivery records,
    /// read-audit entries and usage counts.
    pub writer: Writer,
    /// Adds jobs and wakes the job workers after work is committed.
    pub jobs: Queue,
    /// Outbound webhook engine: wake it after writing outbox rows (`state.outbound.wake()`).
    pub outbound: Outbound,
    pub metrics: Arc<Metrics>,
    pub limiter: Arc<RateLimiter>,
    pub usage: Usage,
    pub auth: Auth,
    /// On PostgreSQL: hears other nodes' changes and drops what they make stale here.
    _changes: Option<crate::store::postgres::changes::ChangeListener>,
    pub tenants: Tenants,
    pub users: Users,
    pub connections: Connections,
    pub oauth: OAuth,
    pub inbound: Inbound,
    pub easyappointments: EasyAppointments,
    pub signups: Signups,
    pub demo: Demo,
    pub plugins: Plugins,
    /// Paused mode: the stored state and the switch every outside-facing worker consults.
    pub pause: PauseControl,
}

impl AppState {
    /// Opens the data dir, loads the catalog and builds every service. Blocking.
    pub fn open(config: Config) -> anyhow::Result<AppState> {
        AppState::open_with_clock(config, Clock::system())
    }

    /// [`AppState::open`] with the clock every service reads expiry and schedules from.
    pub fn open_with_clock(config: Config, clock: Clock) -> anyhow::Result<AppState> {
        let (store, vault) = crate::setup::open(&config)?;
        let (vault, catalogs) = (
            Arc::new(vault),
            Arc::new(Catalogs::new(Catalog::load(config.providers_file.as_deref())?)),
        );
        let policy = TargetPolicy::new(config.allow_private_targets, config.allowed_target_cidrs.clone());
        let agents = Agents::new(config.outbound_timeout, &policy);
        let writer = Writer::start(&store)?;
        let jobs = Queue::new(clock.clone());
        let outbound = Outbound::default();
        let metrics = Arc::new(Metrics::default());
        let plugins = Plugins::new(PluginsParts {
            store: store.clone(),
            vault: vault.clone(),
            catalogs: catalogs.clone(),
            outbound: outbound.clone(),
            limits: PluginLimits::from_config(&config),
            clock: clock.clone(),
        });
        // Publishes the built-in plugins and loads the overlays before anything reads a catalog.
        plugins.start()?;
        let connections = Connections::new(store.clone(), vault.clone(), catalogs.clone(), agents.clone());
        let oauth = OAuth::new(OAuthParts {
            store: store.clone(),
            writer: writer.clone(),
            vault: vault.clone(),
            catalogs: catalogs.clone(),
            agents: agents.clone(),
            clock: clock.clone(),
            settings: OAuthSettings::from_config(&config),
            metrics: metrics.clone(),
            outbound: outbound.clone(),
            connections: connections.clone(),
        });
        let calls = ProviderCalls::new(
            store.clone(),
            vault.clone(),
            catalogs.clone(),
            agents.clone(),
            oauth.clone(),
        );
        let auth = Auth::new(store.clone(), clock.clone());
        let pause = PauseControl::open(store.clone(), clock.clone(), config.paused)?;
        let inbound = Inbound::new(InboundParts {
            store: store.clone(),
            vault: vault.clone(),
            catalogs: catalogs.clone(),
            plugins: plugins.clone(),
            writer: writer.clone(),
            jobs: jobs.clone(),
            outbound: outbound.clone(),
            metrics: metrics.clone(),
            calls: calls.clone(),
            clock: clock.clone(),
            auth: auth.clone(),
            receiver: ReceiverSettings::from_config(&config),
            own_url: crate::net::own_base_url(config.listen),
            own_agent: crate::net::own_agent(config.outbound_timeout),
        });
        let changes = match store.postgres() {
            Some(pg) => Some(listen_for_changes(pg, &auth, &oauth, &vault, &outbound, &plugins)?),
            None => None,
        };
        Ok(AppState(Arc::new(Services {
            _changes: changes,
            started_at: Instant::now(),
            tenants: Tenants::new(store.clone(), vault.clone(), auth.clone(), outbound.clone()),
            auth,
            signups: Signups::new(store.clone(), jobs.clone()),
            users: Users::new(store.clone(), clock.clone(), &config),
            easyappointments: EasyAppointments::new(store.clone(), calls, jobs.clone(), clock.clone()),
            demo: Demo::new(store.clone(), agents.fixed().clone(), &config),
            usage: Usage::new(writer.clone()),
            limiter: Arc::default(),
            pause,
            config: Arc::new(config),
            clock,
            store,
            vault,
            catalogs,
            writer,
            jobs,
            outbound,
            metrics,
            connections,
            oauth,
            inbound,
            plugins,
        })))
    }
}

/// What another node's change makes stale in this one's memory.
fn listen_for_changes(
    pg: &crate::store::postgres::PgStore,
    auth: &Auth,
    oauth: &OAuth,
    vault: &Arc<Vault>,
    outbound: &Outbound,
    plugins: &Plugins,
) -> std::io::Result<crate::store::postgres::changes::ChangeListener> {
    use crate::store::postgres::changes;
    let (auth, oauth, vault, outbound, plugins) = (
        auth.clone(),
        oauth.clone(),
        vault.clone(),
        outbound.clone(),
        plugins.clone(),
    );
    changes::listen(pg, move |topic| {
        if topic == changes::TOKENS {
            auth.forget_tokens();
        } else if topic == changes::TENANTS {
            auth.forget_tenants();
        } else if let Some(id) = topic.strip_prefix("connection:") {
            oauth.forget_connection(id);
        } else if let Some(id) = topic.strip_prefix("endpoint:") {
            outbound.endpoint_changed(id);
        } else if let Some(id) = topic.strip_prefix("plugin:") {
            plugins.changed_elsewhere(Some(id));
        } else if let Some(id) = topic.strip_prefix("tenant-keys:") {
            vault.forget(&crate::vault::KeyScope::Tenant(id.to_owned()));
            outbound.tenant_deleted(id);
        } else if topic == changes::EVERYTHING {
            auth.forget_tenants();
            oauth.forget_everything();
            outbound.forget_every_endpoint();
            plugins.changed_elsewhere(None);
        }
    })
}

/// The routes with their per-route layers; [`crate::api::frame`] wraps it for serving.
pub fn router(state: AppState) -> Router {
    let router = crate::api::router(crate::api::routes());

    // The demo's sandbox provider, only in demo mode.
    let router = if state.config.demo {
        router.merge(crate::demo::router())
    } else {
        router
    };
    // Unknown /api paths answer like the fallback, but inside the layers below, so they
    // too carry RateLimit headers and count against the caller.
    let router = router.route("/api/{*rest}", axum::routing::any(crate::error::route_not_found));
    // Refuses oversized bodies after draining them (clients then see the 413), limits and
    // counts requests (inner to the route, so MatchedPath is known).
    let router = router.layer(middleware::from_fn_with_state(state.clone(), guard_route));

    let router = router.merge(crate::ui::router());

    router
        .fallback(crate::error::route_not_found)
        .method_not_allowed_fallback(crate::error::method_not_allowed)
        .with_state(state)
}

/// Every route's own layer: limits and counts the request (see [`crate::ratelimit`]), and
/// refuses a body declared too large. One layer, not two: each layer around a route is
/// boxed and cloned again per request.
async fn guard_route(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    let limit = state.config.body_limit_bytes;
    crate::ratelimit::enforce(&state, request, |request| async move {
        match crate::ops::lingering::refuse_oversized(limit, request).await {
            Ok(request) => next.run(request).await,
            Err(refusal) => refusal,
        }
    })
    .await
}

/// Starts the background workers that live as long as the server, each with the service
/// it works for, all registered with `background` so a graceful stop joins them.
fn spawn_workers(state: &AppState, background: &Background) -> anyhow::Result<()> {
    let config = &state.config;
    // Every worker below that acts on the outside world consults this one switch.
    let hold = state.pause.pause().clone();
    let pause = state.pause.clone();
    background
        .every("pause watcher", crate::pause::WATCH_EVERY)
        .run(move || {
            let pause = pause.clone();
            async move { pause.apply_stored().await }
        });
    if state.store.postgres().is_some() {
        // Other nodes hand this one's leased work to the living once it falls silent.
        let store = state.store.clone();
        background
            .every("node heartbeat", crate::store::nodes::HEARTBEAT_EVERY)
            .starting_now()
            .run_blocking(move || {
                if let Err(e) = store.heartbeat() {
                    tracing::warn!(error = %e, "node heartbeat failed");
                }
            });
    }
    let (oauth, held) = (state.oauth.clone(), hold.clone());
    background
        .every("oauth refresher", config.oauth_refresh_interval)
        .run_blocking(move || {
            if !held.is_paused() {
                crate::oauth::refresher::pass(&oauth);
            }
        });

    let handlers = state
        .inbound
        .job_handlers()
        .merge(state.easyappointments.job_handlers());
    let settings = WorkerSettings {
        workers: config.job_workers,
        // Longer than any outside call a job makes.
        lease: config.outbound_timeout * 2 + Duration::from_secs(30),
        retry_base: config.job_retry_base,
    };
    state.jobs.start(
        state.store.clone(),
        state.writer.clone(),
        handlers,
        settings,
        &hold,
        background,
    )?;

    state.outbound.report_to(state.metrics.clone());
    let settings = crate::outbound::engine::EngineSettings::from_config(config);
    state.outbound.start(
        settings,
        crate::outbound::engine::EngineParts {
            store: state.store.clone(),
            writer: state.writer.clone(),
            vault: state.vault.clone(),
            plugins: state.plugins.clone(),
            hold: hold.clone(),
        },
        background,
    )?;

    // A rotation beside the running server adds key versions to the key file.
    if config.master_key.is_none() {
        let key_file = (config.master_key_file.clone()).unwrap_or_else(|| config.default_master_key_path());
        state.vault.reload_keys_from(key_file);
    }
    let usage = state.usage.clone();
    background
        .every("usage flush", config.usage_flush_interval)
        .and_at_stop()
        .run(move || {
            let usage = usage.clone();
            async move { usage.flush_now().await }
        });
    let retention = crate::ops::retention::Retention {
        store: state.store.clone(),
        clock: state.clock.clone(),
        retention_days: config.audit_retention_days,
        rejected_days: config.rejected_events_days,
    };
    background
        .every("retention", config.audit_purge_interval)
        .starting_now()
        .run(move || {
            let retention = retention.clone();
            async move { retention.purge_once().await }
        });
    let users = state.users.clone();
    background
        .every("session purge", Duration::from_secs(600))
        .starting_now()
        .run(move || {
            let users = users.clone();
            async move { users.purge_expired_sessions().await }
        });
    if config.demo {
        background.spawn("demo seeding", crate::demo::seed::run(state.demo.clone()));
        if let Some(interval) = state.demo.emit_interval() {
            let demo = state.demo.clone();
            background.every("demo webhooks", interval).run(move || {
                let (demo, hold) = (demo.clone(), hold.clone());
                async move {
                    if !hold.is_paused() {
                        crate::demo::seed::emit_purchase(demo).await;
                    }
                }
            });
        }
    }
    Ok(())
}

/// A data dir opened and checked — migrations run, master key verified — before any
/// listener is bound, so a wrong key is refused without the server ever listening.
pub struct Opened {
    state: AppState,
}

impl Opened {
    /// Opens the data dir (blocking work on a blocking thread); `clock` is the time every
    /// service reads expiry and schedules from.
    pub async fn open(config: Config, clock: Clock) -> anyhow::Result<Opened> {
        let state = tokio::task::spawn_blocking(move || AppState::open_with_clock(config, clock)).await??;
        Ok(Opened { state })
    }

    /// Starts the workers and serves until `shutdown` resolves: drains open connections,
    /// then stops and joins the background workers (waiting up to `shutdown_grace` for
    /// work in flight) and finally the writer, once nothing can write any more.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Opened { state } = self;
        let background = Arc::new(Background::default());
        let grace = state.config.shutdown_grace;
        let (writer, store) = (state.writer.clone(), state.store.clone());
        if let Err(e) = spawn_workers(&state, &background) {
            background.stop(grace).await;
            tokio::task::spawn_blocking(move || {
                drop((state, store));
                writer.close()
            })
            .await?;
            return Err(e);
        }
        let settings = state.config.server.clone();
        let (body_limit, trusted_proxies) = (
            state.config.body_limit_bytes,
            Arc::new(state.config.server.trusted_proxies.clone()),
        );
        let app = crate::api::frame::framed(router(state), body_limit, trusted_proxies);
        let addr = listener.local_addr()?;
        // The command line says it in words; this is for structured logs and debugging.
        tracing::debug!(%addr, "tessera listening");
        let stopping = background.clone();
        let served = crate::listener::serve(listener, app, &settings, async move {
            shutdown.await;
            // Workers stop claiming while the last requests are answered.
            stopping.stop_signal();
        })
        .await;
        background.stop(grace).await;
        // Moved, not cloned: the last handle of a PostgreSQL pool must drop off the
        // executor (its clients block when they close).
        tokio::task::spawn_blocking(move || {
            store.leave();
            writer.close()
        })
        .await?;
        served?;
        Ok(())
    }
}

/// Opens the data dir and serves on `listener` until `shutdown` resolves.
pub async fn serve(
    config: Config,
    clock: Clock,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    // The address really bound (`127.0.0.1:0` picks a port): webhook URLs, the redirect
    // URI and test deliveries are built from it.
    let mut config = config;
    config.listen = listener.local_addr()?;
    Opened::open(config, clock).await?.serve(listener, shutdown).await
}
