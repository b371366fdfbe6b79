//! A plugin published through the API adds a provider and transformations that a tenant
//! installs and uses end to end: a signed webhook becomes a signup through `onInbound`,
//! and outbound messages are reshaped and still verify with the reference library.

use std::time::Duration;

use serde_json::json;

use crate::support::inbound::{
    connect, connect_posh, items, post_posh, purchase, server_with, wait_for, wait_processed,
};
use crate::support::outbound::Receiver;
use crate::support::plugins::{calendly_package, install, invitee_created, post_calendly, publish};

fn provider_keys(resp: &crate::support::Response) -> Vec<String> {
    items(resp)
        .iter()
        .map(|p| p["key"].as_str().unwrap_or("").to_owned())
        .collect()
}

#[test]
fn a_published_plugin_adds_a_provider_whose_webhooks_become_signups() {
    let server = server_with(None);
    server.create_tenant("acme");
    server.create_tenant("other");
    let acme = server.with_token(&server.tenant_token("acme", &["admin"]));
    let other = server.with_token(&server.tenant_token("other", &["admin"]));

    let published = publish(&server, &calendly_package("calendly-eu", "1.0.0"));
    assert_eq!(published.status, 201, "{}", published.text);
    assert_eq!(published.json["providers"], json!(["calendly-eu"]));
    assert_eq!(published.json["entry_points"], json!(["onInbound"]));

    // Not installed: not in the catalog, no connection, no webhook URL.
    assert!(!provider_keys(&acme.get("/api/v1/providers")).contains(&"calendly-eu".to_owned()));
    let put = acme.put(
        "/api/v1/tenants/acme/connections/calendly-eu",
        &json!({"credentials": {"webhook_secret": "cal-signing-key"}}),
    );
    assert_eq!(put.status, 404, "{}", put.text);

    let installed = install(&acme, "acme", "calendly-eu", json!({}));
    assert_eq!(installed.status, 201, "{}", installed.text);
    assert_eq!(installed.json["status"], "active");

    // Installed: the provider is in acme's catalog only, and works like a built-in.
    assert!(provider_keys(&acme.get("/api/v1/providers")).contains(&"calendly-eu".to_owned()));
    assert!(!provider_keys(&other.get("/api/v1/providers")).contains(&"calendly-eu".to_owned()));
    let described = acme.get("/api/v1/providers/calendly-eu");
    assert_eq!(described.status, 200, "{}", described.text);
    assert_eq!(
        described.json["webhook"]["signature"]["header"],
        "Calendly-Webhook-Signature"
    );
    assert_eq!(other.get("/api/v1/providers/calendly-eu").status, 404);
    let platform_view = server.admin().get("/api/v1/providers?tenant=acme");
    assert!(provider_keys(&platform_view).contains(&"calendly-eu".to_owned()));

    let secret = "cal-signing-key-0123456789";
    connect(
        &server,
        "acme",
        "calendly-eu",
        json!({"credentials": {"webhook_secret": secret}}),
    );
    let info = acme.get("/api/v1/tenants/acme/webhooks/calendly-eu");
    assert_eq!(info.status, 200, "{}", info.text);
    assert!(
        info.json["webhook_url"]
            .as_str()
            .unwrap()
            .ends_with("/webhooks/calendly-eu/acme")
    );
    assert_eq!(info.json["secret_configured"], true);
    assert!(!info.json["setup_steps"].as_array().unwrap().is_empty());

    // A signed delivery is verified, stored, transformed and becomes a signup.
    let body = invitee_created("Ana@Example.com", "INV-1");
    let resp = post_calendly(&server, "calendly-eu", "acme", secret, &body);
    assert_eq!(resp.status, 200, "{}", resp.text);
    let event_id = resp.json["event_id"].as_str().unwrap().to_owned();
    let event = wait_processed(&acme, "acme", &event_id);
    assert_eq!(event["status"], "processed", "{event}");
    assert_eq!(event["type"], "invitee.created");
    let signups = items(&acme.get("/api/v1/tenants/acme/signups?provider=calendly-eu"));
    assert_eq!(signups.len(), 1, "{signups:?}");
    assert_eq!(signups[0]["email"], "ana@example.com");
    assert_eq!(signups[0]["first_name"], "Ana");
    assert_eq!(signups[0]["sources"][0]["event_name"], "Intro Call");

    // The same delivery again is a duplicate; a forged one is refused.
    let again = post_calendly(&server, "calendly-eu", "acme", secret, &body);
    assert_eq!(again.json["duplicate"], true, "{}", again.text);
    let forged = post_calendly(
        &server,
        "calendly-eu",
        "acme",
        "not-the-key",
        &invitee_created("x@y.z", "INV-2"),
    );
    assert_eq!(forged.status, 401, "{}", forged.text);

    // The configuration reaches the script: bookings of other event types are only stored.
    let patched = acme.patch(
        "/api/v1/tenants/acme/plugins/calendly-eu",
        &json!({"configuration": {"event_types": "Demo"}}),
    );
    assert_eq!(patched.status, 200, "{}", patched.text);
    let resp = post_calendly(
        &server,
        "calendly-eu",
        "acme",
        secret,
        &invitee_created("bo@example.com", "INV-3"),
    );
    let event = wait_processed(&acme, "acme", resp.json["event_id"].as_str().unwrap());
    assert_eq!(event["status"], "processed");
    assert_eq!(
        items(&acme.get("/api/v1/tenants/acme/signups?email=bo@example.com")).len(),
        0
    );

    // Another tenant's URL for the provider does not exist.
    let elsewhere = post_calendly(&server, "calendly-eu", "other", secret, &body);
    assert_eq!(elsewhere.status, 404, "{}", elsewhere.text);

    // Uninstalled: gone from the catalog at once.
    assert_eq!(acme.delete("/api/v1/tenants/acme/plugins/calendly-eu").status, 204);
    assert_eq!(acme.get("/api/v1/providers/calendly-eu").status, 404);
}

