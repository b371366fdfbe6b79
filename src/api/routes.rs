//! Every route tessera serves, in one table you can read on one screen.

use super::Access::{Authenticated, Platform, PlatformUnlessMetricsPublic, Public, Scoped, Tenant};
use super::{ApiRoute, delete, get, patch, post, put};
use crate::auth::Scope::*;
use crate::{audit, auth, catalog, connections, health, notifications, outbox, tenants};

#[rustfmt::skip]
pub fn routes() -> Vec<ApiRoute> {
    use connections::routes as conn;
    use crate::outbound::routes as out;
    use crate::plugins::routes as plug;
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

        post("/api/v1/tenants/{tenant}/connections/{provider}/authorize", "Start OAuth authorization (PKCE)", Tenant(ConnectionsWrite), crate::oauth::routes::authorize),
        get("/oauth/callback", "OAuth redirect URI", Public, crate::oauth::routes::callback),
        get("/api/v1/tenants/{tenant}/connections/{provider}/token", "A fresh access token (audited)", Tenant(CredentialsReveal), crate::oauth::routes::token),
        post("/api/v1/tenants/{tenant}/connections/{provider}/refresh", "Force a token refresh", Tenant(ConnectionsWrite), crate::oauth::routes::refresh),
        super::any("/api/v1/tenants/{tenant}/proxy/{provider}/{*path}", "Call the provider's API with credentials injected", Tenant(Proxy), crate::oauth::proxy::proxy),
        put("/api/v1/platform/apps/{provider}", "Register the platform's OAuth app", Platform, crate::oauth::apps::put_platform_app),
        get("/api/v1/platform/apps", "List platform OAuth apps (masked)", Platform, crate::oauth::apps::list_platform_apps),
        delete("/api/v1/platform/apps/{provider}", "Remove a platform OAuth app", Platform, crate::oauth::apps::delete_platform_app),
        get("/api/v1/platform/pause", "Whether outside effects are held (paused mode)", Platform, crate::pause::routes::get_pause),
        post("/api/v1/platform/pause", "Hold every outside effect: jobs, deliveries, refreshes, emails", Platform, crate::pause::routes::pause),
        post("/api/v1/platform/resume", "Release the hold; held work starts at once", Platform, crate::pause::routes::resume),

        post("/webhooks/{provider}/{tenant}", "Receive a provider's webhook (signature-checked)", Public, crate::inbound::ingest::receive),
        get("/api/v1/tenants/{tenant}/webhooks/{provider}", "Webhook URL and set-up for a provider", Tenant(WebhooksRead), crate::inbound::routes::webhook_info),
        get("/api/v1/tenants/{tenant}/events", "List received webhook events", Tenant(EventsRead), crate::inbound::routes::list_events),
        get("/api/v1/tenants/{tenant}/events/stats", "Accepted/rejected deliveries per hour", Tenant(EventsRead), crate::inbound::routes::event_stats),
        get("/api/v1/tenants/{tenant}/events/rejections", "Rejected deliveries: rows kept and hourly counts beyond the bound", Tenant(EventsRead), crate::inbound::routes::rejections),
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

        get("/api/v1/tenants/{tenant}/webhook-endpoints", "List outbound webhook endpoints", Tenant(WebhooksRead), out::list_endpoints),
        post("/api/v1/tenants/{tenant}/webhook-endpoints", "Create an outbound webhook endpoint", Tenant(WebhooksWrite), out::create_endpoint),
        get("/api/v1/tenants/{tenant}/webhook-endpoints/stats", "Delivery attempts per hour", Tenant(WebhooksRead), out::stats),
        get("/api/v1/tenants/{tenant}/webhook-endpoints/{id}", "Get an endpoint", Tenant(WebhooksRead), out::get_endpoint),
        patch("/api/v1/tenants/{tenant}/webhook-endpoints/{id}", "Update, (re-)enable or rotate the secret of an endpoint", Tenant(WebhooksWrite), out::patch_endpoint),
        delete("/api/v1/tenants/{tenant}/webhook-endpoints/{id}", "Delete an endpoint", Tenant(WebhooksWrite), out::delete_endpoint),
        get("/api/v1/tenants/{tenant}/webhook-endpoints/{id}/secret", "Reveal the signing secret(s)", Tenant(WebhooksWrite), out::reveal_secret),
        post("/api/v1/tenants/{tenant}/webhook-endpoints/{id}/test", "Send a ping to the endpoint", Tenant(WebhooksWrite), out::send_test),
        post("/api/v1/tenants/{tenant}/webhook-endpoints/{id}/replay", "Replay one event or a time range", Tenant(WebhooksWrite), out::replay),
        get("/api/v1/tenants/{tenant}/webhook-endpoints/{id}/deliveries", "Delivery history", Tenant(WebhooksRead), out::list_deliveries),
        get("/api/v1/tenants/{tenant}/webhook-endpoints/{id}/deliveries/{delivery_id}", "One delivery with its attempts", Tenant(WebhooksRead), out::get_delivery),
        post("/api/v1/tenants/{tenant}/webhook-endpoints/{id}/deliveries/{delivery_id}/retry", "Attempt a delivery again now", Tenant(WebhooksWrite), out::retry_delivery),

        get("/metrics", "Prometheus metrics (platform token unless metrics_public)", PlatformUnlessMetricsPublic, crate::metrics::routes::metrics),
        get("/api/v1/status", "Version, uptime and health counts", Authenticated, crate::metrics::routes::status),
        get("/api/v1/openapi.json", "This API described as OpenAPI 3.1", Public, crate::openapi::openapi_json),
        get("/api/v1/tenants/{tenant}/usage", "Request counts per token, route and status class", Tenant(AuditRead), crate::usage::routes::get_usage),
        post("/api/v1/tenants/{tenant}/consents", "Record a consent", Tenant(ConsentsWrite), crate::consents::routes::grant),
        get("/api/v1/tenants/{tenant}/consents", "List consents", Tenant(ConsentsRead), crate::consents::routes::list),
        get("/api/v1/tenants/{tenant}/consents/status", "Which consents are in force for a resource", Tenant(ConsentsRead), crate::consents::routes::status),
        get("/api/v1/tenants/{tenant}/consents/{id}", "Get a consent", Tenant(ConsentsRead), crate::consents::routes::get_one),
        delete("/api/v1/tenants/{tenant}/consents/{id}", "Revoke a consent (the record is kept)", Tenant(ConsentsWrite), crate::consents::routes::revoke),

        post("/api/v1/session", "Sign in (sets the session cookie)", Public, crate::users::routes::create_session),
        get("/api/v1/session", "The signed-in user and the CSRF token", Public, crate::users::routes::get_session),
        delete("/api/v1/session", "Sign out", Public, crate::users::routes::delete_session),

        post("/api/v1/plugins", "Publish a plugin package (a higher version upgrades it)", Platform, plug::publish),
        get("/api/v1/plugins", "The plugin marketplace", Scoped(PluginsRead), plug::list),
        get("/api/v1/plugins/{id}", "A plugin with its package and versions", Scoped(PluginsRead), plug::get_one),
        delete("/api/v1/plugins/{id}", "Remove a plugin (refused while installed unless ?force=true)", Platform, plug::delete),
        get("/api/v1/tenants/{tenant}/plugins", "Installed plugins (configuration masked)", Tenant(PluginsRead), plug::list_installed),
        post("/api/v1/tenants/{tenant}/plugins/{id}/install", "Install a plugin with a configuration", Tenant(PluginsWrite), plug::install),
        get("/api/v1/tenants/{tenant}/plugins/{id}", "One installed plugin (configuration masked)", Tenant(PluginsRead), plug::get_installed),
        patch("/api/v1/tenants/{tenant}/plugins/{id}", "Change an installed plugin's configuration", Tenant(PluginsWrite), plug::configure),
        delete("/api/v1/tenants/{tenant}/plugins/{id}", "Uninstall a plugin", Tenant(PluginsWrite), plug::uninstall),
        // --- admin UI: what the screens need beyond the areas' own routes ---
        post("/api/v1/tenants/{tenant}/jobs/{id}/retry", "Retry a failed job now", Tenant(EventsWrite), crate::jobs::routes::retry_job),
        get("/api/v1/platform/audit", "The platform's audit log: platform apps, tenants, backups, platform actions", Platform, audit::list_platform_audit),
        get("/api/v1/platform/keys", "Master key versions and the data keys each wraps", Platform, crate::ops::routes::keys_status),
        get("/api/v1/platform/backups", "Backups recorded by `tessera backup`", Platform, crate::ops::routes::list_backups),
    ]
}
