//! One integration test binary: every test drives the real server over HTTP, on the
//! embedded SQLite store. The `postgres` binary runs the same tests on PostgreSQL.

/// Whether the servers of this binary run on PostgreSQL.
pub const ON_POSTGRES: bool = false;

mod support;

mod access_matrix;
mod cli;
mod connections;
mod hygiene;
mod isolation;
mod tenants_and_tokens;

mod oauth_client_credentials;
mod oauth_flow;
mod oauth_hygiene;
mod oauth_provided_tokens;
mod oauth_proxy;
mod oauth_refusals;

mod inbound_binding_sync;
mod inbound_crash;
mod inbound_documented;
mod inbound_easyappointments;
mod inbound_ingress;
mod inbound_processing;

mod outbound_delivery;
mod outbound_endpoints;
mod outbound_health;
mod outbound_ssrf;

mod ops_backup;
mod ops_consents;
mod ops_demo;
mod ops_keys;
mod ops_logging;
mod ops_migrate_store;
mod ops_observability;
mod ops_ratelimit;
mod ops_shredding;

mod ui_admin_api;
mod ui_browser;
mod ui_sessions;
mod ui_static;

mod hardening_auth;
mod hardening_connections;
mod hardening_files;
mod hardening_paused;
mod hardening_server;
mod hardening_webhooks;

mod wiring_flows;
mod wiring_ssrf;

mod plugins_flows;
mod plugins_hostile;
mod plugins_hygiene;
mod plugins_marketplace;
