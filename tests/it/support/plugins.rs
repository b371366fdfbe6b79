//! Helpers for the plugin tests: packages built from the shipped Calendly files (a real
//! provider's documented webhook) under other ids, publishing and signing.

use serde_json::{Value, json};
use tessera::inbound::signature::sign;

use super::{Client, Response, TestServer};

const CALENDLY_MANIFEST: &str = include_str!("../../../src/plugins/builtin/calendly/manifest.json");
const CALENDLY_PROVIDERS: &str = include_str!("../../../src/plugins/builtin/calendly/providers.toml");
const CALENDLY_SCRIPT: &str = include_str!("../../../src/plugins/builtin/calendly/script.js");

/// The Calendly package published as plugin and provider `key`.
pub fn calendly_package(key: &str, version: &str) -> Value {
    let mut manifest: Value = serde_json::from_str(CALENDLY_MANIFEST).unwrap();
    manifest["id"] = json!(key);
    manifest["version"] = json!(version);
    json!({
        "manifest": manifest,
        "providers": CALENDLY_PROVIDERS.replace("[providers.calendly", &format!("[providers.{key}")),
        "script": CALENDLY_SCRIPT,
    })
}

/// A package overriding nothing of the built-in Posh.VIP provider but its description, so
/// its script's `onInbound` handles the installing tenant's Posh.VIP deliveries.
pub fn posh_script_package(id: &str, script: &str) -> Value {
    json!({
        "manifest": {"id": id, "name": id, "version": "1.0.0", "description": "Test script for Posh.VIP events"},
        "providers": "[providers.poshvip]\ndescription = \"Posh.VIP, processed by a plugin script\"\n",
        "script": script,
    })
}

pub fn publish(server: &TestServer, package: &Value) -> Response {
    server.admin().post("/api/v1/plugins", package)
}

pub fn install(client: &Client, tenant: &str, plugin: &str, configuration: Value) -> Response {
    client.post(
        &format!("/api/v1/tenants/{tenant}/plugins/{plugin}/install"),
        &json!({"configuration": configuration}),
    )
}

/// An `invitee.created` delivery as Calendly documents it.
pub fn invitee_created(email: &str, invitee: &str) -> Value {
    json!({
        "event": "invitee.created",
        "created_at": "2026-03-02T10:00:00.000000Z",
        "created_by": "https://api.calendly.com/users/AAAAAAAAAAAAAAAA",
        "payload": {
            "cancel_url": format!("https://calendly.com/cancellations/{invitee}"),
            "created_at": "2026-03-02T10:00:00.000000Z",
            "email": email,
            "event": "https://api.calendly.com/scheduled_events/GBGBDCAADAEDCRZ2",
            "first_name": "Ana",
            "last_name": "Lima",
            "name": "Ana Lima",
            "new_invitee": null,
            "old_invitee": null,
            "questions_and_answers": [],
            "reschedule_url": format!("https://calendly.com/reschedulings/{invitee}"),
            "rescheduled": false,
            "status": "active",
            "text_reminder_number": null,
            "timezone": "Europe/Lisbon",
            "tracking": {"utm_campaign": null, "utm_source": null},
            "updated_at": "2026-03-02T10:00:00.000000Z",
            "uri": format!("https://api.calendly.com/scheduled_events/GBGBDCAADAEDCRZ2/invitees/{invitee}"),
            "scheduled_event": {
                "uri": "https://api.calendly.com/scheduled_events/GBGBDCAADAEDCRZ2",
                "name": "Intro Call",
                "status": "active",
                "start_time": "2026-03-09T10:00:00.000000Z",
                "end_time": "2026-03-09T10:30:00.000000Z"
            }
        }
    })
}

/// Posts `body` to `/webhooks/{provider}/{tenant}` signed the way Calendly signs.
pub fn post_calendly(server: &TestServer, provider: &str, tenant: &str, secret: &str, body: &Value) -> Response {
    let bytes = body.to_string().into_bytes();
    let signature = sign::stripe(secret, super::inbound::now(), &bytes);
    super::inbound::post_raw(
        &server.anonymous(),
        provider,
        tenant,
        &bytes,
        &[("calendly-webhook-signature", &signature)],
    )
}

/// A Hookdeck-style outbound transformation with a secret its script uses: it forwards
/// each message as `{event, data, source}` with `Authorization: Bearer <api_token>`.
pub fn crm_relay_package() -> Value {
    json!({
        "manifest": {
            "id": "crm-relay", "name": "CRM relay", "version": "1.2.0",
            "description": "Forwards tessera's events to your CRM's webhook in its {event, data} shape, with the CRM's bearer token.",
            "category": "crm", "author": "Acme Integrations",
            "config_fields": [
                {"name": "api_token", "label": "CRM API token", "secret": true, "required": true, "to_script": true,
                 "help": "Sent as Authorization: Bearer … with every message."},
                {"name": "source", "label": "Source label", "help": "Put in each message's source field; tessera when empty."}
            ]
        },
        "script": "addHandler('transform', (request, context) => {\n  request.headers['authorization'] = 'Bearer ' + process.env.api_token;\n  request.body = { event: request.body.type, data: request.body.data, source: process.env.source || 'tessera' };\n  return request;\n});\n",
    })
}
