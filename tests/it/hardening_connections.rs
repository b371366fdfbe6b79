//! Ways to make tessera send a tenant's credentials somewhere else: a URL-shaping config
//! change that keeps the stored secrets, values outside a provider's documented hosts,
//! and proxy paths or methods that escape the API base.

use axum::Router;
use axum::routing::any;
use serde_json::json;

use crate::support::raw::KeepAlive;
use crate::support::{FakeServer, TestServer, providers_file};

const EA_KEY: &str = "ea-KEY-CANARY-7f3a9c";

fn fake() -> FakeServer {
    FakeServer::start(Router::new().fallback(any(|| async { axum::Json(json!([])) })))
}

fn server_with(toml: &str) -> TestServer {
    let toml = toml.to_owned();
    TestServer::start_with(move |config| {
        config.providers_file = Some(providers_file(&config.data_dir.with_file_name("etc"), &toml));
    })
}

#[test]
fn moving_a_connection_to_another_host_needs_its_secrets_again_or_reveal() {
    let (home, elsewhere) = (fake(), fake());
    let server = server_with("");
    server.create_tenant("acme");
    let writer = server.with_token(&server.tenant_token("acme", &["connections:write", "connections:read"]));
    let path = "/api/v1/tenants/acme/connections/easyappointments";
    let created = writer.put(
        path,
        &json!({"credentials": {"api_key": EA_KEY}, "config": {"base_url": home.base}}),
    );
    assert_eq!(created.status, 201, "{}", created.text);

    // Pointing it elsewhere while keeping the stored key is refused …
    let moved = writer.put(
        path,
        &json!({"config": {"base_url": elsewhere.base}, "credentials": {}}),
    );
    assert_eq!(moved.status, 400, "{}", moved.text);
    assert_eq!(
        moved.json["errors"][0]["field"], "credentials.api_key",
        "{}",
        moved.text
    );
    assert!(moved.text.contains("config.base_url"), "{}", moved.text);
    let verify = writer.post(&format!("{path}/verify"), &json!({}));
    assert_eq!(verify.status, 200, "{}", verify.text);
    assert_eq!(elsewhere.count(), 0, "the stored key went to the new host");
    let recorded = home.recorded();
    assert!(
        recorded
            .iter()
            .all(|r| r.header("authorization").unwrap_or_default().contains(EA_KEY))
    );

    // … and allowed with the key sent again (it is the caller's own, then).
    let moved = writer.put(
        path,
        &json!({"config": {"base_url": elsewhere.base}, "credentials": {"api_key": "ea-new-key-123456"}}),
    );
    assert_eq!(moved.status, 200, "{}", moved.text);
    writer.post(&format!("{path}/verify"), &json!({}));
    assert!(
        elsewhere
            .recorded()
            .iter()
            .all(|r| !r.header("authorization").unwrap_or_default().contains(EA_KEY))
    );

    // A caller that may read the secrets anyway may move them.
    let revealer = server.with_token(&server.tenant_token("acme", &["connections:write", "credentials:reveal"]));
    let back = revealer.put(path, &json!({"config": {"base_url": home.base}, "credentials": {}}));
    assert_eq!(back.status, 200, "{}", back.text);
    // Config that shapes no URL changes freely.
    let posh = writer.put(
        "/api/v1/tenants/acme/connections/poshvip",
        &json!({"credentials": {"webhook_secret": "posh-secret-1"}}),
    );
    assert_eq!(posh.status, 201);
    let flip = writer.put(
        "/api/v1/tenants/acme/connections/poshvip",
        &json!({"credentials": {}, "config": {"invalid_signature": "accept"}}),
    );
    assert_eq!(flip.status, 200, "{}", flip.text);
}

