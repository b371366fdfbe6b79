//! Client-credentials connections against local imitations of Zoom's and Genesys'
//! documented token endpoints: one upstream request for many concurrent readers, a token
//! that survives a restart, the `{region}` placeholder, and refused credentials.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use base64::Engine;
use serde_json::json;

use crate::support::{FakeServer, TestServer, providers_file};

const ZOOM_SECRET: &str = "zoom-client-secret-CANARY-91ab";

/// Zoom's `POST https://zoom.us/oauth/token` (Server-to-Server OAuth): Basic client
/// auth, `grant_type=account_credentials&account_id=...`, 1 h bearer tokens. Slow on
/// purpose so concurrent readers pile up.
fn fake_zoom() -> FakeServer {
    let issued = Arc::new(AtomicUsize::new(0));
    FakeServer::start(
        Router::new()
            .route(
                "/oauth/token",
                post(move |headers: HeaderMap, body: String| {
                    let issued = issued.clone();
                    async move {
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        let expected = format!(
                            "Basic {}",
                            base64::engine::general_purpose::STANDARD.encode(format!("zoom-client:{ZOOM_SECRET}"))
                        );
                        let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
                        if auth != expected || !body.contains("grant_type=account_credentials") {
                            return (
                                StatusCode::BAD_REQUEST,
                                axum::Json(
                                    json!({"reason": "Invalid client_id or client_secret", "error": "invalid_client"}),
                                ),
                            )
                                .into_response();
                        }
                        let n = issued.fetch_add(1, Ordering::SeqCst) + 1;
                        axum::Json(json!({
                            "access_token": format!("zoom-access-token-{n}"),
                            "token_type": "bearer",
                            "expires_in": 3599,
                            "scope": "user:read:admin",
                            "api_url": "https://api.zoom.us"
                        }))
                        .into_response()
                    }
                }),
            )
            .route("/v2/users/me", get(|| async { axum::Json(json!({"id": "me"})) })),
    )
}

fn zoom_server(fake: &FakeServer) -> TestServer {
    let toml = format!(
        "[providers.zoom]\ntoken_url = \"{base}/oauth/token\"\napi_base_url = \"{base}/v2\"\n",
        base = fake.base
    );
    TestServer::start_with(|config| {
        config.providers_file = Some(providers_file(&config.data_dir.with_file_name("etc"), &toml));
    })
}

fn token_posts(fake: &FakeServer) -> usize {
    fake.recorded()
        .iter()
        .filter(|r| r.path.ends_with("/oauth/token"))
        .count()
}

#[test]
fn zoom_concurrent_readers_share_one_upstream_request_and_survive_restart() {
    let fake = fake_zoom();
    let server = zoom_server(&fake);
    server.create_tenant("t1");
    let token = server.tenant_token(
        "t1",
        &["connections:write", "credentials:reveal", "connections:read", "proxy"],
    );
    let client = server.with_token(&token);
    let put = client.put(
        "/api/v1/tenants/t1/connections/zoom",
        &json!({"credentials": {"account_id": "acct-42", "client_id": "zoom-client", "client_secret": ZOOM_SECRET}}),
    );
    assert_eq!(put.status, 201, "{}", put.text);

    let start = Arc::new(std::sync::Barrier::new(12));
    let readers: Vec<_> = (0..12)
        .map(|_| {
            let (client, start) = (client.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                client.get("/api/v1/tenants/t1/connections/zoom/token")
            })
        })
        .collect();
    let answers: Vec<_> = readers.into_iter().map(|h| h.join().unwrap()).collect();
    for answer in &answers {
        assert_eq!(answer.status, 200, "{}", answer.text);
        assert_eq!(answer.json["access_token"], "zoom-access-token-1");
        assert_eq!(answer.json["token_type"], "Bearer");
        assert!(answer.json["expires_at"].is_string());
    }
    assert_eq!(token_posts(&fake), 1, "12 concurrent readers, one upstream request");
    let request = &fake.recorded()[0];
    assert!(String::from_utf8_lossy(&request.body).contains("account_id=acct-42"));
    assert_eq!(
        client.get("/api/v1/tenants/t1/connections/zoom").json["status"],
        "active"
    );

    // The proxy injects the cached token.
    let proxied = client.get("/api/v1/tenants/t1/proxy/zoom/users/me");
    assert_eq!(proxied.status, 200, "{}", proxied.text);
    let last = fake.recorded().into_iter().last().unwrap();
    assert_eq!(last.header("authorization").unwrap(), "Bearer zoom-access-token-1");

    // Sealed in the database: a restart serves the same token without a new request.
    let server = server.restart();
    let client = server.with_token(&token);
    let again = client.get("/api/v1/tenants/t1/connections/zoom/token");
    assert_eq!(again.json["access_token"], "zoom-access-token-1", "{}", again.text);
    assert_eq!(token_posts(&fake), 1);

    // A forced refresh acquires a new one; concurrent forced refreshes share it.
    let start = Arc::new(std::sync::Barrier::new(4));
    let forced: Vec<_> = (0..4)
        .map(|_| {
            let (client, start) = (client.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                client.post("/api/v1/tenants/t1/connections/zoom/refresh", &json!({}))
            })
        })
        .collect();
    for h in forced {
        let resp = h.join().unwrap();
        assert_eq!(resp.status, 200, "{}", resp.text);
        assert!(!resp.text.contains("zoom-access-token"));
    }
    assert_eq!(token_posts(&fake), 2);
    assert_eq!(
        client.get("/api/v1/tenants/t1/connections/zoom/token").json["access_token"],
        "zoom-access-token-2"
    );

    let db = std::fs::read(server.data_dir().join("tessera.db")).unwrap();
    for secret in ["zoom-access-token-1", "zoom-access-token-2", ZOOM_SECRET] {
        assert!(
            !db.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} in the database"
        );
    }
}

