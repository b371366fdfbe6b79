//! One integration test binary: every test drives the real server over HTTP.

mod support;

mod cli;
mod connections;
mod hygiene;
mod isolation;
mod tenants_and_tokens;
