use serde_json::json;

use crate::support::TestServer;

#[test]
fn health_and_readiness() {
    let server = TestServer::start();
    let client = server.anonymous();
    let health = client.get("/healthz");
    assert_eq!(health.status, 200);
    assert_eq!(health.json, json!({"status": "ok"}));
    assert_eq!(client.get("/readyz").status, 200);
}

#[test]
fn requests_without_a_valid_token_are_401_problems() {
    let server = TestServer::start();
    let resp = server.anonymous().get("/api/v1/tenants");
    assert_eq!(resp.status, 401);
    assert_eq!(resp.header("content-type"), Some("application/problem+json"));
    assert_eq!(resp.code(), "unauthorized");
    assert_eq!(resp.json["status"], 401);
    let resp = server.with_token("tsr_not-a-real-token").get("/api/v1/tenants");
    assert_eq!(resp.status, 401);
    let resp = server
        .anonymous()
        .send("GET", "/api/v1/tenants", None, &[("authorization", "Basic abc")]);
    assert_eq!(resp.status, 401);
}

#[test]
fn tenants_are_created_found_by_id_or_slug_and_slugs_are_unique() {
    let server = TestServer::start();
    let admin = server.admin();
    let resp = admin.post("/api/v1/tenants", &json!({"name": "Acme Brand", "tier": "pro"}));
    assert_eq!(resp.status, 201, "{}", resp.text);
    let id = resp.json["id"].as_str().unwrap().to_owned();
    assert_eq!(resp.json["slug"], "acme-brand");
    assert_eq!(resp.json["tier"], "pro");
    assert!(resp.json["created_at"].as_str().unwrap().ends_with('Z'));

    assert_eq!(admin.get(&format!("/api/v1/tenants/{id}")).json["slug"], "acme-brand");
    assert_eq!(admin.get("/api/v1/tenants/acme-brand").json["id"], id.as_str());
    assert_eq!(admin.get("/api/v1/tenants/nope").status, 404);

    let dup = admin.post("/api/v1/tenants", &json!({"name": "Other", "slug": "acme-brand"}));
    assert_eq!(dup.status, 409);
    assert_eq!(dup.code(), "conflict");

    let patched = admin.patch(
        "/api/v1/tenants/acme-brand",
        &json!({"name": "Acme 2", "tier": "enterprise"}),
    );
    assert_eq!(patched.status, 200, "{}", patched.text);
    assert_eq!(patched.json["tier"], "enterprise");

    let list = admin.get("/api/v1/tenants?limit=1");
    assert_eq!(list.json["items"].as_array().unwrap().len(), 1);
}

#[test]
fn bad_tenant_input_is_a_clear_400() {
    let server = TestServer::start();
    let admin = server.admin();
    let cases = [
        (json!({}), "name"),
        (json!({"name": "A", "colour": "red"}), "colour"),
        (json!({"name": "A", "tier": "gold"}), "tier"),
        (json!({"name": "A", "slug": "Not Valid"}), "slug"),
        (json!({"name": ""}), "name"),
    ];
    for (body, field) in cases {
        let resp = admin.post("/api/v1/tenants", &body);
        assert_eq!(resp.status, 400, "{body}: {}", resp.text);
        assert_eq!(resp.code(), "invalid_input");
        assert_eq!(resp.json["errors"][0]["field"], field, "{}", resp.text);
    }
    let malformed = admin.send(
        "POST",
        "/api/v1/tenants",
        Some(b"{\"name\": ".to_vec()),
        &[("content-type", "application/json")],
    );
    assert_eq!(malformed.status, 400);
    assert!(
        malformed.json["detail"].as_str().unwrap().contains("malformed JSON"),
        "{}",
        malformed.text
    );
    let no_type = admin.send("POST", "/api/v1/tenants", Some(b"{}".to_vec()), &[]);
    assert_eq!(no_type.status, 400);
}

#[test]
fn unknown_routes_and_methods_are_problems() {
    let server = TestServer::start();
    let resp = server.admin().get("/api/v1/nothing-here");
    assert_eq!(resp.status, 404);
    assert_eq!(resp.code(), "not_found");
    let resp = server.admin().send("PUT", "/api/v1/tenants", None, &[]);
    assert_eq!(resp.status, 405);
}

