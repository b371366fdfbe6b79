//! Every built-in provider that tessera processes, fed the delivery its own documentation
//! shows (body, headers, signature scheme), through the public webhook URL to the signup
//! or action it leads to; and "Test with a sample event" on the real ingest path.

use axum::Router;
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use serde_json::{Value, json};
use tessera::inbound::signature::sign;

use crate::support::inbound::*;
use crate::support::{FakeServer, TestServer};

fn accepted(resp: &crate::support::Response) -> String {
    assert_eq!(resp.status, 200, "{}", resp.text);
    resp.json["event_id"].as_str().unwrap().to_owned()
}

fn event(server: &TestServer, id: &str) -> Value {
    wait_processed(&server.admin(), "brand-a", id)
}

fn signup(server: &TestServer, email: &str) -> Value {
    let found = items(
        &server
            .admin()
            .get(&format!("/api/v1/tenants/brand-a/signups?email={email}")),
    );
    assert_eq!(found.len(), 1, "{email}: {found:?}");
    found[0].clone()
}

/// The guide's `curl -d` body, byte for byte.
const POSH_GUIDE_BODY: &str = r#"{
    "event": "purchase.created",
    "purchase": {
      "id": "test_123",
      "event_id": "evt_456",
      "event_name": "Test Event",
      "customer": {
        "email": "test@example.com",
        "first_name": "John",
        "last_name": "Doe"
      },
      "total_amount": 100.00,
      "currency": "USD",
      "tickets": []
    }
  }"#;

fn post_posh_raw(server: &TestServer, body: &str) -> crate::support::Response {
    let signature = sign::hmac_hex("posh-guide-secret", body.as_bytes());
    post_raw(
        &server.anonymous(),
        "poshvip",
        "brand-a",
        body.as_bytes(),
        &[("X-Posh-Signature", &signature)],
    )
}

#[test]
fn poshvip_deliveries_in_the_guides_envelope() {
    let server = server_with(None);
    server.create_tenant("brand-a");
    connect_posh(&server, "brand-a", "posh-guide-secret");

    let created = accepted(&post_posh_raw(&server, POSH_GUIDE_BODY));
    let stored = event(&server, &created);
    assert_eq!(stored["status"], "processed", "{stored}");
    assert_eq!(stored["type"], "purchase.created");
    assert_eq!(stored["external_id"], "purchase.created:test_123");
    let john = signup(&server, "test@example.com");
    assert_eq!(
        (john["first_name"].as_str(), john["last_name"].as_str()),
        (Some("John"), Some("Doe"))
    );
    assert_eq!(john["status"], "pending");
    assert_eq!(john["sources"][0]["event_name"], "Test Event");
    assert_eq!(john["sources"][0]["reference"], "test_123");
    // Posh sends no delivery id: the same delivery again is recognised by type + purchase.
    let again = post_posh_raw(&server, POSH_GUIDE_BODY);
    assert_eq!(again.json["duplicate"], true, "{}", again.text);

    // Ticket events in the same envelope: a check-in, then a transfer to a new holder.
    let checked_in = json!({"event": "ticket.checked_in", "ticket": {
        "id": "tkt_1", "purchase_id": "test_123", "event_id": "evt_456", "event_name": "Test Event",
        "holder": {"email": "test@example.com", "first_name": "John", "last_name": "Doe"}}})
    .to_string();
    let id = accepted(&post_posh_raw(&server, &checked_in));
    let stored = event(&server, &id);
    assert_eq!(stored["status"], "processed", "{stored}");
    assert_eq!(stored["external_id"], "ticket.checked_in:test_123:tkt_1");
    assert_eq!(signup(&server, "test@example.com")["sources"][0]["status"], "attended");

    let transferred = json!({"event": "ticket.transferred", "ticket": {
        "id": "tkt_1", "purchase_id": "test_123", "event_id": "evt_456", "event_name": "Test Event",
        "holder": {"email": "test@example.com", "first_name": "John", "last_name": "Doe"},
        "new_holder": {"email": "mary@example.com", "first_name": "Mary", "last_name": "Major"}}})
    .to_string();
    let id = accepted(&post_posh_raw(&server, &transferred));
    let stored = event(&server, &id);
    assert_eq!(
        stored["external_id"],
        "ticket.transferred:test_123:tkt_1:mary@example.com"
    );
    let mary = signup(&server, "mary@example.com");
    assert_eq!(
        (mary["first_name"].as_str(), mary["last_name"].as_str()),
        (Some("Mary"), Some("Major"))
    );
    assert_eq!(mary["sources"][0]["event_name"], "Test Event");

    let refunded = json!({"event": "purchase.refunded", "purchase": {
        "id": "test_123", "event_id": "evt_456", "event_name": "Test Event",
        "customer": {"email": "test@example.com", "first_name": "John", "last_name": "Doe"},
        "total_amount": 100.00, "currency": "USD", "tickets": []}})
    .to_string();
    let id = accepted(&post_posh_raw(&server, &refunded));
    assert_eq!(event(&server, &id)["external_id"], "purchase.refunded:test_123");
    assert_eq!(signup(&server, "test@example.com")["sources"][0]["status"], "refunded");

    // A wrong signature on the guide's body is refused and never processed.
    let forged = post_raw(
        &server.anonymous(),
        "poshvip",
        "brand-a",
        POSH_GUIDE_BODY.as_bytes(),
        &[(
            "X-Posh-Signature",
            &sign::hmac_hex("not-the-secret", POSH_GUIDE_BODY.as_bytes()),
        )],
    );
    assert_eq!(forged.status, 401, "{}", forged.text);
    assert_eq!(items(&server.admin().get("/api/v1/tenants/brand-a/signups")).len(), 2);
}

