//! Bringing an existing OAuth token (a platform's `POST /oauth/connections` with an
//! `access_token`): stored sealed as the connection's token, served by `/token`, used by
//! the proxy and verify, and refreshed through the provider's token endpoint like a token
//! tessera obtained itself; a revoked refresh token leaves the connection `needs_reauth`.

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use base64::Engine;
use serde_json::{Value, json};

use crate::support::{Client, FakeServer, TestServer, providers_file};

const SCOPES: &[&str] = &["connections:read", "connections:write", "credentials:reveal", "proxy"];

/// A provider's RFC 6749 token endpoint (refresh grant, Basic client auth) and an API
/// that wants a bearer token it issued.
fn fake_provider() -> FakeServer {
    FakeServer::start(
        Router::new()
            .route(
                "/token",
                post(|headers: HeaderMap, body: String| async move {
                    let basic = format!(
                        "Basic {}",
                        base64::engine::general_purpose::STANDARD.encode("acme-client:acme-secret")
                    );
                    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(basic.as_str()) {
                        return (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "invalid_client"})));
                    }
                    let form: std::collections::HashMap<String, String> =
                        url::form_urlencoded::parse(body.as_bytes()).into_owned().collect();
                    match (
                        form.get("grant_type").map(String::as_str),
                        form.get("refresh_token").map(String::as_str),
                    ) {
                        (Some("refresh_token"), Some("byo-refresh-1")) => (
                            StatusCode::OK,
                            axum::Json(
                                json!({"access_token": "fresh-1", "token_type": "Bearer", "expires_in": 3600,
                                "refresh_token": "byo-refresh-2"}),
                            ),
                        ),
                        _ => (
                            StatusCode::BAD_REQUEST,
                            axum::Json(
                                json!({"error": "invalid_grant", "error_description": "The refresh token was revoked"}),
                            ),
                        ),
                    }
                }),
            )
            .route(
                "/api/me",
                get(|headers: HeaderMap| async move {
                    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
                    if auth == "Bearer byo-access" || auth == "Bearer fresh-1" || auth == "Bearer gho_guideToken" {
                        (StatusCode::OK, axum::Json(json!({"login": "acme-user"})))
                    } else {
                        (
                            StatusCode::UNAUTHORIZED,
                            axum::Json(json!({"message": "Bad credentials"})),
                        )
                    }
                }),
            ),
    )
}

fn server(fake: &FakeServer) -> TestServer {
    let toml = format!(
        "[providers.acme]\nname = \"Acme\"\ncategory = \"crm\"\nauth_modes = [\"oauth2\"]\n\
         authorization_url = \"{base}/authorize\"\ntoken_url = \"{base}/token\"\napi_base_url = \"{base}/api\"\n\
         fields = [\n  {{ name = \"client_id\", label = \"Client id\", modes = [\"oauth2\"] }},\n  \
         {{ name = \"client_secret\", label = \"Client secret\", secret = true, modes = [\"oauth2\"] }},\n]\n\
         [providers.acme.inject]\ntype = \"bearer\"\n[providers.acme.verify]\nmethod = \"GET\"\npath = \"/me\"\n\
         [providers.github]\napi_base_url = \"{base}/api\"\n[providers.github.verify]\npath = \"/me\"\n",
        base = fake.base
    );
    TestServer::start_with(|config| {
        config.providers_file = Some(providers_file(&config.data_dir.with_file_name("etc"), &toml));
    })
}

fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339).unwrap()
}

fn put(client: &Client, provider: &str, body: Value) -> crate::support::Response {
    client.put(&format!("/api/v1/tenants/t1/connections/{provider}"), &body)
}