#[test]
fn the_built_in_slack_plugin_reshapes_signups_and_they_still_verify() {
    let receiver = Receiver::start();
    let server = server_with(None);
    server.create_tenant("acme");
    let admin = server.admin();
    let marketplace = items(&admin.get("/api/v1/plugins"));
    let ids: Vec<&str> = marketplace.iter().filter_map(|p| p["id"].as_str()).collect();
    assert!(ids.contains(&"slack-signups") && ids.contains(&"calendly"), "{ids:?}");

    // An endpoint cannot name a plugin the tenant has not installed.
    let refused = admin.post(
        "/api/v1/tenants/acme/webhook-endpoints",
        &json!({"url": receiver.url("/slack"), "events": ["signup.created"], "transform": "slack-signups"}),
    );
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert_eq!(refused.json["errors"][0]["field"], "transform");

    let installed = install(&admin, "acme", "slack-signups", json!({"prefix": ":tada:"}));
    assert_eq!(installed.status, 201, "{}", installed.text);
    let slack = admin.post(
        "/api/v1/tenants/acme/webhook-endpoints",
        &json!({"url": receiver.url("/slack"), "events": ["signup.created"], "transform": "slack-signups"}),
    );
    assert_eq!(slack.status, 201, "{}", slack.text);
    assert_eq!(slack.json["transform"], "slack-signups");
    let plain = admin.post(
        "/api/v1/tenants/acme/webhook-endpoints",
        &json!({"url": receiver.url("/plain"), "events": ["signup.created"]}),
    );
    receiver.configure("/slack", &[slack.json["secret"].as_str().unwrap()], json!([]));
    receiver.configure("/plain", &[plain.json["secret"].as_str().unwrap()], json!([]));

    // Uninstalling is refused while an endpoint uses it.
    let busy = admin.delete("/api/v1/tenants/acme/plugins/slack-signups");
    assert_eq!(busy.status, 409, "{}", busy.text);

    connect_posh(&server, "acme", "posh-secret");
    let resp = post_posh(
        &server,
        "acme",
        "posh-secret",
        &purchase("purchase.created", "p1", "ana@example.com"),
    );
    assert_eq!(resp.status, 200, "{}", resp.text);

    let reshaped = receiver.wait_for("/slack", 1, Duration::from_secs(20));
    assert_eq!(reshaped.len(), 1, "{reshaped:?}");
    let body: serde_json::Value = serde_json::from_str(reshaped[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        body,
        json!({"text": ":tada: New signup: Ana Lima <ana@example.com> from poshvip (Friday Night)"})
    );
    assert_eq!(
        reshaped[0]["verified"],
        json!([true]),
        "signed per Standard Webhooks: {:?}",
        reshaped[0]
    );
    let untouched = receiver.wait_for("/plain", 1, Duration::from_secs(20));
    let body: serde_json::Value = serde_json::from_str(untouched[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["type"], "signup.created");
    assert_eq!(untouched[0]["verified"], json!([true]));

    // A changed configuration applies to the next delivery without a restart.
    let patched = admin.patch(
        "/api/v1/tenants/acme/plugins/slack-signups",
        &json!({"configuration": {"prefix": "@here"}}),
    );
    assert_eq!(patched.status, 200, "{}", patched.text);
    post_posh(
        &server,
        "acme",
        "posh-secret",
        &purchase("purchase.created", "p2", "bo@example.com"),
    );
    let log = receiver.wait_for("/slack", 2, Duration::from_secs(20));
    let body: serde_json::Value = serde_json::from_str(log[1]["body"].as_str().unwrap()).unwrap();
    assert!(body["text"].as_str().unwrap().starts_with("@here New signup"), "{body}");

    // Messages the script skips are recorded as delivered without a request.
    let id = slack.json["id"].as_str().unwrap();
    let test = admin.post(&format!("/api/v1/tenants/acme/webhook-endpoints/{id}/test"), &json!({}));
    assert!(test.status < 300, "{}", test.text);
    let skipped = wait_for("the skipped ping", || {
        let list = items(&admin.get(&format!("/api/v1/tenants/acme/webhook-endpoints/{id}/deliveries")));
        list.into_iter()
            .find(|d| d["event_type"] == "ping" && d["status"] == "succeeded")
    });
    assert_eq!(skipped["response_status"], json!(null));
    assert_eq!(receiver.log("/slack").len(), 2, "the ping was not sent");

    // `"transform": null` sends messages as they are again, and frees the plugin.
    let endpoint = format!("/api/v1/tenants/acme/webhook-endpoints/{id}");
    let cleared = admin.patch(&endpoint, &json!({"transform": null}));
    assert_eq!(cleared.status, 200, "{}", cleared.text);
    assert_eq!(cleared.json["transform"], json!(null), "{}", cleared.text);
    assert_eq!(admin.get(&endpoint).json["transform"], json!(null));
    let unused = admin.delete("/api/v1/tenants/acme/plugins/slack-signups");
    assert!(unused.status < 300, "{}", unused.text);
}