/// Stripe's event object with a Checkout Session, signed `t=..,v1=..`
/// (docs.stripe.com/api/events/object, docs.stripe.com/webhooks).
#[test]
fn stripe_checkout_session_completed_as_documented() {
    let server = server_with(None);
    server.create_tenant("brand-a");
    connect(
        &server,
        "brand-a",
        "stripe",
        json!({"credentials": {"secret_key": "sk_test_doc", "webhook_secret": "whsec_doc_secret"}}),
    );
    let body = json!({
        "id": "evt_1NG8Du2eZvKYlo2CUI79vXWy", "object": "event", "api_version": "2024-06-20", "created": 1686089970,
        "data": {"object": {"id": "cs_test_a1Yzk3", "object": "checkout.session", "amount_total": 2000,
            "currency": "usd", "customer_details": {"email": "jenny.rosen@example.com", "name": "Jenny Rosen",
            "phone": null, "address": {"country": "US"}}, "mode": "payment", "payment_status": "paid", "status": "complete"}},
        "livemode": false, "pending_webhooks": 1, "request": {"id": null, "idempotency_key": null},
        "type": "checkout.session.completed"
    })
    .to_string();
    let signature = sign::stripe("whsec_doc_secret", now(), body.as_bytes());
    let id = accepted(&post_raw(
        &server.anonymous(),
        "stripe",
        "brand-a",
        body.as_bytes(),
        &[("Stripe-Signature", &signature)],
    ));
    let stored = event(&server, &id);
    assert_eq!(stored["status"], "processed", "{stored}");
    assert_eq!(stored["external_id"], "evt_1NG8Du2eZvKYlo2CUI79vXWy");
    let jenny = signup(&server, "jenny.rosen@example.com");
    assert_eq!(
        (jenny["first_name"].as_str(), jenny["last_name"].as_str()),
        (Some("Jenny"), Some("Rosen"))
    );
    assert_eq!(jenny["sources"][0]["reference"], "cs_test_a1Yzk3");
}

