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
pub mod consents;
pub mod demo;
pub mod easyappointments;
pub mod error;
pub mod health;
pub mod ids;
pub mod inbound;
pub mod jobs;
pub mod listener;
pub mod metrics;
pub mod net;
pub mod notifications;
pub mod oauth;
pub mod openapi;
pub mod ops;
pub mod outbound;
pub mod outbox;
pub mod pause;
pub mod plugins;
pub mod ratelimit;
pub mod setup;
pub mod signups;
pub mod store;
pub mod tenants;
pub mod time;
pub mod ui;
pub mod usage;
pub mod users;
pub mod vault;

pub use config::Config;

/// Runs the server on `listener` until `shutdown` resolves. The data dir must be
/// initialised ([`setup::initialise`]); tests drive the real server through this.
pub async fn run(
    config: Config,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    app::serve(config, time::Clock::system(), listener, shutdown).await
}

/// [`run`] with the clock the server reads expiry and schedules from: tests hand in a
/// [`time::Clock::manual`] and move it instead of sleeping.
pub async fn run_with_clock(
    config: Config,
    clock: time::Clock,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    app::serve(config, clock, listener, shutdown).await
}
