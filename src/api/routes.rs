//! Every route tessera serves, in one table you can read on one screen.

use super::Access::{Authenticated, Platform, Public, Tenant};
use super::{ApiRoute, delete, get, patch, post, put};
use crate::auth::Scope::*;
use crate::{audit, auth, catalog, connections, health, notifications, outbox, tenants};

#[rustfmt::skip]
pub fn routes() -> Vec<ApiRoute> {
    use connections::routes as conn;
    vec![
        get("/healthz", "Liveness", Public, health::healthz),
        get("/readyz", "Readiness: the database accepts writes", Public, health::readyz),
        get("/api/v1/scopes", "List token scopes", Authenticated, auth::routes::list_scopes),
        get("/api/v1/event-types", "List emitted event types", Authenticated, outbox::list_event_types),
        get("/api/v1/providers", "List the provider catalog", Authenticated, catalog::routes::list_providers),
        get("/api/v1/providers/{provider}", "Describe one provider", Authenticated, catalog::routes::get_provider),
        post("/api/v1/tenants", "Create a tenant", Platform, tenants::routes::create_tenant),
        get("/api/v1/tenants", "List tenants", Authenticated, tenants::routes::list),
        get("/api/v1/tenants/{tenant}", "Get a tenant", Tenant(ConnectionsRead), tenants::routes::get_tenant),
        patch("/api/v1/tenants/{tenant}", "Update a tenant", Tenant(Admin), tenants::routes::patch_tenant),
        delete("/api/v1/tenants/{tenant}", "Delete a tenant and destroy its keys", Platform, tenants::routes::delete),
        post("/api/v1/tenants/{tenant}/tokens", "Create an API token", Tenant(TokensWrite), auth::routes::create_token),
        get("/api/v1/tenants/{tenant}/tokens", "List API tokens", Tenant(TokensWrite), auth::routes::list_tokens),
        patch("/api/v1/tenants/{tenant}/tokens/{id}", "Rename or (de)activate a token", Tenant(TokensWrite), auth::routes::patch_token),
        delete("/api/v1/tenants/{tenant}/tokens/{id}", "Revoke a token", Tenant(TokensWrite), auth::routes::revoke_token),
        get("/api/v1/tenants/{tenant}/connections", "List connections", Tenant(ConnectionsRead), conn::list_connections),
        put("/api/v1/tenants/{tenant}/connections/{provider}", "Create or replace a connection", Tenant(ConnectionsWrite), conn::put_connection),
        get("/api/v1/tenants/{tenant}/connections/{provider}", "Get a connection (masked)", Tenant(ConnectionsRead), conn::get_connection),
        delete("/api/v1/tenants/{tenant}/connections/{provider}", "Delete a connection", Tenant(ConnectionsWrite), conn::delete_connection),
        post("/api/v1/tenants/{tenant}/connections/{provider}/verify", "Verify credentials with the provider", Tenant(ConnectionsWrite), conn::verify_connection),
        get("/api/v1/tenants/{tenant}/connections/{provider}/credentials", "Reveal plaintext credentials", Tenant(CredentialsReveal), conn::reveal_credentials),
        get("/api/v1/tenants/{tenant}/audit", "Read the audit log", Tenant(AuditRead), audit::list_audit),
        get("/api/v1/tenants/{tenant}/notifications", "List admin notifications", Tenant(SignupsRead), notifications::list_notifications),
        post("/api/v1/tenants/{tenant}/notifications/{id}/read", "Mark a notification read", Tenant(SignupsRead), notifications::mark_read),

        // --- oauth: OAuth broker, token service, proxy (issue 3) ---

        // --- inbound: inbound webhooks, jobs, signups (issue 4) ---
        post("/webhooks/{provider}/{tenant}", "Receive a provider's webhook (signature-checked)", Public, crate::inbound::ingest::receive),
        get("/api/v1/tenants/{tenant}/webhooks/{provider}", "Webhook URL and set-up for a provider", Tenant(WebhooksRead), crate::inbound::routes::webhook_info),
        get("/api/v1/tenants/{tenant}/events", "List received webhook events", Tenant(EventsRead), crate::inbound::routes::list_events),
        get("/api/v1/tenants/{tenant}/events/stats", "Accepted/rejected deliveries per hour", Tenant(EventsRead), crate::inbound::routes::event_stats),
        get("/api/v1/tenants/{tenant}/events/{id}", "Get an event with its payload", Tenant(EventsRead), crate::inbound::routes::get_event),
        post("/api/v1/tenants/{tenant}/events/{id}/replay", "Process an event again", Tenant(EventsWrite), crate::inbound::routes::replay_event),
        get("/api/v1/tenants/{tenant}/bindings/{provider}", "Field mappings for a provider's events", Tenant(WebhooksRead), crate::inbound::bindings::get_bindings),
        put("/api/v1/tenants/{tenant}/bindings/{provider}", "Set field mappings for a provider's events", Tenant(WebhooksWrite), crate::inbound::bindings::put_bindings),
        post("/api/v1/tenants/{tenant}/easyappointments/import", "Import Easy!Appointments bookers as signups", Tenant(SignupsWrite), crate::easyappointments::routes::import),
        get("/api/v1/tenants/{tenant}/easyappointments/stats", "Booking counts by day, service and status", Tenant(SignupsRead), crate::easyappointments::routes::stats),
        get("/api/v1/tenants/{tenant}/jobs", "List background jobs", Tenant(EventsRead), crate::jobs::routes::list_jobs),
        get("/api/v1/tenants/{tenant}/signups", "List signups", Tenant(SignupsRead), crate::signups::routes::list_signups),
        get("/api/v1/tenants/{tenant}/signups/{id}", "Get a signup", Tenant(SignupsRead), crate::signups::routes::get_signup),
        post("/api/v1/tenants/{tenant}/signups/{id}/approve", "Approve a signup", Tenant(SignupsWrite), crate::signups::routes::approve),
        post("/api/v1/tenants/{tenant}/signups/{id}/reject", "Reject a signup", Tenant(SignupsWrite), crate::signups::routes::reject),
        post("/api/v1/tenants/{tenant}/signups/{id}/invite", "Invite a signup (email via Resend when connected)", Tenant(SignupsWrite), crate::signups::routes::invite),

        // --- outbound: outbound webhooks, SSRF guard (issue 5) ---

        // --- ops: governance and operations (issue 6) ---

        // --- ui: admin UI and sessions (issue 7) ---
    ]
}
