//! One integration test binary: every test drives the real server over HTTP.

mod support;

mod cli;
mod connections;
mod hygiene;
mod isolation;
mod tenants_and_tokens;

// --- oauth: OAuth broker, token service, proxy (issue 3) ---

// --- inbound: inbound webhooks, jobs, signups (issue 4) ---

// --- outbound: outbound webhooks, SSRF guard (issue 5) ---
mod outbound_delivery;
mod outbound_endpoints;
mod outbound_health;
mod outbound_ssrf;

// --- ops: governance and operations (issue 6) ---

// --- ui: admin UI and sessions (issue 7) ---
