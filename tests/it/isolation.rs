//! Tenant isolation in the data: what another tenant's token or ids reach of a tenant's
//! rows, read from the bodies.

use serde_json::json;

use crate::support::TestServer;

/// What another tenant's token reaches of a tenant's data: nothing in any body. (Every
/// route's status for every kind of principal is in `access_matrix`.)
#[test]
fn another_tenants_token_sees_none_of_its_data() {
    let server = TestServer::start();
    let a = server.create_tenant("alpha");
    server.create_tenant("beta");
    server.admin().put(
        "/api/v1/tenants/beta/connections/openai",
        &json!({"credentials": {"api_key": "sk-beta-secret-000"}}),
    );
    let alpha_admin = server.with_token(&server.tenant_token("alpha", &["admin"]));
    for path in [
        "/api/v1/tenants/beta/connections/openai",
        "/api/v1/tenants/beta/connections/openai/credentials",
        "/api/v1/tenants/beta/connections",
        "/api/v1/tenants/beta/audit",
    ] {
        let resp = alpha_admin.get(path);
        assert_eq!(resp.code(), "tenant_mismatch", "{path}");
        assert!(!resp.text.contains("sk-beta"), "{path}: {}", resp.text);
    }
    // Alpha's own path works by id and by slug.
    for reference in [a.as_str(), "alpha"] {
        let resp = alpha_admin.get(&format!("/api/v1/tenants/{reference}/connections"));
        assert_eq!(resp.status, 200);
    }
    // Beta's data is untouched, and the tenant list shows alpha alone.
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
    assert!(!listed.text.contains("beta"), "{}", listed.text);
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
