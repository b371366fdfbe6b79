//! The tenant-isolation matrix: one row per route, tried with another tenant's token.

use serde_json::json;

use crate::support::TestServer;

/// Every tenant route, with a body where it needs one.
fn tenant_routes(tenant: &str) -> Vec<(&'static str, String, Option<serde_json::Value>)> {
    let t = tenant;
    vec![
        ("GET", format!("/api/v1/tenants/{t}"), None),
        ("PATCH", format!("/api/v1/tenants/{t}"), Some(json!({"name": "x"}))),
        ("GET", format!("/api/v1/tenants/{t}/tokens"), None),
        (
            "POST",
            format!("/api/v1/tenants/{t}/tokens"),
            Some(json!({"name": "x", "scopes": ["admin"]})),
        ),
        ("GET", format!("/api/v1/tenants/{t}/connections"), None),
        (
            "PUT",
            format!("/api/v1/tenants/{t}/connections/openai"),
            Some(json!({"credentials": {"api_key": "x"}})),
        ),
        ("GET", format!("/api/v1/tenants/{t}/connections/openai"), None),
        (
            "POST",
            format!("/api/v1/tenants/{t}/connections/openai/verify"),
            Some(json!({})),
        ),
        (
            "GET",
            format!("/api/v1/tenants/{t}/connections/openai/credentials"),
            None,
        ),
        ("DELETE", format!("/api/v1/tenants/{t}/connections/openai"), None),
        ("GET", format!("/api/v1/tenants/{t}/audit"), None),
        ("GET", format!("/api/v1/tenants/{t}/notifications"), None),
        ("POST", format!("/api/v1/tenants/{t}/jobs/x/retry"), Some(json!({}))),
    ]
}

#[test]
fn another_tenants_token_gets_403_tenant_mismatch_everywhere() {
    let server = TestServer::start();
    let a = server.create_tenant("alpha");
    server.create_tenant("beta");
    server.admin().put(
        "/api/v1/tenants/beta/connections/openai",
        &json!({"credentials": {"api_key": "sk-beta-secret-000"}}),
    );
    let alpha_admin = server.with_token(&server.tenant_token("alpha", &["admin"]));
    for reference in ["beta", "no-such-tenant"] {
        for (method, path, body) in tenant_routes(reference) {
            let resp = alpha_admin.send(
                method,
                &path,
                body.map(|b| b.to_string().into_bytes()),
                &[("content-type", "application/json")],
            );
            assert_eq!(resp.status, 403, "{method} {path}: {}", resp.text);
            assert_eq!(resp.code(), "tenant_mismatch", "{method} {path}");
            assert!(!resp.text.contains("sk-beta"), "{method} {path}");
        }
    }
    // The same routes through alpha's own path work (by id and by slug).
    for reference in [a.as_str(), "alpha"] {
        let resp = alpha_admin.get(&format!("/api/v1/tenants/{reference}/connections"));
        assert_eq!(resp.status, 200);
    }
    // Beta's data is untouched.
    let beta = server.admin().get("/api/v1/tenants/beta/connections/openai");
    assert_eq!(beta.status, 200);
    let listed = alpha_admin.get("/api/v1/tenants");
    let slugs: Vec<&str> = listed.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["alpha"]);
}

#[test]
fn platform_token_on_unknown_tenant_is_404() {
    let server = TestServer::start();
    for (method, path, body) in tenant_routes("no-such-tenant") {
        let resp = server.admin().send(
            method,
            &path,
            body.map(|b| b.to_string().into_bytes()),
            &[("content-type", "application/json")],
        );
        assert_eq!(resp.status, 404, "{method} {path}: {}", resp.text);
    }
}

#[test]
fn another_tenants_resource_id_through_your_own_path_is_404() {
    let server = TestServer::start();
    server.create_tenant("alpha");
    server.create_tenant("beta");
    let beta_token = server.admin().post(
        "/api/v1/tenants/beta/tokens",
        &json!({"name": "b", "scopes": ["admin"]}),
    );
    let beta_token_id = beta_token.json["id"].as_str().unwrap().to_owned();
    let alpha_admin = server.with_token(&server.tenant_token("alpha", &["admin"]));
    let patched = alpha_admin.patch(
        &format!("/api/v1/tenants/alpha/tokens/{beta_token_id}"),
        &json!({"active": false}),
    );
    assert_eq!(patched.status, 404);
    assert_eq!(
        alpha_admin
            .delete(&format!("/api/v1/tenants/alpha/tokens/{beta_token_id}"))
            .status,
        404
    );
    // Beta's token still works.
    let beta = server.with_token(beta_token.json["token"].as_str().unwrap());
    assert_eq!(beta.get("/api/v1/tenants/beta").status, 200);
    // Beta's connection is not visible through alpha.
    server.admin().put(
        "/api/v1/tenants/beta/connections/openai",
        &json!({"credentials": {"api_key": "sk-beta"}}),
    );
    assert_eq!(alpha_admin.get("/api/v1/tenants/alpha/connections/openai").status, 404);
}