/// Shopify's `orders/create` payload with the headers its HTTPS delivery carries
/// (shopify.dev/docs/apps/build/webhooks/subscribe/https).
#[test]
fn shopify_orders_create_as_documented() {
    let server = server_with(None);
    server.create_tenant("brand-a");
    connect(
        &server,
        "brand-a",
        "shopify",
        json!({"auth_mode": "webhook", "credentials": {"webhook_secret": "shpss_doc"}, "config": {"shop": "brand-a.myshopify.com"}}),
    );
    let body = json!({
        "id": 820982911946154508u64, "admin_graphql_api_id": "gid://shopify/Order/820982911946154508",
        "email": "jon@example.com", "created_at": "2021-12-31T19:00:00-05:00", "currency": "USD", "total_price": "398.00",
        "customer": {"id": 115310627314723954u64, "email": "john@example.com", "first_name": "John", "last_name": "Smith"},
        "line_items": [{"id": 866550311766439020u64, "title": "IPod Nano - 8GB", "quantity": 1, "price": "199.00"}]
    })
    .to_string();
    let hmac = sign::hmac_base64("shpss_doc", body.as_bytes());
    let headers = [
        ("X-Shopify-Topic", "orders/create"),
        ("X-Shopify-Hmac-Sha256", hmac.as_str()),
        ("X-Shopify-Shop-Domain", "brand-a.myshopify.com"),
        ("X-Shopify-API-Version", "2025-01"),
        ("X-Shopify-Webhook-Id", "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"),
        ("X-Shopify-Triggered-At", "2023-03-29T18:00:27.877041743Z"),
    ];
    let id = accepted(&post_raw(
        &server.anonymous(),
        "shopify",
        "brand-a",
        body.as_bytes(),
        &headers,
    ));
    let stored = event(&server, &id);
    assert_eq!(stored["status"], "processed", "{stored}");
    assert_eq!(stored["type"], "orders/create");
    assert_eq!(stored["external_id"], "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043");
    let jon = signup(&server, "jon@example.com");
    assert_eq!(
        (jon["first_name"].as_str(), jon["last_name"].as_str()),
        (Some("John"), Some("Smith"))
    );
    assert_eq!(jon["sources"][0]["event_name"], "IPod Nano - 8GB");
    assert_eq!(jon["sources"][0]["reference"], "820982911946154508");
}

/// Eventbrite's own order API: the order, with its event only when `expand=event` is asked.
fn fake_eventbrite() -> FakeServer {
    FakeServer::start(Router::new().route(
        "/v3/orders/{id}/",
        get(
            |headers: HeaderMap, Path(id): Path<String>, Query(q): Query<std::collections::HashMap<String, String>>| async move {
                if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer EB_PRIVATE_DOC") {
                    return (
                        StatusCode::UNAUTHORIZED,
                        axum::Json(json!({"status_code": 401, "error": "INVALID_AUTH", "error_description": "The OAuth token you provided was invalid."})),
                    );
                }
                if id != "1234567890" {
                    return (
                        StatusCode::NOT_FOUND,
                        axum::Json(json!({"status_code": 404, "error": "NOT_FOUND", "error_description": "The order you requested does not exist."})),
                    );
                }
                let mut order = json!({
                    "id": "1234567890", "created": "2024-05-01T10:00:00Z", "changed": "2024-05-01T10:00:00Z",
                    "name": "Dora Reis", "first_name": "Dora", "last_name": "Reis", "email": "dora.reis@example.com",
                    "event_id": "717926867587", "status": "placed",
                    "costs": {"gross": {"currency": "USD", "value": 2500, "display": "$25.00"}}
                });
                if q.get("expand").is_some_and(|e| e.split(',').any(|x| x == "event")) {
                    order["event"] = json!({"id": "717926867587", "name": {"text": "Jazz Night", "html": "Jazz Night"}});
                }
                (StatusCode::OK, axum::Json(order))
            },
        ),
    ))
}