#[test]
fn an_existing_token_is_stored_served_and_refreshed_like_any_other() {
    let fake = fake_provider();
    let server = server(&fake);
    server.create_tenant("t1");
    let client = server.with_token(&server.tenant_token("t1", SCOPES));
    let in_an_hour = rfc3339(time::OffsetDateTime::now_utc() + time::Duration::hours(1));

    let saved = put(
        &client,
        "acme",
        json!({"auth_mode": "oauth2", "credentials": {"client_id": "acme-client", "client_secret": "acme-secret",
            "access_token": "byo-access", "refresh_token": "byo-refresh-1", "expires_at": in_an_hour}}),
    );
    assert_eq!(saved.status, 201, "{}", saved.text);
    assert_eq!(saved.json["status"], "active");
    assert!(saved.json["expires_at"].is_string(), "{}", saved.text);
    assert!(
        saved.json["credentials"].get("access_token").is_none(),
        "tokens are not credentials"
    );
    assert!(!saved.text.contains("byo-access") && !saved.text.contains("byo-refresh-1"));
    let revealed = client.get("/api/v1/tenants/t1/connections/acme/credentials");
    assert!(!revealed.text.contains("byo-refresh-1"), "{}", revealed.text);

    let token = client.get("/api/v1/tenants/t1/connections/acme/token");
    assert_eq!(token.status, 200, "{}", token.text);
    assert_eq!(token.json["access_token"], "byo-access");
    assert_eq!(fake.count(), 0, "a fresh token needs no upstream call");
    let proxied = client.get("/api/v1/tenants/t1/proxy/acme/me");
    assert_eq!(proxied.status, 200, "{}", proxied.text);
    let verified = client.post("/api/v1/tenants/t1/connections/acme/verify", &json!({}));
    assert_eq!(verified.json["result"], "ok", "{}", verified.text);

    // Refreshed through the provider with the stored refresh token, like any other.
    let refreshed = client.post("/api/v1/tenants/t1/connections/acme/refresh", &json!({}));
    assert_eq!(refreshed.status, 200, "{}", refreshed.text);
    assert_eq!(refreshed.json["refreshed"], true);
    let grant = fake.recorded().into_iter().find(|r| r.path == "/token").unwrap();
    assert!(String::from_utf8_lossy(&grant.body).contains("refresh_token=byo-refresh-1"));
    assert_eq!(
        client.get("/api/v1/tenants/t1/connections/acme/token").json["access_token"],
        "fresh-1"
    );

    // A token handed in already expired is renewed before it is served; a revoked
    // refresh token then leaves the connection needing re-authorization (409).
    let expired = rfc3339(time::OffsetDateTime::now_utc() - time::Duration::minutes(5));
    let saved = put(
        &client,
        "acme",
        json!({"credentials": {"access_token": "old-access", "refresh_token": "revoked-refresh", "expires_at": expired}}),
    );
    assert_eq!(saved.status, 200, "{}", saved.text);
    let refused = client.get("/api/v1/tenants/t1/connections/acme/token");
    assert_eq!(refused.status, 409, "{}", refused.text);
    assert_eq!(refused.code(), "conflict");
    assert!(refused.text.contains("re-authorization"), "{}", refused.text);
    assert!(!refused.text.contains("revoked-refresh"));
    let view = client.get("/api/v1/tenants/t1/connections/acme");
    assert_eq!(view.json["status"], "needs_reauth");
    assert!(
        view.json["last_error"].as_str().unwrap().contains("invalid_grant"),
        "{}",
        view.text
    );
    let verified = client.post("/api/v1/tenants/t1/connections/acme/verify", &json!({}));
    assert_eq!(verified.json["result"], "invalid_credentials", "{}", verified.text);
    assert_eq!(
        client.get("/api/v1/tenants/t1/connections/acme").json["status"],
        "needs_reauth"
    );
}

#[test]
fn the_guides_github_token_without_expiry_and_bad_inputs() {
    let fake = fake_provider();
    let server = server(&fake);
    server.create_tenant("t1");
    let client = server.with_token(&server.tenant_token("t1", SCOPES));

    // The guide: `{"oauth_app_id": "github", "access_token": "github_token..."}`.
    let saved = put(
        &client,
        "github",
        json!({"auth_mode": "oauth2", "credentials": {"access_token": "gho_guideToken"}}),
    );
    assert_eq!(saved.status, 201, "{}", saved.text);
    assert_eq!(saved.json["status"], "active");
    let token = client.get("/api/v1/tenants/t1/connections/github/token");
    assert_eq!(token.json["access_token"], "gho_guideToken", "{}", token.text);
    assert!(token.json["expires_at"].is_null());
    assert_eq!(
        client
            .post("/api/v1/tenants/t1/connections/github/verify", &json!({}))
            .json["result"],
        "ok"
    );

    for (body, field) in [
        (
            json!({"auth_mode": "oauth2", "credentials": {"refresh_token": "r"}}),
            "credentials.access_token",
        ),
        (
            json!({"auth_mode": "oauth2", "credentials": {"access_token": "a", "expires_at": "tomorrow"}}),
            "credentials.expires_at",
        ),
        (
            json!({"auth_mode": "oauth2", "credentials": {"access_token": 7}}),
            "credentials.access_token",
        ),
        (
            json!({"auth_mode": "webhook", "credentials": {"access_token": "a"}}),
            "credentials.access_token",
        ),
    ] {
        let resp = put(&client, "github", body.clone());
        assert_eq!(resp.status, 400, "{body}: {}", resp.text);
        assert!(
            resp.json["errors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["field"] == field),
            "{body}: {}",
            resp.text
        );
    }
    // The refused inputs changed nothing.
    assert_eq!(
        client.get("/api/v1/tenants/t1/connections/github/token").json["access_token"],
        "gho_guideToken"
    );
}
