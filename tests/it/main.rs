//! One integration test binary: every test drives the real server over HTTP.

mod support;

mod cli;
mod connections;
mod hygiene;
mod isolation;
mod tenants_and_tokens;

// --- oauth: OAuth broker, token service, proxy (issue 3) ---

// --- inbound: inbound webhooks, jobs, signups (issue 4) ---
mod inbound_crash;
mod inbound_easyappointments;
mod inbound_ingress;
mod inbound_processing;

// --- outbound: outbound webhooks, SSRF guard (issue 5) ---

// --- ops: governance and operations (issue 6) ---

// --- ui: admin UI and sessions (issue 7) ---