#[test]
fn token_lifecycle_scopes_revocation_and_expiry() {
    // The server's clock is the test's: expiry is tested by moving it, not by sleeping.
    let clock = tessera::time::Clock::manual(tessera::time::now());
    let server = TestServer::start_with_clock(clock.clone());
    server.create_tenant("acme");
    let admin = server.admin();
    let created = admin.post(
        "/api/v1/tenants/acme/tokens",
        &json!({"name": "reader", "scopes": ["connections:read"]}),
    );
    assert_eq!(created.status, 201, "{}", created.text);
    let token = created.json["token"].as_str().unwrap().to_owned();
    let token_id = created.json["id"].as_str().unwrap().to_owned();
    assert!(token.starts_with("tsr_"));

    // Shown once: listing never carries it.
    let list = admin.get("/api/v1/tenants/acme/tokens");
    assert!(!list.text.contains(&token));
    assert_eq!(list.json["items"][0]["scopes"], json!(["connections:read"]));

    let reader = server.with_token(&token);
    assert_eq!(reader.get("/api/v1/tenants/acme/connections").status, 200);
    let denied = reader.put(
        "/api/v1/tenants/acme/connections/stripe",
        &json!({"credentials": {"secret_key": "sk_test_x"}}),
    );
    assert_eq!(denied.status, 403);
    assert_eq!(denied.code(), "forbidden");
    assert!(denied.json["detail"].as_str().unwrap().contains("connections:write"));

    // Deactivate, reactivate, revoke: each effective on the next request.
    assert_eq!(
        admin
            .patch(
                &format!("/api/v1/tenants/acme/tokens/{token_id}"),
                &json!({"active": false})
            )
            .status,
        200
    );
    assert_eq!(reader.get("/api/v1/tenants/acme/connections").status, 401);
    assert_eq!(
        admin
            .patch(
                &format!("/api/v1/tenants/acme/tokens/{token_id}"),
                &json!({"active": true})
            )
            .status,
        200
    );
    assert_eq!(reader.get("/api/v1/tenants/acme/connections").status, 200);
    assert_eq!(
        admin.delete(&format!("/api/v1/tenants/acme/tokens/{token_id}")).status,
        204
    );
    let revoked = reader.get("/api/v1/tenants/acme/connections");
    assert_eq!(revoked.status, 401);
    assert!(revoked.json["detail"].as_str().unwrap().contains("revoked"));

    // Expiry: a token whose time has passed is refused.
    let past = admin.post(
        "/api/v1/tenants/acme/tokens",
        &json!({"name": "old", "scopes": ["admin"], "expires_at": "2020-01-01T00:00:00Z"}),
    );
    assert_eq!(past.status, 400);
    assert_eq!(past.json["errors"][0]["field"], "expires_at");
    // A token that expires in two seconds works, then (cached or not) stops working.
    let expires_at = tessera::time::format_rfc3339(clock.now() + time::Duration::seconds(2));
    let soon = admin.post(
        "/api/v1/tenants/acme/tokens",
        &json!({"name": "soon", "scopes": ["admin"], "expires_at": expires_at}),
    );
    assert_eq!(soon.status, 201, "{}", soon.text);
    let soon_token = soon.json["token"].as_str().unwrap().to_owned();
    assert_eq!(server.with_token(&soon_token).get("/api/v1/tenants/acme").status, 200);
    clock.advance(std::time::Duration::from_millis(2500));
    let expired = server.with_token(&soon_token).get("/api/v1/tenants/acme");
    assert_eq!(expired.status, 401);
    assert!(expired.json["detail"].as_str().unwrap().contains("expired"));
}

#[test]
fn a_token_cannot_grant_scopes_its_creator_lacks() {
    let server = TestServer::start();
    server.create_tenant("acme");
    let limited = server.tenant_token("acme", &["tokens:write", "connections:read"]);
    let client = server.with_token(&limited);
    let ok = client.post(
        "/api/v1/tenants/acme/tokens",
        &json!({"name": "sub", "scopes": ["connections:read"]}),
    );
    assert_eq!(ok.status, 201, "{}", ok.text);
    for scope in ["connections:write", "admin", "credentials:reveal"] {
        let resp = client.post(
            "/api/v1/tenants/acme/tokens",
            &json!({"name": "sub", "scopes": [scope]}),
        );
        assert_eq!(resp.status, 403, "{scope}");
    }
    let unknown = client.post("/api/v1/tenants/acme/tokens", &json!({"name": "x", "scopes": ["root"]}));
    assert_eq!(unknown.status, 400);
    // A tenant token may not create tenants or act as the platform.
    let admin_token = server.tenant_token("acme", &["admin"]);
    let resp = server
        .with_token(&admin_token)
        .post("/api/v1/tenants", &json!({"name": "Other"}));
    assert_eq!(resp.status, 403);
}