/// Eventbrite's webhook (`config.action` + `api_url`, eventbrite.com/platform/docs/webhooks),
/// unsigned: the order is fetched from the API with the tenant's token.
#[test]
fn eventbrite_order_placed_as_documented() {
    let eventbrite = fake_eventbrite();
    let server = server_with(Some(&format!(
        "[providers.eventbrite]\napi_base_url = \"{}\"\n",
        eventbrite.base
    )));
    server.create_tenant("brand-a");
    connect(
        &server,
        "brand-a",
        "eventbrite",
        json!({"auth_mode": "private_token", "credentials": {"private_token": "EB_PRIVATE_DOC"}}),
    );
    let body = json!({
        "config": {"action": "order.placed", "user_id": "163054428874", "endpoint_url": "https://example.com/webhook", "webhook_id": "7654321"},
        "api_url": format!("{}/v3/orders/1234567890/", eventbrite.base)
    })
    .to_string();
    let id = accepted(&post_raw(
        &server.anonymous(),
        "eventbrite",
        "brand-a",
        body.as_bytes(),
        &[],
    ));
    let stored = event(&server, &id);
    assert_eq!(stored["status"], "processed", "{stored}");
    assert_eq!(stored["type"], "order.placed");
    let fetch = &eventbrite.recorded()[0];
    assert_eq!(fetch.path, "/v3/orders/1234567890/");
    assert_eq!(fetch.query.as_deref(), Some("expand=event"));
    let dora = signup(&server, "dora.reis@example.com");
    assert_eq!(dora["first_name"], "Dora");
    assert_eq!(dora["sources"][0]["event_name"], "Jazz Night");
}

fn test_path(provider: &str) -> String {
    format!("/api/v1/tenants/brand-a/webhooks/{provider}/test")
}

/// The outcome of a test delivery once processing has finished (the endpoint waits a
/// bounded time; on a slow machine it may answer `received`, then the event is polled).
fn settled(server: &TestServer, outcome: Value) -> Value {
    if outcome["status"] != "received" {
        return outcome;
    }
    let id = outcome["event_id"].as_str().expect("event id").to_owned();
    let event = wait_processed(&server.admin(), "brand-a", &id);
    json!({"event_id": id, "status": event["status"]})
}

