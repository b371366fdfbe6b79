//! Webhook endpoint management: validation, secrets, scopes, audit, hygiene.

use base64::Engine;
use serde_json::json;

use crate::support::TestServer;

const BASE: &str = "/api/v1/tenants/alpha/webhook-endpoints";

#[test]
fn create_list_get_patch_delete() {
    let server = TestServer::start();
    server.create_tenant("alpha");
    let admin = server.admin();
    let created = admin.post(
        BASE,
        &json!({"url": "http://127.0.0.1:9/hook", "events": ["connection.created", "ping"], "description": "CRM sync"}),
    );
    assert_eq!(created.status, 201, "{}", created.text);
    let secret = created.json["secret"].as_str().unwrap();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").expect("whsec_ prefix"))
        .unwrap();
    assert!((24..=64).contains(&raw.len()));
    assert_eq!(created.json["retry_policy"], "exponential");
    assert_eq!(created.json["active"], true);
    assert_eq!(created.json["description"], "CRM sync");
    let id = created.json["id"].as_str().unwrap();

    let got = admin.get(&format!("{BASE}/{id}"));
    assert_eq!(got.status, 200);
    assert!(got.json.get("secret").is_none(), "GET never shows the secret");
    assert!(!got.text.contains(secret));
    let listed = admin.get(BASE);
    assert_eq!(listed.json["items"].as_array().unwrap().len(), 1);
    assert!(!listed.text.contains(secret));

    let patched = admin.patch(
        &format!("{BASE}/{id}"),
        &json!({"events": ["*"], "retry_policy": "linear", "url": "http://0x7f000001:9/other"}),
    );
    assert_eq!(patched.status, 200, "{}", patched.text);
    assert_eq!(patched.json["events"], json!(["*"]));
    assert_eq!(patched.json["retry_policy"], "linear");
    assert_eq!(patched.json["url"], "http://127.0.0.1:9/other", "stored normalised");
    assert!(patched.json.get("secret").is_none());

    let paused = admin.patch(&format!("{BASE}/{id}"), &json!({"active": false}));
    assert_eq!(
        (paused.json["active"].as_bool(), paused.json["disabled_reason"].as_str()),
        (Some(false), Some("manual"))
    );

    let audit = admin.get("/api/v1/tenants/alpha/audit");
    for action in ["webhook_endpoint.created", "webhook_endpoint.updated"] {
        assert!(audit.text.contains(action), "{action}");
    }
    let revealed = admin.get(&format!("{BASE}/{id}/secret"));
    assert_eq!(revealed.json["secret"], secret);
    assert!(
        admin
            .get("/api/v1/tenants/alpha/audit")
            .text
            .contains("webhook_endpoint.secret_revealed")
    );
    assert!(!admin.get("/api/v1/tenants/alpha/audit").text.contains(secret));

    assert_eq!(admin.delete(&format!("{BASE}/{id}")).status, 204);
    assert_eq!(admin.get(&format!("{BASE}/{id}")).status, 404);
    assert_eq!(admin.delete(&format!("{BASE}/{id}")).status, 404);
}

