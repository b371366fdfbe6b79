//! The integration suite again, with every server on PostgreSQL: one throw-away cluster
//! for the run (`initdb` into a temp dir on a free port), a fresh database per server.
//! The same test files as `it`, less those about SQLite's own files.

/// Whether the servers of this binary run on PostgreSQL.
pub const ON_POSTGRES: bool = true;

#[path = "../it/access_matrix.rs"]
mod access_matrix;
#[path = "../it/cli.rs"]
mod cli;
#[path = "../it/connections.rs"]
mod connections;
#[path = "../it/hygiene.rs"]
mod hygiene;
#[path = "../it/inbound_binding_sync.rs"]
mod inbound_binding_sync;
#[path = "../it/inbound_crash.rs"]
mod inbound_crash;
#[path = "../it/inbound_documented.rs"]
mod inbound_documented;
#[path = "../it/inbound_easyappointments.rs"]
mod inbound_easyappointments;
#[path = "../it/inbound_ingress.rs"]
mod inbound_ingress;
#[path = "../it/inbound_processing.rs"]
mod inbound_processing;
#[path = "../it/isolation.rs"]
mod isolation;
#[path = "../it/oauth_client_credentials.rs"]
mod oauth_client_credentials;
#[path = "../it/oauth_flow.rs"]
mod oauth_flow;
#[path = "../it/oauth_hygiene.rs"]
mod oauth_hygiene;
#[path = "../it/oauth_provided_tokens.rs"]
mod oauth_provided_tokens;
#[path = "../it/oauth_proxy.rs"]
mod oauth_proxy;
#[path = "../it/oauth_refusals.rs"]
mod oauth_refusals;
#[path = "../it/outbound_delivery.rs"]
mod outbound_delivery;
#[path = "../it/outbound_endpoints.rs"]
mod outbound_endpoints;
#[path = "../it/outbound_health.rs"]
mod outbound_health;
#[path = "../it/outbound_ssrf.rs"]
mod outbound_ssrf;
#[path = "../it/support/mod.rs"]
mod support;
#[path = "../it/tenants_and_tokens.rs"]
mod tenants_and_tokens;
// Not here: ops_backup (`tessera backup` copies the SQLite file).
#[path = "../it/ops_consents.rs"]
mod ops_consents;
#[path = "../it/ops_demo.rs"]
mod ops_demo;
#[path = "../it/ops_keys.rs"]
mod ops_keys;
#[path = "../it/ops_logging.rs"]
mod ops_logging;
// Not here: ops_migrate_store (its source is a SQLite data dir).
#[path = "../it/hardening_auth.rs"]
mod hardening_auth;
#[path = "../it/hardening_connections.rs"]
mod hardening_connections;
#[path = "../it/ops_observability.rs"]
mod ops_observability;
#[path = "../it/ops_ratelimit.rs"]
mod ops_ratelimit;
#[path = "../it/ops_shredding.rs"]
mod ops_shredding;
#[path = "../it/ui_admin_api.rs"]
mod ui_admin_api;
#[path = "../it/ui_browser.rs"]
mod ui_browser;
#[path = "../it/ui_sessions.rs"]
mod ui_sessions;
#[path = "../it/ui_static.rs"]
mod ui_static;
// Not here: hardening_files (the modes of the SQLite files).
#[path = "../it/hardening_paused.rs"]
mod hardening_paused;
#[path = "../it/hardening_server.rs"]
mod hardening_server;
#[path = "../it/hardening_webhooks.rs"]
mod hardening_webhooks;
#[path = "../it/plugins_flows.rs"]
mod plugins_flows;
#[path = "../it/plugins_hostile.rs"]
mod plugins_hostile;
#[path = "../it/plugins_hygiene.rs"]
mod plugins_hygiene;
#[path = "../it/plugins_marketplace.rs"]
mod plugins_marketplace;
#[path = "../it/wiring_flows.rs"]
mod wiring_flows;
#[path = "../it/wiring_ssrf.rs"]
mod wiring_ssrf;

mod multi_node;
mod multi_node_keys;
mod multi_node_oauth;
mod multi_node_plugins;