#[test]
fn shop_and_region_values_are_held_to_the_providers_documented_hosts() {
    let server = server_with("[providers.genesys.allow]\nregion = [\"genesys.test\"]\n");
    server.create_tenant("acme");
    let admin = server.admin();
    let put = |provider: &str, body: serde_json::Value| {
        admin.put(&format!("/api/v1/tenants/acme/connections/{provider}"), &body)
    };
    let shop = |value: &str| {
        put(
            "shopify",
            json!({"auth_mode": "webhook", "credentials": {"webhook_secret": "s"}, "config": {"shop": value}}),
        )
    };
    for bad in ["evil.example", "myshopify.com", "evil.com.myshopify.com.evil.example"] {
        let resp = shop(bad);
        assert_eq!(resp.status, 400, "{bad}: {}", resp.text);
        assert_eq!(resp.json["errors"][0]["field"], "config.shop", "{}", resp.text);
        assert!(!resp.text.contains(bad), "the value is not repeated: {}", resp.text);
    }
    assert_eq!(shop("brand-a.myshopify.com").status, 201);
    let region = |value: &str| {
        put(
            "genesys",
            json!({"credentials": {"client_id": "cid", "client_secret": "csecret-123456"}, "config": {"region": value}}),
        )
    };
    for hostile in [
        "evil.example",
        "mypurecloud.com.evil.example",
        "pure.cloud.evil.example",
    ] {
        let evil = region(hostile);
        assert_eq!(evil.status, 400, "{hostile}: {}", evil.text);
        assert_eq!(evil.json["errors"][0]["field"], "config.region");
    }
    for documented in [
        "mypurecloud.com",
        "mypurecloud.de",
        "aps1.pure.cloud",
        "use2.us-gov-pure.cloud",
        // The Genesys integration guide's own example.
        "aps1.mypurecloud.com",
    ] {
        let ok = region(documented);
        assert!(ok.status == 200 || ok.status == 201, "{documented}: {}", ok.text);
    }
    // The operator's providers file adds its own.
    let extended = region("genesys.test");
    assert_eq!(extended.status, 200, "{}", extended.text);
    // The catalog tells clients what is allowed.
    let genesys = admin.get("/api/v1/providers/genesys");
    let allowed = &genesys.json["config_fields"][0]["allowed"];
    assert!(
        allowed
            .as_array()
            .is_some_and(|a| a.contains(&json!("mypurecloud.com"))),
        "{}",
        genesys.text
    );
}

#[test]
fn the_proxy_refuses_encoded_backslashes_path_parameters_and_odd_methods() {
    let upstream = FakeServer::start(Router::new().fallback(any(|| async { "ok" })));
    let server = server_with(&format!(
        "[providers.stripe]\napi_base_url = \"{}/stripe/v1\"\n",
        upstream.base
    ));
    server.create_tenant("a");
    let token = server.tenant_token("a", &["connections:write", "proxy"]);
    let client = server.with_token(&token);
    let put = client.put(
        "/api/v1/tenants/a/connections/stripe",
        &json!({"credentials": {"secret_key": "sk_test_proxy_4242"}}),
    );
    assert_eq!(put.status, 201, "{}", put.text);
    for path in [
        "balance/%5c..%5c..%5cadmin",
        "balance/%5C..%5Cadmin",
        "..;/..;/admin",
        "balance/..;jsessionid=1/admin",
        ".;x/admin",
        "%2e%2e;/admin",
        "balance/%252e%252e/admin",
        "balance/%00/admin",
    ] {
        let resp = client.get(&format!("/api/v1/tenants/a/proxy/stripe/{path}"));
        assert_eq!(resp.status, 400, "{path}: {}", resp.text);
    }
    assert_eq!(upstream.count(), 0, "a traversal reached the provider");
    let bearer = format!("Bearer {token}");
    for method in ["TRACE", "CONNECT", "PROPFIND", "TRACK"] {
        let mut conn = KeepAlive::connect(&server.base);
        let answer = conn.request(
            method,
            "/api/v1/tenants/a/proxy/stripe/balance",
            &[("authorization", &bearer)],
            b"",
        );
        let status = answer.map(|(s, _)| s).unwrap_or(0);
        assert!(status == 405 || status == 400, "{method} answered {status}");
    }
    assert_eq!(upstream.count(), 0, "an odd method reached the provider");
    // The ordinary methods still go through.
    for method in ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] {
        let resp = client.send(method, "/api/v1/tenants/a/proxy/stripe/balance", None, &[]);
        assert_eq!(resp.status, 200, "{method}: {}", resp.text);
    }
    assert_eq!(upstream.count(), 7);
}
