//! One integration test binary: every test drives the real server over HTTP.

mod support;

mod cli;
mod connections;
mod hygiene;
mod isolation;
mod tenants_and_tokens;

// --- oauth: OAuth broker, token service, proxy (issue 3) ---
mod oauth_client_credentials;
mod oauth_flow;
mod oauth_hygiene;
mod oauth_proxy;

// --- inbound: inbound webhooks, jobs, signups (issue 4) ---
mod inbound_crash;
mod inbound_easyappointments;
mod inbound_ingress;
mod inbound_processing;

// --- outbound: outbound webhooks, SSRF guard (issue 5) ---
mod outbound_delivery;
mod outbound_endpoints;
mod outbound_health;
mod outbound_ssrf;

// --- ops: governance and operations (issue 6) ---
mod ops_backup;
mod ops_consents;
mod ops_demo;
mod ops_keys;
mod ops_logging;
mod ops_observability;
mod ops_ratelimit;
mod ops_shredding;

// --- ui: admin UI and sessions (issue 7) ---
mod ui_browser;
mod ui_sessions;
mod ui_static;

// --- hardening: the attacks an exposed receiver meets ---
mod hardening_webhooks;

// --- wiring: cross-area wiring ---
mod wiring_flows;
mod wiring_ssrf;
