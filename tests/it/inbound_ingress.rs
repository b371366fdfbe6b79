//! Webhook ingress: every signature scheme end to end, duplicates, limits, tenant
//! isolation of events, the rejected-delivery record, webhook info and stats.

use serde_json::json;
use tessera::inbound::signature::sign;

use crate::support::inbound::*;

const ACME: &str = r#"
[providers.acme]
name = "Acme"
category = "test"
auth_modes = ["webhook"]
fields = [ { name = "webhook_secret", label = "Secret", secret = true, required = true } ]
[providers.acme.webhook]
scheme = "standard-webhooks"
header = "webhook-signature"
events = ["thing.happened"]
"#;

#[test]
fn poshvip_good_bad_missing_other_tenant_duplicate_and_rejections_recorded() {
    let server = server_with(None);
    server.create_tenant("brand-a");
    server.create_tenant("brand-b");
    connect_posh(&server, "brand-a", "secret-a");
    connect_posh(&server, "brand-b", "secret-b");
    let body = purchase("purchase.created", "p1", "ana@example.com");

    let ok = post_posh(&server, "brand-a", "secret-a", &body);
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(ok.json["received"], true);
    let event_id = ok.json["event_id"].as_str().unwrap().to_owned();
    assert!(ok.json.get("duplicate").is_none());

    // The same delivery again: same event, flagged, not stored twice.
    let again = post_posh(&server, "brand-a", "secret-a", &body);
    assert_eq!(again.status, 200);
    assert_eq!(again.json["duplicate"], true);
    assert_eq!(again.json["event_id"], event_id.as_str());

    // Signed with another tenant's secret, a wrong secret, or not at all.
    let other = post_posh(
        &server,
        "brand-a",
        "secret-b",
        &purchase("purchase.created", "p2", "x@example.com"),
    );
    assert_eq!(other.status, 401, "{}", other.text);
    assert_eq!(other.code(), "invalid_signature");
    let bytes = body.to_string().into_bytes();
    let missing = post_raw(&server.anonymous(), "poshvip", "brand-a", &bytes, &[]);
    assert_eq!(missing.status, 401);
    let garbage = post_raw(
        &server.anonymous(),
        "poshvip",
        "brand-a",
        &bytes,
        &[("x-posh-signature", "abc")],
    );
    assert_eq!(garbage.status, 401);
    // The tenant id works as well as the slug.
    let tenant_b = server.admin().get("/api/v1/tenants/brand-b").json["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let by_id = post_posh(&server, &tenant_b, "secret-b", &body);
    assert_eq!(by_id.status, 200, "{}", by_id.text);

    let reader = server.with_token(&server.tenant_token("brand-a", &["events:read"]));
    let all = items(&reader.get("/api/v1/tenants/brand-a/events"));
    assert_eq!(all.len(), 4, "one accepted, three rejected: {all:?}");
    let rejected = items(&reader.get("/api/v1/tenants/brand-a/events?status=rejected"));
    assert_eq!(rejected.len(), 3);
    for event in &rejected {
        assert!(
            event["type"].is_null() && event["external_id"].is_null(),
            "content not trusted: {event}"
        );
        assert!(event["error"].as_str().unwrap().contains("signature"), "{event}");
        assert!(event["detail"]["body_sha256"].is_string());
    }
    // A rejected delivery has no payload and cannot be replayed.
    let one = reader.get(&format!(
        "/api/v1/tenants/brand-a/events/{}",
        rejected[0]["id"].as_str().unwrap()
    ));
    assert!(one.json["payload"].is_null());
    let writer = server.with_token(&server.tenant_token("brand-a", &["events:write"]));
    let replay = writer.post(
        &format!(
            "/api/v1/tenants/brand-a/events/{}/replay",
            rejected[0]["id"].as_str().unwrap()
        ),
        &json!({}),
    );
    assert_eq!(replay.status, 400, "{}", replay.text);

    // Tenant isolation: brand-a's token cannot see brand-b's events, nor by id.
    assert_eq!(reader.get("/api/v1/tenants/brand-b/events").status, 403);
    let b_event = by_id.json["event_id"].as_str().unwrap();
    assert_eq!(
        reader.get(&format!("/api/v1/tenants/brand-a/events/{b_event}")).status,
        404
    );
    let replay_other = writer.post(&format!("/api/v1/tenants/brand-a/events/{b_event}/replay"), &json!({}));
    assert_eq!(replay_other.status, 404, "another tenant's event id never works");
    let cross = writer.post(&format!("/api/v1/tenants/brand-b/events/{b_event}/replay"), &json!({}));
    assert_eq!(cross.status, 403);

    // The accepted event carries its decrypted payload and never the signature header.
    let got = reader.get(&format!("/api/v1/tenants/brand-a/events/{event_id}"));
    assert_eq!(got.json["payload"], body);
    assert_eq!(got.json["provider"], "poshvip");
    assert_eq!(got.json["type"], "purchase.created");
    assert!(!got.text.contains("x-posh-signature"));
    // The stored body is sealed: the plaintext email is not in the database file.
    for bytes in &server.stored_bytes() {
        assert!(!contains(bytes, b"secret-a"), "webhook secret in plaintext");
        assert!(!contains(bytes, br#""purchase_id":"p1""#), "event body in plaintext");
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn unknown_tenant_provider_connection_and_oversized_bodies() {
    let server = server_with(None);
    server.create_tenant("brand-a");
    let body = purchase("purchase.created", "p1", "ana@example.com");
    assert_eq!(post_posh(&server, "nobody", "s", &body).status, 404);
    assert_eq!(
        post_posh(&server, "brand-a", "s", &body).status,
        404,
        "no connection yet"
    );
    let unknown = post_raw(&server.anonymous(), "nope", "brand-a", b"{}", &[]);
    assert_eq!(unknown.status, 404);
    // A provider without webhooks.
    assert_eq!(
        post_raw(&server.anonymous(), "openai", "brand-a", b"{}", &[]).status,
        404
    );
    connect_posh(&server, "brand-a", "s");
    let big = vec![b'a'; 1024 * 1024 + 1];
    let sig = sign::hmac_hex("s", &big);
    let resp = post_raw(
        &server.anonymous(),
        "poshvip",
        "brand-a",
        &big,
        &[("x-posh-signature", &sig)],
    );
    assert_eq!(resp.status, 413, "{}", resp.text);
    let admin = server.admin();
    assert!(items(&admin.get("/api/v1/tenants/brand-a/events")).is_empty());
}

#[test]
fn accept_invalid_signatures_answers_200_but_never_processes() {
    let server = server_with(None);
    server.create_tenant("brand-a");
    connect(
        &server,
        "brand-a",
        "poshvip",
        json!({"credentials": {"webhook_secret": "s"}, "config": {"invalid_signature": "accept"}}),
    );
    let resp = post_posh(
        &server,
        "brand-a",
        "wrong",
        &purchase("purchase.created", "p1", "ana@example.com"),
    );
    assert_eq!(resp.status, 200, "{}", resp.text);
    let admin = server.admin();
    let event = admin.get(&format!(
        "/api/v1/tenants/brand-a/events/{}",
        resp.json["event_id"].as_str().unwrap()
    ));
    assert_eq!(event.json["status"], "rejected");
    assert!(
        items(&admin.get("/api/v1/tenants/brand-a/jobs")).is_empty(),
        "nothing queued"
    );
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(items(&admin.get("/api/v1/tenants/brand-a/signups")).is_empty());
}

#[test]
fn github_shopify_stripe_and_standard_webhooks_schemes() {
    let server = server_with(Some(ACME));
    server.create_tenant("brand-a");
    let anon = server.anonymous();
    let admin = server.admin();

    // GitHub: sha256= prefix, delivery id is the de-duplication key.
    connect(
        &server,
        "brand-a",
        "github",
        json!({"auth_mode": "webhook", "credentials": {"webhook_secret": "gh"}}),
    );
    let body = br#"{"zen":"Keep it logically awesome."}"#;
    let sig = format!("sha256={}", sign::hmac_hex("gh", body));
    let h = [
        ("x-hub-signature-256", sig.as_str()),
        ("x-github-event", "ping"),
        ("x-github-delivery", "d-1"),
    ];
    let first = post_raw(&anon, "github", "brand-a", body, &h);
    assert_eq!(first.status, 200, "{}", first.text);
    let event = admin.get(&format!(
        "/api/v1/tenants/brand-a/events/{}",
        first.json["event_id"].as_str().unwrap()
    ));
    assert_eq!(
        (event.json["type"].as_str(), event.json["external_id"].as_str()),
        (Some("ping"), Some("d-1"))
    );
    assert_eq!(post_raw(&anon, "github", "brand-a", body, &h).json["duplicate"], true);
    let unprefixed = sign::hmac_hex("nope", body);
    assert_eq!(
        post_raw(
            &anon,
            "github",
            "brand-a",
            body,
            &[("x-hub-signature-256", &unprefixed)]
        )
        .status,
        401
    );

    // Shopify: base64 HMAC, topic header, webhook id header.
    connect(
        &server,
        "brand-a",
        "shopify",
        json!({"auth_mode": "webhook", "credentials": {"webhook_secret": "shp"}, "config": {"shop": "demo.myshopify.com"}}),
    );
    let order = br#"{"id": 42, "email": "b@example.com"}"#;
    let sig = sign::hmac_base64("shp", order);
    let h = [
        ("x-shopify-hmac-sha256", sig.as_str()),
        ("x-shopify-topic", "orders/paid"),
        ("x-shopify-webhook-id", "wh-1"),
    ];
    assert_eq!(post_raw(&anon, "shopify", "brand-a", order, &h).status, 200);
    assert_eq!(post_raw(&anon, "shopify", "brand-a", order, &h).json["duplicate"], true);
    let bad = sign::hmac_base64("other", order);
    assert_eq!(
        post_raw(&anon, "shopify", "brand-a", order, &[("x-shopify-hmac-sha256", &bad)]).status,
        401
    );

    // Stripe: good, stale, several v1 signatures, event id de-duplicates.
    connect(
        &server,
        "brand-a",
        "stripe",
        json!({"credentials": {"secret_key": "sk_test_x", "webhook_secret": "whsec_st"}}),
    );
    let evt = br#"{"id":"evt_1","type":"invoice.paid","data":{"object":{}}}"#;
    let good = sign::stripe("whsec_st", now(), evt);
    assert_eq!(
        post_raw(&anon, "stripe", "brand-a", evt, &[("stripe-signature", &good)]).status,
        200
    );
    let stale = sign::stripe("whsec_st", now() - 301, br#"{"id":"evt_2"}"#);
    assert_eq!(
        post_raw(
            &anon,
            "stripe",
            "brand-a",
            br#"{"id":"evt_2"}"#,
            &[("stripe-signature", &stale)]
        )
        .status,
        401
    );
    let evt3 = br#"{"id":"evt_3","type":"invoice.paid"}"#;
    let old = sign::stripe("whsec_old", now(), evt3);
    let new = sign::stripe("whsec_st", now(), evt3);
    let multi = format!("{old},{}", new.split(',').nth(1).unwrap());
    assert_eq!(
        post_raw(&anon, "stripe", "brand-a", evt3, &[("stripe-signature", &multi)]).status,
        200
    );
    assert_eq!(
        post_raw(&anon, "stripe", "brand-a", evt, &[("stripe-signature", &good)]).json["duplicate"],
        true
    );

    // Standard Webhooks: several signatures, stale timestamp, webhook-id de-duplicates.
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    connect(
        &server,
        "brand-a",
        "acme",
        json!({"credentials": {"webhook_secret": secret}}),
    );
    let msg = br#"{"type":"thing.happened","data":{}}"#;
    let ts = now().to_string();
    let sig = sign::standard_webhooks(secret, "msg_1", now(), msg);
    let other = sign::standard_webhooks("whsec_b3RoZXI=", "msg_1", now(), msg);
    let both = format!("{other} {sig}");
    let h = [
        ("webhook-id", "msg_1"),
        ("webhook-timestamp", ts.as_str()),
        ("webhook-signature", both.as_str()),
    ];
    let resp = post_raw(&anon, "acme", "brand-a", msg, &h);
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert_eq!(post_raw(&anon, "acme", "brand-a", msg, &h).json["duplicate"], true);
    let old_ts = (now() - 400).to_string();
    let old_sig = sign::standard_webhooks(secret, "msg_2", now() - 400, msg);
    let h = [
        ("webhook-id", "msg_2"),
        ("webhook-timestamp", old_ts.as_str()),
        ("webhook-signature", old_sig.as_str()),
    ];
    assert_eq!(post_raw(&anon, "acme", "brand-a", msg, &h).status, 401);
    let h = [
        ("webhook-id", "msg_3"),
        ("webhook-timestamp", ts.as_str()),
        ("webhook-signature", other.as_str()),
    ];
    assert_eq!(post_raw(&anon, "acme", "brand-a", msg, &h).status, 401);

    let rejected = items(&admin.get("/api/v1/tenants/brand-a/events?status=rejected&limit=100"));
    assert_eq!(rejected.len(), 5);
    let stripe_only = items(&admin.get("/api/v1/tenants/brand-a/events?provider=stripe&status=received&limit=100"));
    let processed = items(&admin.get("/api/v1/tenants/brand-a/events?provider=stripe&status=processed&limit=100"));
    assert_eq!(stripe_only.len() + processed.len(), 2);

    // Hourly stats for the chart: 24 buckets, this hour holds today's counts.
    let stats = admin.get("/api/v1/tenants/brand-a/events/stats?hours=24");
    assert_eq!(stats.status, 200, "{}", stats.text);
    let buckets = stats.json["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 24);
    let last = buckets.last().unwrap();
    assert_eq!(last["accepted"], 5);
    assert_eq!(last["rejected"], 5);
    assert!(last["hour"].as_str().unwrap().ends_with(":00:00Z"));
    assert_eq!(buckets[0]["accepted"], 0);
}

#[test]
fn webhook_info_gives_url_secret_state_and_steps() {
    let server = server_with(None);
    server.create_tenant("brand-a");
    let token = server.tenant_token("brand-a", &["webhooks:read"]);
    let client = server.with_token(&token);
    let info = client.get("/api/v1/tenants/brand-a/webhooks/poshvip");
    assert_eq!(info.status, 200, "{}", info.text);
    assert_eq!(
        info.json["webhook_url"],
        format!("{}/webhooks/poshvip/brand-a", server.base)
    );
    assert_eq!(info.json["secret_configured"], false);
    assert_eq!(info.json["signature"]["scheme"], "hmac-sha256-hex");
    assert_eq!(info.json["signature"]["header"], "X-Posh-Signature");
    assert!(
        info.json["supported_events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e == "purchase.created")
    );
    assert!(!info.json["setup_steps"].as_array().unwrap().is_empty());
    connect_posh(&server, "brand-a", "s3cr3t-value");
    let info = client.get("/api/v1/tenants/brand-a/webhooks/poshvip");
    assert_eq!(info.json["secret_configured"], true);
    assert!(!info.text.contains("s3cr3t-value"));
    assert_eq!(client.get("/api/v1/tenants/brand-a/webhooks/openai").status, 404);
    let eventbrite = client.get("/api/v1/tenants/brand-a/webhooks/eventbrite");
    assert_eq!(eventbrite.json["signature"]["scheme"], "eventbrite-fetch");
    // Another tenant's token is refused.
    server.create_tenant("brand-b");
    let other = server.with_token(&server.tenant_token("brand-b", &["webhooks:read"]));
    assert_eq!(other.get("/api/v1/tenants/brand-a/webhooks/poshvip").status, 403);
}