#[test]
fn bad_input_is_named_and_nothing_is_stored() {
    let server = TestServer::start();
    server.create_tenant("alpha");
    let admin = server.admin();
    let cases = [
        (json!({"url": "http://127.0.0.1:9/", "events": []}), "events"),
        (
            json!({"url": "http://127.0.0.1:9/", "events": ["nope.event"]}),
            "events",
        ),
        (json!({"url": "http://127.0.0.1:9/", "events": ["*", "ping"]}), "events"),
        (json!({"url": "ftp://127.0.0.1/", "events": ["*"]}), "url"),
        (json!({"url": "not a url", "events": ["*"]}), "url"),
        (json!({"url": "http://u:p@127.0.0.1/", "events": ["*"]}), "url"),
        (
            json!({"url": "http://127.0.0.1:9/", "events": ["*"], "secret": "plain"}),
            "secret",
        ),
        (
            json!({"url": "http://127.0.0.1:9/", "events": ["*"], "secret": "whsec_c2hvcnQ="}),
            "secret",
        ),
        (
            json!({"url": "http://127.0.0.1:9/", "events": ["*"], "retry_policy": "forever"}),
            "retry_policy",
        ),
        (
            json!({"url": "http://127.0.0.1:9/", "events": ["*"], "description": "x".repeat(501)}),
            "description",
        ),
    ];
    for (body, field) in cases {
        let r = admin.post(BASE, &body);
        assert_eq!(r.status, 400, "{body}: {}", r.text);
        assert_eq!(r.json["errors"][0]["field"], field, "{body}: {}", r.text);
        if let Some(secret) = body.get("secret") {
            assert!(!r.text.contains(secret.as_str().unwrap()), "the secret is not echoed");
        }
    }
    let unknown = admin.post(
        BASE,
        &json!({"url": "http://127.0.0.1:9/", "events": ["*"], "colour": "red"}),
    );
    assert_eq!(unknown.status, 400);
    assert!(unknown.text.contains("colour"), "{}", unknown.text);
    let malformed = admin.send(
        "POST",
        BASE,
        Some(b"{\"url\":".to_vec()),
        &[("content-type", "application/json")],
    );
    assert_eq!(malformed.status, 400);
    assert_eq!(admin.get(BASE).json["items"].as_array().unwrap().len(), 0);
    let stats = admin.get(&format!("{BASE}/stats?hours=0"));
    assert_eq!(stats.status, 400);
    let status = admin.get(&format!(
        "{BASE}/00000000-0000-0000-0000-000000000000/deliveries?status=weird"
    ));
    assert_eq!(status.status, 400);
}

#[test]
fn scopes_gate_reading_writing_and_revealing() {
    let server = TestServer::start();
    server.create_tenant("alpha");
    let admin = server.admin();
    let created = admin.post(BASE, &json!({"url": "http://127.0.0.1:9/", "events": ["*"]}));
    let id = created.json["id"].as_str().unwrap();
    let reader = server.with_token(&server.tenant_token("alpha", &["webhooks:read"]));
    assert_eq!(reader.get(BASE).status, 200);
    assert_eq!(reader.get(&format!("{BASE}/{id}/deliveries")).status, 200);
    assert_eq!(reader.get(&format!("{BASE}/stats")).status, 200);
    for (method, path) in [
        ("POST", BASE.to_owned()),
        ("PATCH", format!("{BASE}/{id}")),
        ("DELETE", format!("{BASE}/{id}")),
        ("GET", format!("{BASE}/{id}/secret")),
        ("POST", format!("{BASE}/{id}/test")),
    ] {
        let r = reader.send(
            method,
            &path,
            Some(b"{}".to_vec()),
            &[("content-type", "application/json")],
        );
        assert_eq!(r.status, 403, "{method} {path}");
    }
    let none = server.with_token(&server.tenant_token("alpha", &["connections:read"]));
    assert_eq!(none.get(BASE).status, 403);
    assert_eq!(server.anonymous().get(BASE).status, 401);
}

#[test]
fn secrets_are_sealed_in_the_database_file() {
    let server = TestServer::start();
    server.create_tenant("alpha");
    let admin = server.admin();
    let supplied = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    let created = admin.post(
        BASE,
        &json!({"url": "http://127.0.0.1:9/", "events": ["*"], "secret": supplied}),
    );
    assert_eq!(created.status, 201);
    let id = created.json["id"].as_str().unwrap();
    let rotated = admin.patch(&format!("{BASE}/{id}"), &json!({"rotate_secret": true}));
    let new = rotated.json["secret"].as_str().unwrap().to_owned();
    let mut bytes = Vec::new();
    for suffix in ["", "-wal"] {
        if let Ok(b) = std::fs::read(server.data_dir().join(format!("tessera.db{suffix}"))) {
            bytes.extend(b);
        }
    }
    let haystack = String::from_utf8_lossy(&bytes);
    for secret in [supplied, new.as_str(), "C2FVsBQIhrscChlQIMV"] {
        assert!(!haystack.contains(secret), "plaintext secret in the database file");
    }
}
