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

pub const ZOOM_SECRET: &str = "zoom-client-secret-CANARY-91ab";

/// Zoom's `POST https://zoom.us/oauth/token` (Server-to-Server OAuth): Basic client
/// auth, `grant_type=account_credentials&account_id=...`, 1 h bearer tokens. Slow on
/// purpose so concurrent readers pile up.
pub fn fake_zoom() -> FakeServer {
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

pub fn zoom_server(fake: &FakeServer) -> TestServer {
    let toml = format!(
        "[providers.zoom]\ntoken_url = \"{base}/oauth/token\"\napi_base_url = \"{base}/v2\"\n",
        base = fake.base
    );
    TestServer::start_with(|config| {
        config.providers_file = Some(providers_file(&config.data_dir.with_file_name("etc"), &toml));
    })
}

pub fn token_posts(fake: &FakeServer) -> usize {
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

    for db in server.stored_bytes() {
        for secret in ["zoom-access-token-1", "zoom-access-token-2", ZOOM_SECRET] {
            assert!(
                !db.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret} in the database"
            );
        }
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

/// A generic client-credentials provider whose token endpoint can be made to fail.
fn flaky_provider(expires_in: Option<u64>) -> (FakeServer, Arc<std::sync::atomic::AtomicBool>) {
    let failing = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let issued = Arc::new(AtomicUsize::new(0));
    let flag = failing.clone();
    let fake = FakeServer::start(
        Router::new()
            .route(
                "/token",
                post(move || {
                    let (flag, issued) = (flag.clone(), issued.clone());
                    async move {
                        if flag.load(Ordering::SeqCst) {
                            return (StatusCode::SERVICE_UNAVAILABLE, "down for maintenance").into_response();
                        }
                        let n = issued.fetch_add(1, Ordering::SeqCst) + 1;
                        let mut body = json!({"access_token": format!("generic-token-{n}"), "token_type": "Bearer"});
                        if let Some(secs) = expires_in {
                            body["expires_in"] = json!(secs);
                        }
                        axum::Json(body).into_response()
                    }
                }),
            )
            .route("/api/me", get(|| async { axum::Json(json!({"ok": true})) })),
    );
    (fake, failing)
}

fn generic_server(fake: &FakeServer, settings: &[(&str, &str)]) -> TestServer {
    let toml = format!(
        r#"
[providers.generic]
name = "Generic"
category = "other"
auth_modes = ["client_credentials"]
token_url = "{base}/token"
api_base_url = "{base}/api"
fields = [
  {{ name = "client_id", label = "Client id", required = true }},
  {{ name = "client_secret", label = "Client secret", secret = true, required = true }},
]
[providers.generic.verify]
method = "GET"
path = "/me"
"#,
        base = fake.base
    );
    TestServer::start_with(|config| {
        config.providers_file = Some(providers_file(&config.data_dir.with_file_name("etc"), &toml));
        for (name, value) in settings {
            config.apply(name, value).unwrap();
        }
    })
}

fn token_of(client: &crate::support::Client) -> crate::support::Response {
    client.get("/api/v1/tenants/t1/connections/generic/token")
}

#[test]
fn network_trouble_keeps_a_valid_token_usable() {
    let (fake, failing) = flaky_provider(Some(4));
    let server = generic_server(
        &fake,
        &[("oauth_read_margin_secs", "3"), ("oauth_refresh_interval_secs", "600")],
    );
    server.create_tenant("t1");
    let client =
        server.with_token(&server.tenant_token("t1", &["connections:write", "credentials:reveal", "connections:read"]));
    let put = client.put(
        "/api/v1/tenants/t1/connections/generic",
        &json!({"credentials": {"client_id": "c", "client_secret": "s"}}),
    );
    assert_eq!(put.status, 201, "{}", put.text);
    assert_eq!(token_of(&client).json["access_token"], "generic-token-1");

    // Inside the margin, the provider is down: the still-valid token is served.
    failing.store(true, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(1500));
    let resp = token_of(&client);
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert_eq!(resp.json["access_token"], "generic-token-1");
    assert_eq!(
        client.get("/api/v1/tenants/t1/connections/generic").json["status"],
        "active"
    );

    // Expired and still down: a clear 502, the connection is not given up on.
    std::thread::sleep(Duration::from_millis(3000));
    let resp = token_of(&client);
    assert_eq!(resp.status, 502, "{}", resp.text);
    assert_eq!(
        client.get("/api/v1/tenants/t1/connections/generic").json["status"],
        "active"
    );

    // Back up: the next read acquires a new token.
    failing.store(false, Ordering::SeqCst);
    let resp = token_of(&client);
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert_eq!(resp.json["access_token"], "generic-token-2");
}

#[test]
fn a_token_without_expiry_is_rechecked_daily() {
    let (fake, _) = flaky_provider(None);
    let server = generic_server(&fake, &[("oauth_refresh_interval_secs", "0.3")]);
    server.create_tenant("t1");
    let client =
        server.with_token(&server.tenant_token("t1", &["connections:write", "credentials:reveal", "connections:read"]));
    client.put(
        "/api/v1/tenants/t1/connections/generic",
        &json!({"credentials": {"client_id": "c", "client_secret": "s"}}),
    );
    let resp = token_of(&client);
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert!(resp.json["expires_at"].is_null(), "{}", resp.text);

    let db = server.db();
    let check_after: String = db
        .query_row("SELECT check_after FROM oauth_tokens", [], |r| r.get(0))
        .unwrap();
    let day_ahead = time::OffsetDateTime::now_utc() + time::Duration::hours(23);
    assert!(check_after > tessera::time::format_rfc3339(day_ahead), "{check_after}");

    // A day later (simulated), the refresher verifies it against the provider.
    db.execute("UPDATE oauth_tokens SET check_after = '2000-01-01T00:00:00Z'", [])
        .unwrap();
    let mut checked = false;
    for _ in 0..40 {
        std::thread::sleep(Duration::from_millis(200));
        if fake.recorded().iter().any(|r| r.path == "/api/me") {
            checked = true;
            break;
        }
    }
    assert!(checked, "the daily check did not call the provider");
    let me = fake.recorded().into_iter().find(|r| r.path == "/api/me").unwrap();
    assert_eq!(me.header("authorization").unwrap(), "Bearer generic-token-1");
    std::thread::sleep(Duration::from_millis(300));
    let check_after: String = db
        .query_row("SELECT check_after FROM oauth_tokens", [], |r| r.get(0))
        .unwrap();
    assert!(
        check_after > tessera::time::format_rfc3339(day_ahead),
        "re-check not pushed a day ahead: {check_after}"
    );
}

#[test]
fn changed_credentials_drop_the_cached_token() {
    let fake = fake_zoom();
    let server = zoom_server(&fake);
    server.create_tenant("t1");
    let client = server.admin();
    let path = "/api/v1/tenants/t1/connections/zoom";
    let creds = json!({"account_id": "acct-42", "client_id": "zoom-client", "client_secret": ZOOM_SECRET});
    assert_eq!(client.put(path, &json!({ "credentials": creds })).status, 201);
    let first = client.get(&format!("{path}/token"));
    assert_eq!(first.json["access_token"], "zoom-access-token-1", "{}", first.text);
    assert_eq!(
        client.get(&format!("{path}/token")).json["access_token"],
        "zoom-access-token-1"
    );
    assert_eq!(token_posts(&fake), 1, "the second read was served from the cache");

    // Another account: the token of the old one must never be served again.
    let moved = json!({"credentials": {"account_id": "acct-43"}});
    assert_eq!(client.put(path, &moved).status, 200);
    assert_eq!(client.get(path).json["status"], "pending");
    let second = client.get(&format!("{path}/token"));
    assert_eq!(second.json["access_token"], "zoom-access-token-2", "{}", second.text);
    assert_eq!(token_posts(&fake), 2);
    let body = String::from_utf8_lossy(&fake.recorded().last().unwrap().body).into_owned();
    assert!(body.contains("account_id=acct-43"), "{body}");
}
