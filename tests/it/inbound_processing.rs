//! Processing: signups, notifications, Resend email, Brevo sync with retries, Eventbrite
//! fetch, replays, the signups API, bindings, and tenant isolation of all of it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde_json::{Value, json};
use tessera::inbound::signature::sign;

use crate::support::inbound::*;
use crate::support::{FakeServer, TestServer};

struct Fakes {
    resend: FakeServer,
    brevo: FakeServer,
    eventbrite: FakeServer,
}

/// Resend always accepts; Brevo fails its first call with a 500; Eventbrite serves one
/// order to the right token only.
fn fakes() -> Fakes {
    let resend = FakeServer::start(Router::new().route(
        "/emails",
        post(|| async { (StatusCode::OK, axum::Json(json!({"id": "email_1"}))) }),
    ));
    let calls = Arc::new(AtomicUsize::new(0));
    let brevo = FakeServer::start(Router::new().route(
        "/v3/contacts",
        post(move || {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            async move {
                if n == 0 {
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        axum::Json(json!({"code": "internal_error"})),
                    )
                } else {
                    (StatusCode::CREATED, axum::Json(json!({"id": 17})))
                }
            }
        }),
    ));
    let eventbrite = FakeServer::start(Router::new().route(
        "/v3/orders/{id}/",
        get(|headers: axum::http::HeaderMap| async move {
            if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer eb_private_token") {
                return (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "INVALID_AUTH"})));
            }
            (
                StatusCode::OK,
                axum::Json(json!({
                    "id": "123", "email": "Dora@Example.com", "first_name": "Dora", "last_name": "Reis",
                    "name": "Dora Reis", "event": {"name": {"text": "Jazz Night"}}
                })),
            )
        }),
    ));
    Fakes {
        resend,
        brevo,
        eventbrite,
    }
}

fn server(f: &Fakes) -> TestServer {
    server_with(Some(&format!(
        "[providers.resend]\napi_base_url = \"{}\"\n[providers.brevo]\napi_base_url = \"{}\"\n[providers.eventbrite]\napi_base_url = \"{}\"\n",
        f.resend.base, f.brevo.base, f.eventbrite.base
    )))
}

fn setup_tenant(server: &TestServer, slug: &str) {
    server.create_tenant(slug);
    let resp = server.admin().patch(
        &format!("/api/v1/tenants/{slug}"),
        &json!({"notification_emails": ["ops@brand.example"]}),
    );
    assert_eq!(resp.status, 200, "{}", resp.text);
    connect_posh(server, slug, "posh-secret");
    connect(
        server,
        slug,
        "resend",
        json!({"credentials": {"api_key": "re_test_key_123"}, "config": {"from_address": "Brand <hi@brand.example>"}}),
    );
    connect(
        server,
        slug,
        "brevo",
        json!({"credentials": {"api_key": "xkeysib-test-key"}, "config": {"list_id": 7}}),
    );
}

fn accepted(resp: &crate::support::Response) -> String {
    assert_eq!(resp.status, 200, "{}", resp.text);
    resp.json["event_id"].as_str().unwrap().to_owned()
}

