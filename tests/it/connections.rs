use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde_json::json;

use crate::support::{FakeServer, TestServer, providers_file};

const GOOD_KEY: &str = "sk_test_good_0123456789abcd";

/// A Stripe-like verify endpoint: 200 for the good key, 401 otherwise.
fn fake_stripe() -> FakeServer {
    FakeServer::start(Router::new().route(
        "/v1/balance",
        get(|headers: HeaderMap| async move {
            let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
            if auth == format!("Bearer {GOOD_KEY}") {
                (StatusCode::OK, r#"{"object":"balance"}"#)
            } else {
                (
                    StatusCode::UNAUTHORIZED,
                    r#"{"error":{"message":"Invalid API Key provided"}}"#,
                )
            }
        }),
    ))
}

fn server_with_providers(toml: &str) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let path = providers_file(dir.path(), toml);
    let server = TestServer::start_with(|c| c.providers_file = Some(path));
    std::mem::forget(dir);
    server
}

#[test]
fn connection_lifecycle_with_masking_and_verify() {
    let fake = fake_stripe();
    let server = server_with_providers(&format!("[providers.stripe]\napi_base_url = \"{}\"\n", fake.base));
    server.create_tenant("acme");
    let admin = server.admin();
    let path = "/api/v1/tenants/acme/connections/stripe";

    let created = admin.put(
        path,
        &json!({"credentials": {"secret_key": format!("  {GOOD_KEY}\n"), "publishable_key": "pk_test_visible_123"}}),
    );
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.json["provider"], "stripe");
    assert_eq!(created.json["auth_mode"], "api_key");
    assert_eq!(created.json["status"], "pending");
    assert_eq!(created.json["credentials"]["secret_key"], "****abcd");
    assert_eq!(created.json["credentials"]["publishable_key"], "pk_test_visible_123");
    assert!(!created.text.contains(GOOD_KEY));

    let verified = admin.post(&format!("{path}/verify"), &json!({}));
    assert_eq!(verified.status, 200, "{}", verified.text);
    assert_eq!(verified.json["ok"], true);
    assert_eq!(verified.json["result"], "ok");
    assert!(verified.json["checked_at"].is_string());
    let seen = fake.recorded();
    assert_eq!(
        seen.last().unwrap().header("authorization").unwrap(),
        format!("Bearer {GOOD_KEY}"),
        "secret trimmed on save"
    );

    let got = admin.get(path);
    assert_eq!(got.json["status"], "active");
    assert!(got.json["last_verified_at"].is_string());
    assert_eq!(got.json["last_error"], serde_json::Value::Null);

    // Replace with a bad key: 200, then verify says invalid.
    let replaced = admin.put(path, &json!({"credentials": {"secret_key": "sk_test_wrong_key_00000"}}));
    assert_eq!(replaced.status, 200);
    let bad = admin.post(&format!("{path}/verify"), &json!({}));
    assert_eq!(bad.json["ok"], false);
    assert_eq!(bad.json["result"], "invalid_credentials");
    assert_eq!(admin.get(path).json["status"], "invalid");
    // The provider's answer body is never copied into our errors.
    assert!(!admin.get(path).text.contains("Invalid API Key"));

    // An omitted secret keeps its stored value; the publishable key was cleared by the replace.
    let kept = admin.put(path, &json!({"credentials": {"publishable_key": "pk_new_value_1234"}}));
    assert_eq!(kept.status, 200, "{}", kept.text);
    assert_eq!(kept.json["credentials"]["secret_key"], "****0000");

    let list = admin.get("/api/v1/tenants/acme/connections");
    assert_eq!(list.json["items"].as_array().unwrap().len(), 1);

    assert_eq!(admin.delete(path).status, 204);
    assert_eq!(admin.get(path).status, 404);
    assert_eq!(admin.delete(path).status, 404);
}

#[test]
fn verify_reports_unreachable_and_not_supported() {
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let server = server_with_providers(&format!("[providers.stripe]\napi_base_url = \"http://{closed}\"\n"));
    server.create_tenant("acme");
    let admin = server.admin();
    admin.put(
        "/api/v1/tenants/acme/connections/stripe",
        &json!({"credentials": {"secret_key": GOOD_KEY}}),
    );
    let resp = admin.post("/api/v1/tenants/acme/connections/stripe/verify", &json!({}));
    assert_eq!(resp.json["result"], "unreachable", "{}", resp.text);
    let conn = admin.get("/api/v1/tenants/acme/connections/stripe");
    assert_eq!(conn.json["status"], "pending", "unreachable leaves the status alone");
    assert!(conn.json["last_error"].as_str().unwrap().contains("connection"));

    admin.put(
        "/api/v1/tenants/acme/connections/poshvip",
        &json!({"credentials": {"webhook_secret": "posh_secret_123456"}}),
    );
    let posh = admin.post("/api/v1/tenants/acme/connections/poshvip/verify", &json!({}));
    assert_eq!(posh.json["result"], "not_supported");
    assert_eq!(
        admin.get("/api/v1/tenants/acme/connections/poshvip").json["status"],
        "active"
    );
}

