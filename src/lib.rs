//! tessera: a self-hosted, single-binary integration hub for multi-tenant platforms.

pub mod api;
pub mod app;
pub mod audit;
pub mod auth;
pub mod bench;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod connections;
pub mod error;
pub mod health;
pub mod ids;
pub mod net;
pub mod notifications;
pub mod outbox;
pub mod setup;
pub mod store;
pub mod tenants;
pub mod time;
pub mod vault;

// --- oauth: OAuth broker, token service, proxy (issue 3) ---
pub mod oauth;

// --- inbound: inbound webhooks, jobs, signups (issue 4) ---
pub mod easyappointments;
pub mod inbound;
pub mod jobs;
pub mod signups;

// --- outbound: outbound webhooks, SSRF guard (issue 5) ---
pub mod outbound;

// --- ops: governance and operations (issue 6) ---
pub mod consents;
pub mod demo;
pub mod metrics;
pub mod openapi;
pub mod ops;
pub mod ratelimit;
pub mod usage;

// --- ui: admin UI and sessions (issue 7) ---
pub mod ui;
pub mod users;

// --- plugins: marketplace and sandboxed transformations ---
pub mod plugins;

pub use config::Config;

/// Runs the server on `listener` until `shutdown` resolves. The data dir must be
/// initialised ([`setup::initialise`]); tests drive the real server through this.
pub async fn run(
    config: Config,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    app::serve(config, listener, shutdown).await
}
