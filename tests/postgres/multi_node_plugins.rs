//! Two nodes on one database: a plugin or an endpoint changed at one node is in force at
//! the other at once, with no restart (each node keeps the plugins in force and each
//! endpoint's signing view in memory).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::TestServer;
use crate::support::inbound::{
    connect, connect_posh, items, post_posh, purchase, server_with, wait_for, wait_processed,
};
use crate::support::outbound::Receiver;
use crate::support::plugins::{calendly_package, install, invitee_created, post_calendly, publish};

#[test]
fn a_plugin_installed_at_one_node_takes_webhooks_at_the_other_and_leaves_with_its_uninstall() {
    let one = server_with(None);
    let two = one.join();
    one.create_tenant("acme");
    let at_two = two.with_token(&two.tenant_token("acme", &["admin"]));
    // Node two has built its catalog before the plugin exists.
    assert_eq!(at_two.get("/api/v1/providers/calendly-eu").status, 404);

    let published = publish(&one, &calendly_package("calendly-eu", "1.0.0"));
    assert_eq!(published.status, 201, "{}", published.text);
    let installed = install(&one.admin(), "acme", "calendly-eu", json!({}));
    assert_eq!(installed.status, 201, "{}", installed.text);

    let started = Instant::now();
    wait_for("the plugin's provider at node two", || {
        (at_two.get("/api/v1/providers/calendly-eu").status == 200).then_some(())
    });
    assert!(started.elapsed() < Duration::from_secs(5), "announced at the commit");

    let secret = "cal-signing-key-0123456789";
    connect(
        &two,
        "acme",
        "calendly-eu",
        json!({"credentials": {"webhook_secret": secret}}),
    );
    let resp = post_calendly(
        &two,
        "calendly-eu",
        "acme",
        secret,
        &invitee_created("ana@example.com", "INV-1"),
    );
    assert_eq!(resp.status, 200, "{}", resp.text);
    let event = wait_processed(&at_two, "acme", resp.json["event_id"].as_str().unwrap());
    assert_eq!(event["status"], "processed", "{event}");
    let signups = items(&at_two.get("/api/v1/tenants/acme/signups?provider=calendly-eu"));
    assert_eq!(signups.len(), 1, "{signups:?}");

    // Uninstalled at node one: gone from node two's catalog and webhook route.
    assert_eq!(
        one.admin().delete("/api/v1/tenants/acme/plugins/calendly-eu").status,
        204
    );
    wait_for("the provider gone at node two", || {
        (at_two.get("/api/v1/providers/calendly-eu").status == 404).then_some(())
    });
    let refused = post_calendly(
        &two,
        "calendly-eu",
        "acme",
        secret,
        &invitee_created("bo@example.com", "INV-2"),
    );
    assert_eq!(refused.status, 404, "{}", refused.text);
}

fn slack_texts(receiver: &Receiver, count: usize) -> Vec<String> {
    receiver
        .wait_for("/slack", count, Duration::from_secs(30))
        .iter()
        .map(|entry| {
            let body: Value = serde_json::from_str(entry["body"].as_str().unwrap_or("")).unwrap_or(Value::Null);
            body["text"].as_str().unwrap_or("").to_owned()
        })
        .collect()
}

/// Waits until node two has acted on every change announced so far: announcements reach
/// a node in commit order, one at a time, so once a plugin installed now shows at node
/// two, every earlier announcement has been handled there.
fn announced_at_two(one: &TestServer, two: &TestServer, marker: &str) {
    assert_eq!(publish(one, &calendly_package(marker, "1.0.0")).status, 201);
    assert_eq!(install(&one.admin(), "acme", marker, json!({})).status, 201);
    let at_two = two.with_token(&two.tenant_token("acme", &["admin"]));
    wait_for("node two to catch up with the announcements", || {
        (at_two.get(&format!("/api/v1/providers/{marker}")).status == 200).then_some(())
    });
}

/// Deliveries are fanned out by whichever node claims first, so each round sends enough
/// purchases, at both nodes, that both nodes deliver some.
fn purchases(one: &TestServer, two: &TestServer, round: &str, count: usize) {
    for i in 0..count {
        let node = if i % 2 == 0 { one } else { two };
        let body = purchase(
            "purchase.created",
            &format!("{round}-{i}"),
            &format!("{round}{i}@example.com"),
        );
        let resp = post_posh(node, "acme", "posh-secret", &body);
        assert_eq!(resp.status, 200, "{}", resp.text);
    }
}

#[test]
fn a_transformation_or_endpoint_changed_at_one_node_applies_to_deliveries_from_both() {
    let receiver = Receiver::start();
    let one = server_with(None);
    let two = one.join();
    one.create_tenant("acme");
    let admin = one.admin();
    let installed = install(&admin, "acme", "slack-signups", json!({"prefix": ":tada:"}));
    assert_eq!(installed.status, 201, "{}", installed.text);
    let slack = admin.post(
        "/api/v1/tenants/acme/webhook-endpoints",
        &json!({"url": receiver.url("/slack"), "events": ["signup.created"], "transform": "slack-signups"}),
    );
    assert_eq!(slack.status, 201, "{}", slack.text);
    receiver.configure("/slack", &[slack.json["secret"].as_str().unwrap()], json!([]));
    connect_posh(&one, "acme", "posh-secret");

    const EACH: usize = 8;
    purchases(&one, &two, "before", EACH);
    let texts = slack_texts(&receiver, EACH);
    assert!(texts.iter().all(|t| t.starts_with(":tada: ")), "{texts:?}");

    // The configuration changes at node one; node two holds a view built with the old one.
    let patched = admin.patch(
        "/api/v1/tenants/acme/plugins/slack-signups",
        &json!({"configuration": {"prefix": "@here"}}),
    );
    assert_eq!(patched.status, 200, "{}", patched.text);
    announced_at_two(&one, &two, "marker-one");
    purchases(&one, &two, "after", EACH);
    let texts = slack_texts(&receiver, EACH * 2);
    // Each event went out once: two nodes never both fan out the same event.
    let mut signups: Vec<&str> = texts.iter().filter_map(|t| t.split(['<', '>']).nth(1)).collect();
    signups.sort_unstable();
    signups.dedup();
    assert_eq!((texts.len(), signups.len()), (EACH * 2, EACH * 2), "{texts:?}");
    let after: Vec<&String> = texts.iter().filter(|t| t.contains("<after")).collect();
    assert_eq!(after.len(), EACH, "{texts:?}");
    assert!(after.iter().all(|t| t.starts_with("@here ")), "{after:?}");

    // The endpoint moves at node one: nothing more reaches the old URL from either node.
    let id = slack.json["id"].as_str().unwrap();
    receiver.configure("/moved", &[slack.json["secret"].as_str().unwrap()], json!([]));
    let moved = admin.patch(
        &format!("/api/v1/tenants/acme/webhook-endpoints/{id}"),
        &json!({"url": receiver.url("/moved")}),
    );
    assert_eq!(moved.status, 200, "{}", moved.text);
    announced_at_two(&one, &two, "marker-two");
    purchases(&one, &two, "moved", EACH);
    let arrived = receiver.wait_for("/moved", EACH, Duration::from_secs(30));
    assert_eq!(arrived.len(), EACH);
    assert_eq!(receiver.log("/slack").len(), EACH * 2, "nothing more at the old URL");
}