#[test]
fn credentials_reach_each_provider_the_catalog_way() {
    let fake = FakeServer::start(
        Router::new()
            .route("/video/v1/assets", get(|| async { "{}" }))
            .route("/v1/models", get(|| async { "{}" }))
            .route("/v3/account", get(|| async { "{}" }))
            .route("/api/v2/organizations/me", get(|| async { "{}" }))
            .route("/auth.test", post(|| async { "{}" })),
    );
    let server = server_with_providers(&format!(
        "[providers.mux]\napi_base_url = \"{0}\"\n[providers.anthropic]\napi_base_url = \"{0}\"\n[providers.brevo]\napi_base_url = \"{0}\"\n",
        fake.base
    ));
    server.create_tenant("acme");
    let admin = server.admin();
    let base = "/api/v1/tenants/acme/connections";
    admin.put(
        &format!("{base}/mux"),
        &json!({"credentials": {"token_id": "tok-id", "token_secret": "tok-secret"}}),
    );
    assert_eq!(admin.post(&format!("{base}/mux/verify"), &json!({})).json["ok"], true);
    let mux = fake.recorded().pop().unwrap();
    assert_eq!(mux.path, "/video/v1/assets");
    assert_eq!(mux.query.as_deref(), Some("limit=1"));
    assert_eq!(mux.header("authorization").unwrap(), "Basic dG9rLWlkOnRvay1zZWNyZXQ=");

    admin.put(
        &format!("{base}/anthropic"),
        &json!({"credentials": {"api_key": "sk-ant-123"}}),
    );
    assert_eq!(
        admin.post(&format!("{base}/anthropic/verify"), &json!({})).json["ok"],
        true
    );
    let anthropic = fake.recorded().pop().unwrap();
    assert_eq!(anthropic.header("x-api-key").unwrap(), "sk-ant-123");
    assert_eq!(anthropic.header("anthropic-version").unwrap(), "2023-06-01");
    assert!(anthropic.header("authorization").is_none());

    admin.put(
        &format!("{base}/brevo"),
        &json!({"credentials": {"api_key": "xkeysib-1"}, "config": {"list_id": 7}}),
    );
    assert_eq!(admin.post(&format!("{base}/brevo/verify"), &json!({})).json["ok"], true);
    assert_eq!(fake.recorded().pop().unwrap().header("api-key").unwrap(), "xkeysib-1");
    assert_eq!(admin.get(&format!("{base}/brevo")).json["config"]["list_id"], 7);
}