#[test]
fn zoom_refused_credentials_mark_the_connection_invalid() {
    let fake = fake_zoom();
    let server = zoom_server(&fake);
    server.create_tenant("t1");
    let client =
        server.with_token(&server.tenant_token("t1", &["connections:write", "credentials:reveal", "connections:read"]));
    client.put(
        "/api/v1/tenants/t1/connections/zoom",
        &json!({"credentials": {"account_id": "a", "client_id": "zoom-client", "client_secret": "wrong"}}),
    );
    let resp = client.get("/api/v1/tenants/t1/connections/zoom/token");
    assert_eq!(resp.status, 409, "{}", resp.text);
    let view = client.get("/api/v1/tenants/t1/connections/zoom");
    assert_eq!(view.json["status"], "invalid");
    assert!(view.json["last_error"].as_str().unwrap().contains("invalid_client"));
}

#[test]
fn genesys_token_url_uses_the_tenants_region() {
    let issued = Arc::new(AtomicUsize::new(0));
    let counter = issued.clone();
    let fake = FakeServer::start(Router::new().route(
        "/{region}/oauth/token",
        post(move |body: String| {
            let counter = counter.clone();
            async move {
                assert!(body.contains("grant_type=client_credentials"));
                let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
                axum::Json(
                    json!({"access_token": format!("genesys-token-{n}"), "token_type": "bearer", "expires_in": 86399}),
                )
            }
        }),
    ));
    let toml = format!(
        "[providers.genesys]\ntoken_url = \"{}/{{region}}/oauth/token\"\n",
        fake.base
    );
    let server = TestServer::start_with(|config| {
        config.providers_file = Some(providers_file(&config.data_dir.with_file_name("etc"), &toml));
    });
    server.create_tenant("de");
    let client = server.with_token(&server.tenant_token("de", &["connections:write", "credentials:reveal"]));
    let put = client.put(
        "/api/v1/tenants/de/connections/genesys",
        &json!({"credentials": {"client_id": "g-id", "client_secret": "g-secret"}, "config": {"region": "mypurecloud.de"}}),
    );
    assert_eq!(put.status, 201, "{}", put.text);
    let resp = client.get("/api/v1/tenants/de/connections/genesys/token");
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert_eq!(resp.json["access_token"], "genesys-token-1");
    let recorded = fake.recorded();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].path, "/mypurecloud.de/oauth/token");
    assert_eq!(
        recorded[0].header("authorization").unwrap(),
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("g-id:g-secret")
        )
    );
    // A key-mode connection has no access token.
    let resp = client.get("/api/v1/tenants/de/connections/stripe/token");
    assert_eq!(resp.status, 404);
}
