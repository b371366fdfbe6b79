//! The authenticated proxy against a local imitation of a provider API: the tenant's
//! credentials arrive, the caller's never do, and tenants stay apart.

use axum::Router;
use axum::routing::any;
use serde_json::json;

use crate::support::{FakeServer, TestServer, providers_file};

const STRIPE_KEY: &str = "sk_test_PROXY_CANARY_4242";

fn setup() -> (FakeServer, TestServer) {
    let fake = FakeServer::start(Router::new().fallback(any(|| async {
        (
            [
                ("content-type", "application/json"),
                ("set-cookie", "upstream=1"),
                ("etag", "\"v1\""),
            ],
            r#"{"object":"balance"}"#,
        )
    })));
    let toml = format!("[providers.stripe]\napi_base_url = \"{}/stripe\"\n", fake.base);
    let server = TestServer::start_with(|config| {
        config.providers_file = Some(providers_file(&config.data_dir.with_file_name("etc"), &toml));
    });
    (fake, server)
}

#[test]
fn proxy_injects_credentials_and_strips_the_callers() {
    let (fake, server) = setup();
    server.create_tenant("a");
    let token = server.tenant_token("a", &["connections:write", "proxy", "audit:read"]);
    let client = server.with_token(&token);
    let put = client.put(
        "/api/v1/tenants/a/connections/stripe",
        &json!({"credentials": {"secret_key": STRIPE_KEY}}),
    );
    assert_eq!(put.status, 201, "{}", put.text);

    let resp = client.send(
        "POST",
        "/api/v1/tenants/a/proxy/stripe/v1/customers?expand[]=x&limit=3",
        Some(b"email=a%40b.example".to_vec()),
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("cookie", "session=caller-cookie"),
            ("idempotency-key", "idem-1"),
            ("connection", "close, x-secret-hop"),
            ("x-secret-hop", "hop"),
            ("proxy-authorization", "Basic Zm9vOmJhcg=="),
        ],
    );
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert_eq!(resp.json["object"], "balance");
    assert_eq!(resp.header("etag"), Some("\"v1\""));
    assert!(resp.header("set-cookie").is_none(), "upstream cookies are not relayed");

    let recorded = fake.recorded();
    assert_eq!(recorded.len(), 1);
    let got = &recorded[0];
    assert_eq!(got.method, "POST");
    assert_eq!(got.path, "/stripe/v1/customers");
    assert_eq!(got.query.as_deref(), Some("expand[]=x&limit=3"));
    assert_eq!(&got.body[..], b"email=a%40b.example");
    assert_eq!(got.header("authorization").unwrap(), format!("Bearer {STRIPE_KEY}"));
    assert_eq!(got.header("idempotency-key").unwrap(), "idem-1");
    assert_eq!(got.header("content-type").unwrap(), "application/x-www-form-urlencoded");
    for dropped in ["cookie", "x-secret-hop", "proxy-authorization"] {
        assert!(got.header(dropped).is_none(), "{dropped} was forwarded");
    }
    let all_headers = format!("{:?}", got.headers);
    assert!(
        !all_headers.contains(&token),
        "the caller's tessera token reached the provider"
    );
    assert!(!resp.text.contains(STRIPE_KEY));

    // Climbing out of the API base is refused.
    let resp = client.get("/api/v1/tenants/a/proxy/stripe/v1/../../admin");
    assert!(resp.status == 400 || resp.status == 404, "{}", resp.text);
    let resp = client.get("/api/v1/tenants/a/proxy/stripe/v1/%2e%2e/admin");
    assert_eq!(resp.status, 400, "{}", resp.text);
    assert_eq!(fake.count(), 1);

    let audit = client.get("/api/v1/tenants/a/audit");
    assert!(audit.text.contains("proxy.request"));
    assert!(!audit.text.contains(STRIPE_KEY));
}

#[test]
fn proxy_keeps_tenants_apart_and_needs_the_scope() {
    let (fake, server) = setup();
    server.create_tenant("a");
    server.create_tenant("b");
    let a = server.with_token(&server.tenant_token("a", &["connections:write", "proxy"]));
    a.put(
        "/api/v1/tenants/a/connections/stripe",
        &json!({"credentials": {"secret_key": STRIPE_KEY}}),
    );
    let b = server.with_token(&server.tenant_token("b", &["proxy"]));

    let resp = b.get("/api/v1/tenants/a/proxy/stripe/v1/balance");
    assert_eq!(resp.status, 403);
    assert_eq!(resp.code(), "tenant_mismatch");
    let resp = b.get("/api/v1/tenants/b/proxy/stripe/v1/balance");
    assert_eq!(resp.status, 404, "b has no stripe connection: {}", resp.text);
    let no_scope = server.with_token(&server.tenant_token("a", &["connections:read"]));
    assert_eq!(no_scope.get("/api/v1/tenants/a/proxy/stripe/v1/balance").status, 403);
    assert_eq!(
        server
            .anonymous()
            .get("/api/v1/tenants/a/proxy/stripe/v1/balance")
            .status,
        401
    );
    assert_eq!(a.get("/api/v1/tenants/a/proxy/nosuch/v1/balance").status, 404);
    assert_eq!(fake.count(), 0, "nothing reached the provider");

    // The platform operator may proxy for a tenant; it is the tenant's key that is sent.
    let resp = server.admin().get("/api/v1/tenants/a/proxy/stripe/v1/balance");
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert_eq!(
        fake.recorded()[0].header("authorization").unwrap(),
        format!("Bearer {STRIPE_KEY}")
    );

    // Oversized bodies are refused before anything is sent.
    let big = vec![b'x'; 2 * 1024 * 1024];
    let resp = a.send(
        "POST",
        "/api/v1/tenants/a/proxy/stripe/v1/files",
        Some(big),
        &[("content-type", "application/octet-stream")],
    );
    assert_eq!(resp.status, 413, "{}", resp.text);
    assert_eq!(fake.count(), 1);
}
