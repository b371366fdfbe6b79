//! Application state, router assembly and the server's lifetime.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::catalog::Catalog;
use crate::config::Config;
use crate::store::Store;
use crate::vault::Vault;

/// Everything a handler may need. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub vault: Arc<Vault>,
    pub catalog: Arc<Catalog>,
    /// Agent for provider calls (timeouts on, redirects off). Use on blocking threads.
    pub http: ureq::Agent,
    pub started_at: Instant,
    /// The time where expiry matters (tokens, sessions, job scheduling).
    pub clock: crate::time::Clock,
    pub shutdown: watch::Receiver<bool>,
    /// Accepted tokens and resolved tenants; cleared by every token or tenant change.
    pub auth_cache: Arc<crate::auth::cache::AuthCache>,
    /// Token cache and per-connection refresh locks.
    pub oauth: Arc<crate::oauth::TokenBroker>,
    /// Wakes the job workers after work is committed.
    pub jobs: crate::jobs::Queue,
    /// The group-commit writer: webhook ingestion, the job queue and processing.
    pub writer: crate::store::group_commit::GroupCommit,
    /// Outbound webhook engine: wake it after writing outbox rows (`state.outbound.wake()`).
    pub outbound: crate::outbound::Outbound,
    /// Agent for URLs a tenant's config shapes (`{base_url}`, `{shop}`): every address is
    /// vetted by the SSRF guard. Pick it with [`AppState::http_for`].
    pub tenant_http: ureq::Agent,
    pub limiter: Arc<crate::ratelimit::RateLimiter>,
    pub usage: Arc<crate::usage::UsageRecorder>,
    pub metrics: Arc<crate::metrics::Metrics>,
    pub sandbox: Arc<crate::demo::Sandbox>,
    /// Failed sign-in counts per account and per IP.
    pub login_limiter: Arc<crate::users::limiter::LoginLimiter>,
}

impl AppState {
    /// Opens the data dir and loads the catalog. Blocking.
    pub fn open(config: Config, shutdown: watch::Receiver<bool>) -> anyhow::Result<AppState> {
        let (store, vault) = crate::setup::open(&config)?;
        let catalog = Catalog::load(config.providers_file.as_deref())?;
        let http = crate::net::agent(config.outbound_timeout);
        let target_policy =
            crate::net::TargetPolicy::new(config.allow_private_targets, config.allowed_target_cidrs.clone());
        let tenant_http = crate::net::guarded_agent(config.outbound_timeout, &target_policy);
        let clock = crate::time::Clock::system();
        Ok(AppState {
            config: Arc::new(config),
            store: store.clone(),
            vault: Arc::new(vault),
            catalog: Arc::new(catalog),
            http,
            started_at: Instant::now(),
            clock: clock.clone(),
            shutdown,
            auth_cache: Arc::default(),
            oauth: Arc::default(),
            jobs: crate::jobs::Queue::new(clock),
            writer: crate::store::group_commit::GroupCommit::start(&store)?,
            outbound: crate::outbound::Outbound::default(),
            tenant_http,
            limiter: Arc::default(),
            usage: Arc::default(),
            metrics: Arc::default(),
            sandbox: Arc::default(),
            login_limiter: Arc::default(),
        })
    }
}

impl AppState {
    /// The agent for a URL built from catalog `template`: the SSRF-guarded one when a
    /// tenant's config fills a placeholder in it, the shared one for fixed provider URLs.
    pub fn http_for(&self, template: Option<&str>) -> &ureq::Agent {
        if template.is_some_and(crate::catalog::is_tenant_shaped) {
            &self.tenant_http
        } else {
            &self.http
        }
    }
}

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Logs each request by method, path (never the query: it may carry codes) and status,
/// and runs it inside a span carrying its request id, so every log line written while
/// serving it (handlers, awaited blocking work) carries `request_id`.
async fn log_requests(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let request_id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let started = Instant::now();
    let span = tracing::info_span!("request", request_id = %request_id, method = %method);
    let served = async move {
        let response = next.run(request).await;
        tracing::info!(
            %path,
            status = response.status().as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "request"
        );
        response
    };
    tracing::Instrument::instrument(served, span).await
}

pub fn router(state: AppState) -> Router {
    let body_limit = state.config.body_limit_bytes;
    let trusted_proxies = Arc::new(state.config.server.trusted_proxies.clone());
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
    let router = router
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::ops::lingering::refuse_oversized,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), crate::ratelimit::enforce));

    let router = router.merge(crate::ui::router());

    router
        .fallback(crate::error::route_not_found)
        .method_not_allowed_fallback(crate::error::method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn(log_requests))
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("x-content-type-options"),
            HeaderValue::from_static("nosniff"),
        ))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID.clone()))
        .layer(SetRequestIdLayer::new(REQUEST_ID.clone(), MakeRequestUuid))
        .layer(middleware::from_fn_with_state(
            trusted_proxies,
            crate::net::client_addr::record_client_addr,
        ))
        .with_state(state)
}

/// Starts the background workers that live as long as the server.
fn spawn_workers(state: &AppState) {
    crate::oauth::refresher::spawn(state.clone());

    state
        .jobs
        .start(state, crate::inbound::job_handlers(), state.config.job_workers);

    state.outbound.report_to(state.metrics.clone());
    let settings = crate::outbound::engine::EngineSettings::from_config(&state.config);
    if let Err(e) = state.outbound.start(
        settings,
        state.store.clone(),
        state.vault.clone(),
        state.shutdown.clone(),
    ) {
        tracing::error!(error = %e, "outbound webhook engine did not start");
    }

    // A rotation beside the running server adds key versions to the key file.
    if state.config.master_key.is_none() {
        let key_file = (state.config.master_key_file.clone()).unwrap_or_else(|| state.config.default_master_key_path());
        state.vault.reload_keys_from(key_file);
    }
    tokio::spawn(crate::usage::run_flusher(state.clone()));
    tokio::spawn(crate::ops::retention::run_purger(state.clone()));
    if state.config.demo {
        tokio::spawn(crate::demo::seed::run(state.clone()));
    }

    crate::users::spawn_session_purger(state);
}

/// A data dir opened and checked — migrations run, master key verified — before any
/// listener is bound, so a wrong key is refused without the server ever listening.
pub struct Opened {
    state: AppState,
    stop: watch::Sender<bool>,
}

impl Opened {
    /// Opens the data dir (blocking work on a blocking thread).
    pub async fn open(config: Config) -> anyhow::Result<Opened> {
        let (stop, stop_rx) = watch::channel(false);
        let state = tokio::task::spawn_blocking(move || AppState::open(config, stop_rx)).await??;
        Ok(Opened { state, stop })
    }

    /// Starts the workers and serves until `shutdown` resolves, then drains open
    /// connections.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Opened { state, stop } = self;
        spawn_workers(&state);
        let settings = state.config.server.clone();
        let app = router(state);
        let addr = listener.local_addr()?;
        tracing::info!(%addr, "tessera listening");
        crate::listener::serve(listener, app, &settings, async move {
            shutdown.await;
            let _ = stop.send(true);
        })
        .await?;
        // Give workers a moment to finish the job they hold; leases cover the rest.
        tokio::time::sleep(Duration::from_millis(50)).await;
        Ok(())
    }
}

/// Opens the data dir and serves on `listener` until `shutdown` resolves.
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    Opened::open(config).await?.serve(listener, shutdown).await
}
