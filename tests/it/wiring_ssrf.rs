//! The SSRF guard on tenant-supplied provider URLs (Easy!Appointments' `base_url`):
//! refused at save time, and every outside call to such a URL vetted at connect time.

use axum::Router;
use axum::routing::get;
use serde_json::json;

use crate::support::{FakeServer, TestServer};

#[test]
fn a_base_url_on_an_internal_address_is_refused_at_save() {
    let server = TestServer::start_with(|config| config.allow_private_targets = false);
    server.create_tenant("brand-a");
    let admin = server.admin();
    for base in [
        "http://127.0.0.1:1",
        "http://localhost:1",
        "http://[::1]:1",
        "http://10.0.0.8",
    ] {
        let resp = admin.put(
            "/api/v1/tenants/brand-a/connections/easyappointments",
            &json!({"credentials": {"api_key": "ea-token"}, "config": {"base_url": base}}),
        );
        assert_eq!(resp.status, 400, "{base}: {}", resp.text);
        assert!(resp.text.contains("config.base_url"), "{}", resp.text);
        assert!(resp.text.contains("internal address"), "{}", resp.text);
    }
    assert_eq!(
        admin.get("/api/v1/tenants/brand-a/connections/easyappointments").status,
        404,
        "nothing saved"
    );
    // A host-fragment placeholder shapes the host too (Shopify's `https://{shop}/...`).
    let shop = admin.put(
        "/api/v1/tenants/brand-a/connections/shopify",
        &json!({"auth_mode": "webhook", "credentials": {"webhook_secret": "s"}, "config": {"shop": "127.0.0.1"}}),
    );
    assert_eq!(shop.status, 400, "{}", shop.text);
    assert!(shop.text.contains("config.shop"), "{}", shop.text);
    // A public address is fine (no name resolution needed for a literal IP).
    let public = admin.put(
        "/api/v1/tenants/brand-a/connections/easyappointments",
        &json!({"credentials": {"api_key": "ea-token"}, "config": {"base_url": "https://93.184.215.14"}}),
    );
    assert_eq!(public.status, 201, "{}", public.text);
}

#[test]
fn calls_to_a_tenant_url_go_through_the_guard() {
    let fake = FakeServer::start(Router::new().route(
        "/index.php/api/v1/services",
        get(|| async { axum::Json(json!([{"id": 1, "name": "Haircut"}])) }),
    ));
    let mut server = TestServer::start();
    server.create_tenant("brand-a");
    let admin = server.admin();
    let resp = admin.put(
        "/api/v1/tenants/brand-a/connections/easyappointments",
        &json!({"credentials": {"api_key": "ea-token"}, "config": {"base_url": fake.base}}),
    );
    assert_eq!(resp.status, 201, "{}", resp.text);
    let verify = admin.post(
        "/api/v1/tenants/brand-a/connections/easyappointments/verify",
        &json!({}),
    );
    assert_eq!(verify.json["result"], "ok", "{}", verify.text);
    let proxied = admin.get("/api/v1/tenants/brand-a/proxy/easyappointments/services");
    assert_eq!(proxied.status, 200, "{}", proxied.text);
    let seen = fake.count();
    assert_eq!(seen, 2);

    // The same stored base URL once the operator closes private targets: nothing reaches it.
    server.config.allow_private_targets = false;
    let server = server.restart();
    let admin = server.admin();
    let verify = admin.post(
        "/api/v1/tenants/brand-a/connections/easyappointments/verify",
        &json!({}),
    );
    assert_eq!(verify.json["result"], "unreachable", "{}", verify.text);
    assert!(
        verify.json["detail"].as_str().unwrap().contains("refused"),
        "{}",
        verify.text
    );
    let proxied = admin.get("/api/v1/tenants/brand-a/proxy/easyappointments/services");
    assert_eq!(proxied.status, 502, "{}", proxied.text);
    let stats = admin.get("/api/v1/tenants/brand-a/easyappointments/stats?date_from=2026-11-01&date_to=2026-11-30");
    assert_ne!(stats.status, 200, "{}", stats.text);
    assert_eq!(fake.count(), seen, "no request reached the internal address");
}