#[test]
fn poshvip_lifecycle_signup_notification_email_and_brevo_with_retry() {
    let f = fakes();
    let server = server(&f);
    setup_tenant(&server, "brand-a");
    let admin = server.admin();

    let e1 = accepted(&post_posh(
        &server,
        "brand-a",
        "posh-secret",
        &purchase("purchase.created", "p1", "Ana@Example.com"),
    ));
    let event = wait_processed(&admin, "brand-a", &e1);
    assert_eq!(event["status"], "processed", "{event}");

    let signups = items(&admin.get("/api/v1/tenants/brand-a/signups?status=pending"));
    assert_eq!(signups.len(), 1);
    let signup = &signups[0];
    assert_eq!(signup["email"], "ana@example.com");
    assert_eq!(
        (signup["first_name"].as_str(), signup["last_name"].as_str()),
        (Some("Ana"), Some("Lima"))
    );
    assert_eq!(signup["status"], "pending");
    assert_eq!(signup["sources"][0]["provider"], "poshvip");
    assert_eq!(signup["sources"][0]["event_id"], e1.as_str());
    assert_eq!(signup["sources"][0]["event_name"], "Friday Night");

    let notes = items(&admin.get("/api/v1/tenants/brand-a/notifications"));
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0]["kind"], "signup.created");

    // The notification email went out through the tenant's own Resend account.
    let email = wait_for("resend email", || f.resend.recorded().into_iter().next());
    assert_eq!(email.header("authorization").as_deref(), Some("Bearer re_test_key_123"));
    assert!(email.header("idempotency-key").is_some());
    let body: Value = serde_json::from_slice(&email.body).unwrap();
    assert_eq!(body["to"], json!(["ops@brand.example"]));
    assert_eq!(body["from"], "Brand <hi@brand.example>");
    assert!(body["subject"].as_str().unwrap().contains("ana@example.com"));

    // Brevo failed once (500), then the retried job succeeded.
    wait_for("brevo retry", || (f.brevo.count() >= 2).then_some(()));
    let job = wait_for("brevo job done", || {
        items(&admin.get("/api/v1/tenants/brand-a/jobs?kind=brevo.upsert_contact"))
            .into_iter()
            .find(|j| j["status"] == "succeeded")
    });
    assert_eq!(job["attempts"], 2);
    let upsert = &f.brevo.recorded()[1];
    assert_eq!(upsert.header("api-key").as_deref(), Some("xkeysib-test-key"));
    let body: Value = serde_json::from_slice(&upsert.body).unwrap();
    assert_eq!(body["email"], "ana@example.com");
    assert_eq!(body["listIds"], json!([7]));
    assert_eq!(body["updateEnabled"], true);
    assert_eq!(body["attributes"]["FIRSTNAME"], "Ana");
    let process_jobs = items(&admin.get("/api/v1/tenants/brand-a/jobs?kind=inbound.process&status=succeeded"));
    assert_eq!(process_jobs.len(), 1);

    // A second purchase by the same person merges into the same signup, no new alerts.
    let e2 = accepted(&post_posh(
        &server,
        "brand-a",
        "posh-secret",
        &purchase("purchase.created", "p2", "ana@example.com"),
    ));
    wait_processed(&admin, "brand-a", &e2);
    // Refund of p1, check-in on p2.
    let e3 = accepted(&post_posh(
        &server,
        "brand-a",
        "posh-secret",
        &purchase("purchase.refunded", "p1", "ana@example.com"),
    ));
    let e4 = accepted(&post_posh(
        &server,
        "brand-a",
        "posh-secret",
        &purchase("ticket.checked_in", "p2", "ana@example.com"),
    ));
    assert_eq!(wait_processed(&admin, "brand-a", &e3)["status"], "processed");
    assert_eq!(wait_processed(&admin, "brand-a", &e4)["status"], "processed");
    let signups = items(&admin.get("/api/v1/tenants/brand-a/signups"));
    assert_eq!(signups.len(), 1);
    let sources = signups[0]["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 2);
    let status_of = |r: &str| sources.iter().find(|s| s["reference"] == r).unwrap()["status"].clone();
    assert_eq!(status_of("p1"), "refunded");
    assert_eq!(status_of("p2"), "attended");

    // A transfer makes the new holder a contact of their own.
    let mut transfer = purchase("ticket.transferred", "p2", "ana@example.com");
    transfer["ticket"]["new_holder"] = json!({"email": "bia@example.com", "first_name": "Bia", "last_name": "Costa"});
    let e5 = accepted(&post_posh(&server, "brand-a", "posh-secret", &transfer));
    wait_processed(&admin, "brand-a", &e5);
    let bia = items(&admin.get("/api/v1/tenants/brand-a/signups?email=bia@example.com"));
    assert_eq!(bia.len(), 1);
    assert_eq!(bia[0]["first_name"], "Bia");
    assert_eq!(items(&admin.get("/api/v1/tenants/brand-a/notifications")).len(), 2);

    // A refund for a purchase never seen waits (retries) instead of failing at once.
    let e6 = accepted(&post_posh(
        &server,
        "brand-a",
        "posh-secret",
        &purchase("purchase.refunded", "p9", "x@example.com"),
    ));
    let pending = wait_for("retry recorded", || {
        let e = admin.get(&format!("/api/v1/tenants/brand-a/events/{e6}")).json;
        e["error"].is_string().then_some(e)
    });
    assert!(pending["error"].as_str().unwrap().contains("p9"), "{pending}");

    // Replaying a processed purchase adds nothing twice.
    let writer = server.with_token(&server.tenant_token("brand-a", &["events:write", "events:read"]));
    let replay = writer.post(&format!("/api/v1/tenants/brand-a/events/{e1}/replay"), &json!({}));
    assert_eq!(replay.status, 202, "{}", replay.text);
    let job_id = replay.json["job_id"].as_str().unwrap().to_owned();
    wait_for("replay job", || {
        items(&admin.get("/api/v1/tenants/brand-a/jobs?kind=inbound.process&limit=100"))
            .into_iter()
            .find(|j| j["id"] == job_id.as_str() && j["status"] == "succeeded")
    });
    assert_eq!(items(&admin.get("/api/v1/tenants/brand-a/signups")).len(), 2);
    assert_eq!(items(&admin.get("/api/v1/tenants/brand-a/notifications")).len(), 2);
    wait_for("second notification email", || (f.resend.count() >= 2).then_some(()));
    assert_eq!(f.resend.count(), 2, "one email per new signup");
    // Domain events in the outbox: one inbound.received per processed delivery (the
    // replay and the still-retrying refund add none), one signup.created per new signup.
    let db = server.db();
    let count = |t: &str| -> i64 {
        db.query_row("SELECT COUNT(*) FROM outbox WHERE event_type = ?1", [t], |r| r.get(0))
            .unwrap()
    };
    // (One statement, so the refund still retrying cannot change the picture mid-read.)
    let unannounced: i64 = db
        .query_row(
            "SELECT (SELECT COUNT(*) FROM inbound_events WHERE status IN ('processed', 'failed'))
                  - (SELECT COUNT(*) FROM outbox WHERE event_type = 'inbound.received')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(unannounced, 0);
    assert!(count("inbound.received") >= 5);
    assert_eq!(count("signup.created"), 2);

    // Isolation: another tenant sees none of it, with its own token or by id.
    server.create_tenant("brand-b");
    let other = server.with_token(&server.tenant_token("brand-b", &["signups:read", "events:read"]));
    for path in ["signups", "notifications", "jobs", "events"] {
        assert_eq!(
            other.get(&format!("/api/v1/tenants/brand-a/{path}")).status,
            403,
            "{path}"
        );
        assert!(
            items(&other.get(&format!("/api/v1/tenants/brand-b/{path}"))).is_empty(),
            "{path}"
        );
    }
    let signup_id = signups[0]["id"].as_str().unwrap();
    assert_eq!(
        other
            .get(&format!("/api/v1/tenants/brand-b/signups/{signup_id}"))
            .status,
        404
    );
    assert_eq!(other.get(&format!("/api/v1/tenants/brand-b/events/{e1}")).status, 404);
}

#[test]
fn stripe_shopify_and_eventbrite_become_contacts() {
    let f = fakes();
    let server = server(&f);
    server.create_tenant("brand-a");
    let admin = server.admin();
    let anon = server.anonymous();

    connect(
        &server,
        "brand-a",
        "stripe",
        json!({"credentials": {"secret_key": "sk_test_1", "webhook_secret": "whsec_s"}}),
    );
    let evt = json!({"id": "evt_9", "type": "checkout.session.completed",
        "data": {"object": {"id": "cs_1", "customer_details": {"email": "carla@example.com", "name": "Carla de Souza"}}}})
    .to_string();
    let sig = sign::stripe("whsec_s", now(), evt.as_bytes());
    let e = accepted(&post_raw(
        &anon,
        "stripe",
        "brand-a",
        evt.as_bytes(),
        &[("stripe-signature", &sig)],
    ));
    assert_eq!(wait_processed(&admin, "brand-a", &e)["status"], "processed");

    connect(
        &server,
        "brand-a",
        "shopify",
        json!({"auth_mode": "webhook", "credentials": {"webhook_secret": "shp"}, "config": {"shop": "demo.myshopify.com"}}),
    );
    let order = json!({"id": 5001, "email": "eli@example.com", "customer": {"first_name": "Eli", "last_name": "Dias"},
        "line_items": [{"title": "Festival pass"}]})
    .to_string();
    let sig = sign::hmac_base64("shp", order.as_bytes());
    let h = [
        ("x-shopify-hmac-sha256", sig.as_str()),
        ("x-shopify-topic", "orders/create"),
        ("x-shopify-webhook-id", "w1"),
    ];
    let e = accepted(&post_raw(&anon, "shopify", "brand-a", order.as_bytes(), &h));
    assert_eq!(wait_processed(&admin, "brand-a", &e)["status"], "processed");

    // Eventbrite: unsigned; only an api_url on its API host is trusted, then fetched.
    connect(
        &server,
        "brand-a",
        "eventbrite",
        json!({"auth_mode": "private_token", "credentials": {"private_token": "eb_private_token"}}),
    );
    let hook =
        json!({"api_url": format!("{}/v3/orders/123/", f.eventbrite.base), "config": {"action": "order.placed"}})
            .to_string();
    let e = accepted(&post_raw(&anon, "eventbrite", "brand-a", hook.as_bytes(), &[]));
    assert_eq!(wait_processed(&admin, "brand-a", &e)["status"], "processed");
    let fetched = f.eventbrite.recorded();
    assert_eq!(fetched.len(), 1);
    assert_eq!(fetched[0].path, "/v3/orders/123/");
    let forged =
        json!({"api_url": "http://127.0.0.2:9/v3/orders/1/", "config": {"action": "order.placed"}}).to_string();
    assert_eq!(
        post_raw(&anon, "eventbrite", "brand-a", forged.as_bytes(), &[]).status,
        401
    );

    let signups = items(&admin.get("/api/v1/tenants/brand-a/signups"));
    let by_email = |e: &str| {
        signups
            .iter()
            .find(|s| s["email"] == e)
            .cloned()
            .unwrap_or_else(|| panic!("{e}: {signups:?}"))
    };
    let carla = by_email("carla@example.com");
    assert_eq!(
        (carla["first_name"].as_str(), carla["last_name"].as_str()),
        (Some("Carla"), Some("de Souza"))
    );
    assert_eq!(carla["sources"][0]["provider"], "stripe");
    let eli = by_email("eli@example.com");
    assert_eq!(eli["sources"][0]["event_name"], "Festival pass");
    let dora = by_email("dora@example.com");
    assert_eq!(dora["sources"][0]["event_name"], "Jazz Night");
    assert_eq!(
        items(&admin.get("/api/v1/tenants/brand-a/signups?provider=eventbrite")).len(),
        1
    );
    // No resend / brevo connection: no email or sync jobs, only processing.
    let jobs = items(&admin.get("/api/v1/tenants/brand-a/jobs?limit=100"));
    assert!(jobs.iter().all(|j| j["kind"] == "inbound.process"), "{jobs:?}");
    assert_eq!(f.resend.count() + f.brevo.count(), 0);
}

#[test]
fn signups_api_approve_reject_invite_and_bindings() {
    let f = fakes();
    let server = server(&f);
    setup_tenant(&server, "brand-a");
    let admin = server.admin();
    let writer = server.with_token(&server.tenant_token(
        "brand-a",
        &["signups:read", "signups:write", "webhooks:read", "webhooks:write"],
    ));
    let reader = server.with_token(&server.tenant_token("brand-a", &["signups:read"]));

    // Bindings: defaults from the catalog, then the tenant's own pointer.
    let bindings = writer.get("/api/v1/tenants/brand-a/bindings/poshvip");
    assert_eq!(bindings.status, 200, "{}", bindings.text);
    assert_eq!(bindings.json["purchase.created"]["email"], "/purchase/customer/email");
    for bad in [
        json!({"purchase.created": {"email": "data/email"}}),
        json!({"purchase.created": {"favourite_colour": "/x"}}),
        json!({"not.an.event": {"email": "/x"}}),
        json!({"purchase.created": "nope"}),
    ] {
        let resp = writer.put("/api/v1/tenants/brand-a/bindings/poshvip", &bad);
        assert_eq!(resp.status, 400, "{bad}: {}", resp.text);
    }
    let put = writer.put(
        "/api/v1/tenants/brand-a/bindings/poshvip",
        &json!({"purchase.created": {"email": "/purchase/buyer/mail", "first_name": "/purchase/buyer/given"}}),
    );
    assert_eq!(put.status, 200, "{}", put.text);
    assert_eq!(put.json["purchase.created"]["email"], "/purchase/buyer/mail");
    assert_eq!(
        put.json["purchase.created"]["last_name"],
        "/purchase/customer/last_name"
    );
    assert_eq!(
        reader
            .put("/api/v1/tenants/brand-a/bindings/poshvip", &json!({}))
            .status,
        403
    );

    let mut body = purchase("purchase.created", "p1", "ignored@example.com");
    body["purchase"]["buyer"] = json!({"mail": "gil@example.com", "given": "Gil"});
    let e = accepted(&post_posh(&server, "brand-a", "posh-secret", &body));
    wait_processed(&admin, "brand-a", &e);
    let mut body = purchase("purchase.created", "p2", "ignored@example.com");
    body["purchase"]["buyer"] = json!({"mail": "hana@example.com"});
    let e = accepted(&post_posh(&server, "brand-a", "posh-secret", &body));
    wait_processed(&admin, "brand-a", &e);
    // Missing email at the mapped pointer → the event fails with a clear error.
    let e = accepted(&post_posh(
        &server,
        "brand-a",
        "posh-secret",
        &purchase("purchase.created", "p3", "x@example.com"),
    ));
    let failed = wait_processed(&admin, "brand-a", &e);
    assert_eq!(failed["status"], "failed");
    assert!(
        failed["error"].as_str().unwrap().contains("/purchase/buyer/mail"),
        "{failed}"
    );

    let all = items(&reader.get("/api/v1/tenants/brand-a/signups"));
    assert_eq!(all.len(), 2);
    let id_of = |email: &str| {
        all.iter().find(|s| s["email"] == email).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let gil = id_of("gil@example.com");
    let hana = id_of("hana@example.com");
    assert_eq!(
        all.iter().find(|s| s["email"] == "gil@example.com").unwrap()["first_name"],
        "Gil"
    );

    assert_eq!(
        reader
            .post(&format!("/api/v1/tenants/brand-a/signups/{gil}/approve"), &json!({}))
            .status,
        403
    );
    let approved = writer.post(&format!("/api/v1/tenants/brand-a/signups/{gil}/approve"), &json!({}));
    assert_eq!(approved.status, 200, "{}", approved.text);
    assert_eq!(approved.json["status"], "approved");
    let rejected = writer.post(&format!("/api/v1/tenants/brand-a/signups/{hana}/reject"), &json!({}));
    assert_eq!(rejected.json["status"], "rejected");
    assert_eq!(
        items(&reader.get("/api/v1/tenants/brand-a/signups?status=pending")).len(),
        0
    );
    assert_eq!(
        items(&reader.get("/api/v1/tenants/brand-a/signups?status=approved")).len(),
        1
    );
    assert_eq!(reader.get("/api/v1/tenants/brand-a/signups?status=bogus").status, 400);

    let before = f.resend.count();
    let invited = writer.post(&format!("/api/v1/tenants/brand-a/signups/{gil}/invite"), &json!({}));
    assert_eq!(invited.status, 200, "{}", invited.text);
    assert_eq!(invited.json["status"], "invited");
    assert_eq!(invited.json["email_queued"], true);
    let invite = wait_for("invite email", || {
        f.resend
            .recorded()
            .into_iter()
            .skip(before)
            .find(|r| serde_json::from_slice::<Value>(&r.body).unwrap()["to"] == json!(["gil@example.com"]))
    });
    let body: Value = serde_json::from_slice(&invite.body).unwrap();
    assert!(body["text"].as_str().unwrap().contains("Hi Gil"));
    assert_eq!(
        writer
            .post("/api/v1/tenants/brand-a/signups/0190-none/approve", &json!({}))
            .status,
        404
    );

    // Another tenant's admin path cannot touch these signups.
    server.create_tenant("brand-b");
    let other = server.with_token(&server.tenant_token("brand-b", &["signups:write", "signups:read"]));
    assert_eq!(
        other
            .post(&format!("/api/v1/tenants/brand-b/signups/{gil}/reject"), &json!({}))
            .status,
        404
    );
    assert_eq!(
        other
            .post(&format!("/api/v1/tenants/brand-a/signups/{gil}/reject"), &json!({}))
            .status,
        403
    );
    assert_eq!(
        reader.get(&format!("/api/v1/tenants/brand-a/signups/{gil}")).json["status"],
        "invited"
    );
}

#[test]
fn a_refused_call_fails_the_job_with_its_error_and_other_tenants_are_untouched() {
    let f = fakes();
    let refusing = FakeServer::start(Router::new().route(
        "/v3/contacts",
        post(|| async {
            (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({"code": "invalid_parameter"})),
            )
        }),
    ));
    let server = server_with(Some(&format!(
        "[providers.resend]\napi_base_url = \"{}\"\n[providers.brevo]\napi_base_url = \"{}\"\n",
        f.resend.base, refusing.base
    )));
    setup_tenant(&server, "brand-a");
    server.create_tenant("brand-b");
    let admin = server.admin();
    let e = accepted(&post_posh(
        &server,
        "brand-a",
        "posh-secret",
        &purchase("purchase.created", "p1", "m@example.com"),
    ));
    wait_processed(&admin, "brand-a", &e);
    let job = wait_for("brevo job failed", || {
        items(&admin.get("/api/v1/tenants/brand-a/jobs?kind=brevo.upsert_contact&status=failed"))
            .into_iter()
            .next()
    });
    assert_eq!(job["attempts"], 1, "a 400 is not retried: {job}");
    assert!(job["last_error"].as_str().unwrap().contains("400"), "{job}");
    assert!(!job.to_string().contains("xkeysib"), "no secret in job errors");
    assert_eq!(refusing.count(), 1);
    assert_eq!(admin.get("/api/v1/tenants/brand-a/jobs?status=bogus").status, 400);
    assert!(items(&admin.get("/api/v1/tenants/brand-b/jobs")).is_empty());
}