#[test]
fn test_with_a_sample_event_goes_through_the_real_webhook_url() {
    let eventbrite = fake_eventbrite();
    let server = server_with(Some(&format!(
        "[providers.eventbrite]\napi_base_url = \"{}\"\n\
         [providers.acmehooks]\nname = \"Acme hooks\"\ncategory = \"developer\"\nauth_modes = [\"webhook\"]\n\
         fields = [{{ name = \"webhook_secret\", label = \"Secret\", secret = true, required = true }}]\n\
         [providers.acmehooks.webhook]\nscheme = \"standard-webhooks\"\nheader = \"webhook-signature\"\n\
         [providers.acmehooks.webhook.sample]\ntype = \"thing.happened\"\nsource = \"tests\"\nbody = '{{\"type\": \"thing.happened\"}}'\n",
        eventbrite.base
    )));
    server.create_tenant("brand-a");
    server.create_tenant("brand-b");
    let writer = server.with_token(&server.tenant_token("brand-a", &["webhooks:write", "webhooks:read"]));
    let reader = server.with_token(&server.tenant_token("brand-a", &["webhooks:read"]));

    assert_eq!(
        writer.post(&test_path("poshvip"), &json!({})).status,
        404,
        "no connection yet"
    );
    connect_posh(&server, "brand-a", "posh-stored-secret");
    assert_eq!(reader.post(&test_path("poshvip"), &json!({})).status, 403);
    assert_eq!(
        server
            .with_token(&server.tenant_token("brand-b", &["webhooks:write"]))
            .post(&test_path("poshvip"), &json!({}))
            .status,
        403,
        "another tenant's token"
    );

    let first = writer.post(&test_path("poshvip"), &json!({}));
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.json["status"], "processed", "{}", first.text);
    let signup_id = first.json["signup_id"].as_str().expect("a signup").to_owned();
    let event_id = first.json["event_id"].as_str().unwrap().to_owned();
    let stored = server
        .admin()
        .get(&format!("/api/v1/tenants/brand-a/events/{event_id}"));
    assert_eq!(stored.json["payload"]["purchase"]["event_name"], "Test Event");
    assert!(
        stored.json["external_id"]
            .as_str()
            .unwrap()
            .starts_with("purchase.created:test_123-")
    );
    // It went through the public URL over HTTP: the event keeps the request's headers.
    assert!(
        stored.json["headers"]["user-agent"]
            .as_str()
            .unwrap()
            .starts_with("tessera-sample/")
    );
    let john = server
        .admin()
        .get(&format!("/api/v1/tenants/brand-a/signups/{signup_id}"));
    assert_eq!(john.json["email"], "test@example.com");
    assert_eq!(john.json["sources"][0]["event_name"], "Test Event");
    // A second test is a new delivery (fresh purchase id), merged into the same signup.
    let second = settled(&server, writer.post(&test_path("poshvip"), &json!({})).json);
    assert_eq!(second["status"], "processed", "{second}");
    assert_ne!(second["event_id"], first.json["event_id"]);
    let john = server
        .admin()
        .get(&format!("/api/v1/tenants/brand-a/signups/{signup_id}"));
    assert_eq!(john.json["sources"].as_array().unwrap().len(), 2);

    // A stored secret the scheme cannot use (Standard Webhooks wants whsec_ + base64) is
    // refused like any bad signature, and recorded as rejected.
    connect(
        &server,
        "brand-a",
        "acmehooks",
        json!({"credentials": {"webhook_secret": "not base64!"}}),
    );
    let refused = writer.post(&test_path("acmehooks"), &json!({}));
    assert_eq!(refused.status, 200, "{}", refused.text);
    assert_eq!(refused.json["status"], "rejected", "{}", refused.text);
    assert!(refused.json.get("signup_id").is_none());
    let rejected_id = refused.json["event_id"].as_str().expect("the rejection is recorded");
    let rejected = server
        .admin()
        .get(&format!("/api/v1/tenants/brand-a/events/{rejected_id}"));
    assert_eq!(rejected.json["status"], "rejected");
    // With a good secret the same provider's sample is accepted.
    connect(
        &server,
        "brand-a",
        "acmehooks",
        json!({"credentials": {"webhook_secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}),
    );
    let ok = settled(&server, writer.post(&test_path("acmehooks"), &json!({})).json);
    assert_eq!(ok["status"], "processed", "{ok}");

    // Shopify connected without its signing secret: the test shows the refusal.
    connect(
        &server,
        "brand-a",
        "shopify",
        json!({"auth_mode": "webhook", "credentials": {}, "config": {"shop": "brand-a.myshopify.com"}}),
    );
    let unsigned = writer.post(&test_path("shopify"), &json!({}));
    assert_eq!(unsigned.json["status"], "rejected", "{}", unsigned.text);
    assert!(
        unsigned.json["detail"].as_str().unwrap().contains("secret"),
        "{}",
        unsigned.text
    );

    // Eventbrite's sample points at its documented order on the tenant's API base, which
    // is fetched with the tenant's token (a wrong token would fail the event here).
    connect(
        &server,
        "brand-a",
        "eventbrite",
        json!({"auth_mode": "private_token", "credentials": {"private_token": "EB_PRIVATE_DOC"}}),
    );
    let fetched = settled(&server, writer.post(&test_path("eventbrite"), &json!({})).json);
    assert_eq!(fetched["status"], "processed", "{fetched}");
    assert_eq!(eventbrite.recorded()[0].path, "/v3/orders/1234567890/");

    // Providers without webhooks or without a sample.
    assert_eq!(writer.post(&test_path("resend"), &json!({})).status, 404);
    assert_eq!(writer.post(&test_path("nope"), &json!({})).status, 404);
    // Every test is audited, never with the secret.
    let audit = server.admin().get("/api/v1/tenants/brand-a/audit?limit=200");
    assert!(audit.text.contains("webhook.tested"), "{}", audit.text);
    assert!(!audit.text.contains("posh-stored-secret"));
}
