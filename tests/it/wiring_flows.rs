//! Cross-area flows: inbound and OAuth events delivered by outbound (verified with the
//! reference Standard Webhooks library), metrics moved by each area, and inbound's
//! outside calls made with the OAuth token service's tokens.

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::outbound_delivery::{WAIT, all_verified, body_of, create_endpoint};
use crate::support::inbound::{connect_posh, post_posh, post_raw, purchase, wait_processed};
use crate::support::oauth::{CLIENT_ID, CLIENT_SECRET, OidcServer, PUBLIC_URL, drive_authorization};
use crate::support::outbound::{Receiver, eventually};
use crate::support::{FakeServer, TestServer, providers_file};

fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

fn types_of(log: &[Value]) -> Vec<String> {
    log.iter()
        .map(|e| body_of(e)["type"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn a_signed_purchase_reaches_the_tenants_endpoint_and_moves_the_metrics() {
    let receiver = Receiver::start();
    let server = TestServer::start();
    server.create_tenant("brand-a");
    let admin = server.admin();
    let endpoint = create_endpoint(
        &admin,
        "brand-a",
        json!({"url": receiver.url("/hooks"), "events": ["inbound.received", "signup.created"]}),
    );
    receiver.configure("/hooks", &[endpoint["secret"].as_str().unwrap()], json!([]));
    connect_posh(&server, "brand-a", "posh-secret");

    let body = purchase("purchase.created", "p-100", "ana@example.com");
    let first = post_posh(&server, "brand-a", "posh-secret", &body);
    assert_eq!(first.status, 200, "{}", first.text);
    let event_id = first.json["event_id"].as_str().unwrap().to_owned();
    let again = post_posh(&server, "brand-a", "posh-secret", &body);
    assert_eq!(again.json["duplicate"], true, "{}", again.text);
    let forged = post_posh(
        &server,
        "brand-a",
        "not-the-secret",
        &purchase("purchase.created", "p-101", "x@example.com"),
    );
    assert_eq!(forged.status, 401, "{}", forged.text);
    assert_eq!(wait_processed(&admin, "brand-a", &event_id)["status"], "processed");

    let log = receiver.wait_for("/hooks", 2, WAIT);
    all_verified(&log);
    let mut types = types_of(&log);
    types.sort();
    assert_eq!(types, ["inbound.received", "signup.created"], "{log:?}");
    let signup = log.iter().map(body_of).find(|b| b["type"] == "signup.created").unwrap();
    assert!(signup.to_string().contains("ana@example.com"), "{signup}");

    // The scrape reads the deliveries gauge from the database before it renders the
    // counters, so one scrape can count an attempt whose row it saw still pending: wait
    // until a single scrape shows both.
    let text = eventually("both deliveries recorded and counted", WAIT, || {
        let text = admin.get("/metrics").text;
        let recorded = metric(&text, "tessera_deliveries{status=\"succeeded\"}") == Some(2.0);
        let counted = metric(&text, "tessera_deliveries_total{outcome=\"succeeded\"}") >= Some(2.0);
        (recorded && counted).then_some(text)
    });
    let received = |outcome: &str| {
        metric(
            &text,
            &format!("tessera_webhooks_received_total{{provider=\"poshvip\",outcome=\"{outcome}\"}}"),
        )
    };
    assert_eq!(received("accepted"), Some(1.0), "{text}");
    assert_eq!(received("duplicate"), Some(1.0), "{text}");
    assert_eq!(received("rejected"), Some(1.0), "{text}");
    for gauge in [
        "tessera_jobs_pending",
        "tessera_jobs_oldest_pending_age_seconds",
        "tessera_endpoints_failing",
    ] {
        assert!(metric(&text, gauge).is_some(), "{gauge} missing:\n{text}");
    }
    assert_eq!(metric(&text, "tessera_endpoints_failing"), Some(0.0));
    assert!(text.contains("tessera_inbound_events{status=\"rejected\"} 1"), "{text}");
    assert_eq!(metric(&text, "tessera_deliveries{status=\"pending\"}"), None, "{text}");
    let status = admin.get("/api/v1/status");
    assert_eq!(status.json["failing_endpoints"], 0, "{}", status.text);
    assert!(status.json["pending_jobs"].is_number(), "{}", status.text);
}

#[test]
fn pending_jobs_and_failing_endpoints_are_counted() {
    let server = TestServer::start();
    server.create_tenant("brand-a");
    let admin = server.admin();
    // An endpoint nobody listens on fails; its health says so.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/gone", dead.local_addr().unwrap());
    drop(dead);
    create_endpoint(&admin, "brand-a", json!({"url": url, "events": ["*"]}));
    let resp = admin.put(
        "/api/v1/tenants/brand-a/connections/openai",
        &json!({"credentials": {"api_key": "sk-wiring-0000"}}),
    );
    assert_eq!(resp.status, 201, "{}", resp.text);
    let status = eventually("a failing endpoint", WAIT, || {
        let status = admin.get("/api/v1/status");
        (status.json["failing_endpoints"] == 1).then_some(status)
    });
    assert!(status.json["pending_jobs"].is_number(), "{}", status.text);
    let text = admin.get("/metrics").text;
    assert_eq!(metric(&text, "tessera_endpoints_failing"), Some(1.0), "{text}");
    assert!(
        metric(&text, "tessera_deliveries_total{outcome=\"failed\"}") >= Some(1.0),
        "{text}"
    );
}

/// A client-credentials token endpoint that refuses the client (`invalid_client`).
fn refusing_token_endpoint() -> FakeServer {
    FakeServer::start(Router::new().route(
        "/oauth/token",
        post(|| async {
            (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({"error": "invalid_client", "reason": "Invalid client_id or client_secret"})),
            )
                .into_response()
        }),
    ))
}

#[test]
fn a_refused_renewal_is_delivered_as_refresh_failed() {
    let receiver = Receiver::start();
    let fake = refusing_token_endpoint();
    let toml = format!(
        "[providers.zoom]\ntoken_url = \"{base}/oauth/token\"\napi_base_url = \"{base}/v2\"\n",
        base = fake.base
    );
    let server = TestServer::start_with(|config| {
        config.providers_file = Some(providers_file(&config.data_dir.with_file_name("etc"), &toml));
    });
    server.create_tenant("t1");
    let admin = server.admin();
    let endpoint = create_endpoint(
        &admin,
        "t1",
        json!({"url": receiver.url("/oauth"), "events": ["connection.refresh_failed"]}),
    );
    receiver.configure("/oauth", &[endpoint["secret"].as_str().unwrap()], json!([]));
    let put = admin.put(
        "/api/v1/tenants/t1/connections/zoom",
        &json!({"credentials": {"account_id": "a", "client_id": "zoom-client", "client_secret": "wrong"}}),
    );
    assert_eq!(put.status, 201, "{}", put.text);
    assert_eq!(admin.get("/api/v1/tenants/t1/connections/zoom/token").status, 409);

    let log = receiver.wait_for("/oauth", 1, WAIT);
    all_verified(&log);
    assert_eq!(types_of(&log), ["connection.refresh_failed"]);
    let data = &body_of(&log[0])["data"];
    assert_eq!(data["provider"], "zoom", "{data}");
    assert!(data["reason"].as_str().unwrap().contains("invalid_client"), "{data}");
    let text = admin.get("/metrics").text;
    assert_eq!(
        metric(
            &text,
            "tessera_token_refreshes_total{provider=\"zoom\",outcome=\"failed\"}"
        ),
        Some(1.0),
        "{text}"
    );
}

#[test]
fn an_eventbrite_oauth_connection_fetches_orders_with_its_oauth_token() {
    let oidc = OidcServer::start(3600);
    let issuer = oidc.issuer.clone();
    let api = FakeServer::start(Router::new().route(
        "/v3/orders/{id}/",
        get(|headers: HeaderMap| async move {
            let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
            if !auth.starts_with("Bearer ") || auth.len() < 20 {
                return (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "INVALID_AUTH"})));
            }
            (
                StatusCode::OK,
                axum::Json(json!({"id": "123", "email": "dora@example.com", "first_name": "Dora",
                    "last_name": "Reis", "event": {"name": {"text": "Jazz Night"}}})),
            )
        }),
    ));
    let toml = format!(
        "[providers.eventbrite]\nauthorization_url = \"{issuer}/auth\"\ntoken_url = \"{issuer}/token\"\n\
         api_base_url = \"{api}\"\nscopes = [\"openid\", \"offline_access\", \"api:read\"]\n",
        api = api.base
    );
    let server = TestServer::start_with(|config| {
        config.providers_file = Some(providers_file(&config.data_dir.with_file_name("etc"), &toml));
        config.public_url = Some(PUBLIC_URL.into());
        config.apply("allowed_return_origins", "https://app.example").unwrap();
    });
    let admin = server.admin();
    let app = admin.put(
        "/api/v1/platform/apps/eventbrite",
        &json!({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}),
    );
    assert_eq!(app.status, 201, "{}", app.text);
    server.create_tenant("brand-a");
    let resp = admin.post(
        "/api/v1/tenants/brand-a/connections/eventbrite/authorize",
        &json!({"return_to": "https://app.example/done"}),
    );
    assert_eq!(resp.status, 200, "{}", resp.text);
    let callback = drive_authorization(resp.json["authorization_url"].as_str().unwrap());
    assert_eq!(server.anonymous().get(&callback).status, 303);
    let token = admin.get("/api/v1/tenants/brand-a/connections/eventbrite/token");
    assert_eq!(token.status, 200, "{}", token.text);
    let access_token = token.json["access_token"].as_str().unwrap().to_owned();

    let hook = json!({"api_url": format!("{}/v3/orders/123/", api.base), "config": {"action": "order.placed"}});
    let resp = post_raw(
        &server.anonymous(),
        "eventbrite",
        "brand-a",
        hook.to_string().as_bytes(),
        &[],
    );
    assert_eq!(resp.status, 200, "{}", resp.text);
    let event = wait_processed(&admin, "brand-a", resp.json["event_id"].as_str().unwrap());
    assert_eq!(event["status"], "processed", "{event}");
    let fetched = api.recorded();
    assert_eq!(fetched.len(), 1);
    assert_eq!(
        fetched[0].header("authorization").as_deref(),
        Some(format!("Bearer {access_token}").as_str())
    );
    let signups = admin.get("/api/v1/tenants/brand-a/signups?provider=eventbrite");
    assert!(signups.text.contains("dora@example.com"), "{}", signups.text);
}