#[test]
fn scopes_and_providers_are_listed() {
    let server = TestServer::start();
    let scopes = server.admin().get("/api/v1/scopes");
    let names: Vec<&str> = scopes.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["scope"].as_str().unwrap())
        .collect();
    for s in ["admin", "connections:read", "credentials:reveal", "proxy", "audit:read"] {
        assert!(names.contains(&s), "{s}");
    }
    let providers = server.admin().get("/api/v1/providers");
    assert!(providers.json["items"].as_array().unwrap().len() >= 17);
    let posh = server.admin().get("/api/v1/providers/poshvip");
    assert_eq!(posh.json["webhook"]["signature"]["header"], "X-Posh-Signature");
    assert_eq!(posh.json["verify"], false);
    let stripe = server.admin().get("/api/v1/providers/stripe");
    assert_eq!(stripe.json["fields"][0]["name"], "secret_key");
    assert_eq!(stripe.json["fields"][0]["secret"], true);
    assert_eq!(server.admin().get("/api/v1/providers/nope").status, 404);
}

#[test]
fn tenant_deletion_removes_everything_of_it() {
    let server = TestServer::start();
    server.create_tenant("gone");
    let token = server.tenant_token("gone", &["admin"]);
    let put = server.admin().put(
        "/api/v1/tenants/gone/connections/openai",
        &json!({"credentials": {"api_key": "sk-deleted-tenant-canary"}}),
    );
    assert_eq!(put.status, 201);
    assert_eq!(server.with_token(&token).delete("/api/v1/tenants/gone").status, 403);
    assert_eq!(server.admin().delete("/api/v1/tenants/gone").status, 204);
    assert_eq!(server.admin().get("/api/v1/tenants/gone").status, 404);
    assert_eq!(server.with_token(&token).get("/api/v1/tenants/gone").status, 401);
    let db = server.db();
    let keys: i64 = db
        .query_row("SELECT COUNT(*) FROM data_keys WHERE scope <> 'platform'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(keys, 0);
}

#[test]
fn oversized_bodies_are_413() {
    let server = TestServer::start();
    server.create_tenant("acme");
    let big = format!(
        "{{\"credentials\": {{\"secret_key\": \"{}\"}}}}",
        "x".repeat(2 * 1024 * 1024)
    );
    let auth = format!("Bearer {}", server.admin_token);
    let (status, body) = crate::support::raw_request(
        &server.base,
        "PUT",
        "/api/v1/tenants/acme/connections/stripe",
        &[("content-type", "application/json"), ("authorization", &auth)],
        big.into_bytes(),
    );
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("payload_too_large"), "{body}");
    assert_eq!(
        server.admin().get("/api/v1/tenants/acme/connections/stripe").status,
        404,
        "nothing stored"
    );
}

#[test]
fn last_used_at_is_kept_in_memory_and_written_in_batches() {
    let server = TestServer::start_with(|config| {
        // No periodic flush during the test: only listing tokens flushes.
        config.usage_flush_interval = std::time::Duration::from_secs(3600);
    });
    server.create_tenant("t1");
    let used = server.tenant_token("t1", &["connections:read"]);
    let _unused = server.tenant_token("t1", &["connections:read"]);
    let client = server.with_token(&used);
    for _ in 0..5 {
        assert_eq!(client.get("/api/v1/tenants/t1/connections").status, 200);
    }
    let db = server.db();
    let written: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM api_tokens WHERE last_used_at IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(written, 0, "requests do not write last_used_at one by one");

    let list = server.admin().get("/api/v1/tenants/t1/tokens");
    assert_eq!(list.status, 200, "{}", list.text);
    let tokens = list.json["items"].as_array().unwrap();
    let used_row = tokens
        .iter()
        .find(|t| !t["last_used_at"].is_null())
        .expect("the used token");
    let at = tessera::time::parse_rfc3339(used_row["last_used_at"].as_str().unwrap()).unwrap();
    assert!((time::OffsetDateTime::now_utc() - at).whole_seconds().abs() < 60);
    assert_eq!(
        tokens.iter().filter(|t| t["last_used_at"].is_null()).count(),
        1,
        "the unused token was never used: {}",
        list.text
    );
}