#[test]
fn bad_connection_input_names_the_problem() {
    let server = TestServer::start();
    server.create_tenant("acme");
    let admin = server.admin();
    let base = "/api/v1/tenants/acme/connections";
    let cases = [
        ("stripe", json!({"credentials": {}}), "credentials.secret_key"),
        (
            "stripe",
            json!({"credentials": {"secret_key": "sk", "colour": "x"}}),
            "credentials.colour",
        ),
        (
            "stripe",
            json!({"credentials": {"secret_key": 42}}),
            "credentials.secret_key",
        ),
        (
            "stripe",
            json!({"credentials": {"secret_key": "****abcd"}}),
            "credentials.secret_key",
        ),
        ("stripe", json!({"auth_mode": "oauth2", "credentials": {}}), "auth_mode"),
        ("stripe", json!({"secret_key": "sk"}), "secret_key"),
        (
            "genesys",
            json!({"credentials": {"client_id": "a", "client_secret": "b"}}),
            "config.region",
        ),
        (
            "genesys",
            json!({"credentials": {"client_id": "a", "client_secret": "b"}, "config": {"region": "evil.com/steal?"}}),
            "config.region",
        ),
        (
            "easyappointments",
            json!({"credentials": {"api_key": "k"}, "config": {"base_url": "ftp://x"}}),
            "config.base_url",
        ),
        (
            "poshvip",
            json!({"credentials": {"webhook_secret": "s"}, "config": {"invalid_signature": "maybe"}}),
            "config.invalid_signature",
        ),
    ];
    for (provider, body, field) in cases {
        let resp = admin.put(&format!("{base}/{provider}"), &body);
        assert_eq!(resp.status, 400, "{provider} {body}: {}", resp.text);
        let fields: Vec<&str> = resp.json["errors"]
            .as_array()
            .map(|e| e.iter().map(|x| x["field"].as_str().unwrap()).collect())
            .unwrap_or_default();
        assert!(
            fields.contains(&field),
            "{provider} {body}: expected {field} in {}",
            resp.text
        );
    }
    // Without credentials a new connection names the required one missing (a stored
    // connection would keep its own).
    let missing_credentials = admin.put(&format!("{base}/stripe"), &json!({"config": {}}));
    assert_eq!(missing_credentials.status, 400);
    assert_eq!(missing_credentials.json["errors"][0]["field"], "credentials.secret_key");
    let unknown = admin.put(&format!("{base}/nosuch"), &json!({"credentials": {}}));
    assert_eq!(unknown.status, 404);
    assert_eq!(admin.get(&format!("{base}/stripe")).status, 404, "nothing was stored");

    let genesys = admin.put(
        &format!("{base}/genesys"),
        &json!({"credentials": {"client_id": "cid", "client_secret": "csecret_1234567"}, "config": {"region": "aps1.pure.cloud"}}),
    );
    assert_eq!(genesys.status, 201, "{}", genesys.text);
    assert_eq!(genesys.json["auth_mode"], "client_credentials");
    assert_eq!(genesys.json["credentials"]["client_id"], "cid");
    assert_eq!(genesys.json["credentials"]["client_secret"], "****4567");
    let eventbrite = admin.put(
        &format!("{base}/eventbrite"),
        &json!({"auth_mode": "private_token", "credentials": {"private_token": "PRIVATE123456789"}}),
    );
    assert_eq!(eventbrite.status, 201, "{}", eventbrite.text);
    let wrong_mode_field = admin.put(
        &format!("{base}/eventbrite"),
        &json!({"auth_mode": "oauth2", "credentials": {"private_token": "x"}}),
    );
    assert_eq!(wrong_mode_field.status, 400);
}

#[test]
fn reveal_is_scoped_and_audited_without_the_secret() {
    let server = TestServer::start();
    server.create_tenant("acme");
    let admin = server.admin();
    let secret = "sk_live_reveal_canary_98765";
    admin.put(
        "/api/v1/tenants/acme/connections/stripe",
        &json!({"credentials": {"secret_key": secret}}),
    );
    let reader = server.tenant_token("acme", &["connections:read"]);
    let denied = server
        .with_token(&reader)
        .get("/api/v1/tenants/acme/connections/stripe/credentials");
    assert_eq!(denied.status, 403);
    let revealer = server.tenant_token("acme", &["credentials:reveal", "audit:read"]);
    let shown = server
        .with_token(&revealer)
        .get("/api/v1/tenants/acme/connections/stripe/credentials");
    assert_eq!(shown.status, 200);
    assert_eq!(shown.json["credentials"]["secret_key"], secret);

    let audit = server.with_token(&revealer).get("/api/v1/tenants/acme/audit?limit=50");
    assert_eq!(audit.status, 200);
    let actions: Vec<&str> = audit.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"credentials.revealed"), "{actions:?}");
    assert!(actions.contains(&"connection.created"));
    assert!(actions.contains(&"token.created"));
    let entry = &audit.json["items"][0];
    for key in ["at", "actor", "action", "target", "ip", "request_id"] {
        assert!(entry.get(key).is_some(), "audit entry lacks {key}");
    }
    assert_eq!(entry["ip"], "127.0.0.1");
    assert!(!audit.text.contains(secret));
    let page = server
        .with_token(&revealer)
        .get("/api/v1/tenants/acme/audit?limit=1&action=credentials.revealed");
    assert_eq!(page.status, 200, "{}", page.text);
    assert_eq!(page.json["items"].as_array().unwrap().len(), 1);
    assert_eq!(page.json["items"][0]["action"], "credentials.revealed");
}

#[test]
fn a_put_with_only_config_keeps_the_credentials() {
    let server = TestServer::start();
    server.create_tenant("t1");
    let admin = server.admin();
    let path = "/api/v1/tenants/t1/connections/brevo";
    let first = admin.put(path, &json!({"credentials": {"api_key": "xkeysib-kept-0001"}}));
    assert_eq!(first.status, 201, "{}", first.text);
    let second = admin.put(path, &json!({"config": {"list_id": 9}}));
    assert_eq!(second.status, 200, "{}", second.text);
    assert_eq!(second.json["config"]["list_id"], 9);
    assert_eq!(
        second.json["credentials"]["api_key"],
        first.json["credentials"]["api_key"]
    );
    let revealed = admin.get(&format!("{path}/credentials"));
    assert_eq!(
        revealed.json["credentials"]["api_key"], "xkeysib-kept-0001",
        "{}",
        revealed.text
    );
}
