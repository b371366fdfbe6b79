//! The admin UI in real headless Chromium: the node script `tests/browser/walk.mjs`
//! (playwright-core driving Debian's `/usr/bin/chromium`) walks the real server.
//! Prerequisites come from `.ci/install-deps` (chromium, `npm ci` in tests/browser).

use std::path::{Path, PathBuf};
use std::process::Command;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};

use serde_json::json;

use crate::support::inbound::{connect_posh, post_posh, purchase, wait_for};
use crate::support::ui::create_user;
use crate::support::{FakeServer, TestServer, providers_file};

const PASSWORD: &str = "correct horse battery staple";
const STRIPE_KEY: &str = "sk_test_tessera_browser_walk_4242";

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

fn fake_stripe() -> FakeServer {
    FakeServer::start(Router::new().route(
        "/v1/balance",
        get(|headers: HeaderMap| async move {
            let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
            if auth == format!("Bearer {STRIPE_KEY}") {
                (StatusCode::OK, r#"{"object":"balance","available":[]}"#)
            } else {
                (
                    StatusCode::UNAUTHORIZED,
                    r#"{"error":{"message":"Invalid API Key provided"}}"#,
                )
            }
        }),
    ))
}

/// A server with Stripe pointed at `stripe`, a tenant `acme`, its admin and an operator.
fn server_with_users(stripe: &FakeServer) -> TestServer {
    let dir = tempfile::tempdir().expect("temp dir");
    let providers = providers_file(
        dir.path(),
        &format!("[providers.stripe]\napi_base_url = \"{}\"\n", stripe.base),
    );
    let server = TestServer::start_with(|config| config.providers_file = Some(providers));
    server.create_tenant("acme");
    create_user(&server, "ada@acme.test", PASSWORD, Some("acme"));
    create_user(&server, "root@example.test", PASSWORD, None);
    server
}

/// Runs one browser script against the server; panics with its output when any step
/// or browser check fails.
fn run_script(server: &TestServer, script: &str, extra_env: &[(&str, String)]) {
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "Chromium is missing: run `.ci/install-deps` (apt-get install chromium)"
    );
    assert!(
        browser_dir().join("node_modules/playwright-core").exists(),
        "playwright-core is missing: run `.ci/install-deps` (npm ci in tests/browser)"
    );
    let shots = std::env::var("TESSERA_SCREENSHOT_DIR").unwrap_or_default();
    let mut cmd = Command::new("node");
    cmd.current_dir(browser_dir())
        .arg(script)
        .env("TESSERA_URL", &server.base)
        .env("TENANT", "acme")
        .env("TENANT_EMAIL", "ada@acme.test")
        .env("ADMIN_EMAIL", "root@example.test")
        .env("PASSWORD", PASSWORD)
        .env("STRIPE_KEY", STRIPE_KEY)
        .env("SCREENSHOT_DIR", shots);
    for (key, value) in extra_env {
        cmd.env(key, value);
    }
    let out = cmd.output().expect("run node (is Node.js installed?)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{script} failed\n{stdout}\n{stderr}");
    assert!(stdout.contains(": ok"), "{stdout}");
}

/// A loopback receiver for outbound deliveries answering `status`.
fn receiver(status: StatusCode) -> FakeServer {
    FakeServer::start(Router::new().route("/hooks", post(move || async move { status })))
}

/// The walk through every screen against the real APIs, then what the browser did
/// checked through the API and at the receiver.
#[test]
fn tenant_admin_and_operator_walk_through_the_ui_in_chromium() {
    let stripe = fake_stripe();
    let hooks = receiver(StatusCode::NO_CONTENT);
    let server = server_with_users(&stripe);
    let endpoint_url = format!("{}/hooks", hooks.base);
    run_script(&server, "walk.mjs", &[("ENDPOINT_URL", endpoint_url.clone())]);

    let admin = server.admin();
    let stripe_conn = admin.get("/api/v1/tenants/acme/connections/stripe");
    assert_eq!(stripe_conn.json["status"], "active", "{}", stripe_conn.text);
    assert_eq!(stripe_conn.json["credentials"]["secret_key"], "****4242");
    assert!(
        stripe
            .requests
            .lock()
            .expect("log")
            .iter()
            .any(|r| r.path == "/v1/balance"),
        "Verify really called the (fake) provider"
    );
    let poshvip = admin.get("/api/v1/tenants/acme/connections/poshvip");
    assert_eq!(poshvip.status, 404, "Disconnect deleted the Posh.VIP connection");

    let events = admin.get("/api/v1/tenants/acme/events");
    let statuses: Vec<&str> = events.json["items"]
        .as_array()
        .map(|items| items.iter().filter_map(|e| e["status"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(statuses.len(), 2, "{}", events.text);
    assert!(statuses.contains(&"rejected"), "{}", events.text);
    let signups = admin.get("/api/v1/tenants/acme/signups");
    assert_eq!(
        signups.json["items"][0]["email"], "grace@example.test",
        "{}",
        signups.text
    );
    assert_eq!(signups.json["items"][0]["status"], "approved", "{}", signups.text);

    let endpoints = admin.get("/api/v1/tenants/acme/webhook-endpoints");
    assert_eq!(
        endpoints.json["items"][0]["url"],
        endpoint_url.as_str(),
        "{}",
        endpoints.text
    );
    let pings: Vec<_> = hooks
        .requests
        .lock()
        .expect("log")
        .iter()
        .filter(|r| r.headers.contains_key("webhook-signature") && r.body.windows(6).any(|w| w == b"\"ping\""))
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(pings, ["/hooks"], "the test ping reached the receiver, signed");

    let tokens = admin.get("/api/v1/tenants/acme/tokens");
    let walk_token = tokens.json["items"]
        .as_array()
        .and_then(|items| items.iter().find(|t| t["name"] == "Walk token"))
        .cloned()
        .expect("the walk's token exists");
    assert!(walk_token["revoked_at"].is_string(), "and was revoked");
    let globex = admin.get("/api/v1/tenants/globex-live");
    assert_eq!((globex.status, globex.json["tier"].as_str()), (200, Some("pro")));
}

/// States the walk does not reach, from data made through the real APIs: a failing
/// endpoint with a failed delivery, several signups, a rejected event, platform apps.
#[test]
fn screens_render_real_failures_and_platform_apps_in_chromium() {
    let stripe = fake_stripe();
    let failing = receiver(StatusCode::INTERNAL_SERVER_ERROR);
    let server = server_with_users(&stripe);
    seed_failures(&server, &format!("{}/hooks", failing.base));
    run_script(&server, "screens.mjs", &[]);
}

fn seed_failures(server: &TestServer, failing_url: &str) {
    let admin = server.admin();
    connect_posh(server, "acme", "posh-secret-screens");
    for (n, email) in ["grace@example.test", "linus@example.test"].iter().enumerate() {
        let sent = post_posh(
            server,
            "acme",
            "posh-secret-screens",
            &purchase("purchase.created", &format!("s{n}"), email),
        );
        assert_eq!(sent.status, 200, "{}", sent.text);
    }
    let forged = post_posh(
        server,
        "acme",
        "wrong",
        &purchase("purchase.created", "x", "x@example.test"),
    );
    assert_eq!(forged.status, 401, "{}", forged.text);
    wait_for("two pending signups", || {
        let list = admin.get("/api/v1/tenants/acme/signups?status=pending");
        (list.json["items"].as_array().map(Vec::len) == Some(2)).then_some(())
    });
    let endpoint = admin.post(
        "/api/v1/tenants/acme/webhook-endpoints",
        &json!({"url": failing_url, "events": ["*"], "description": "CRM", "retry_policy": "none"}),
    );
    assert_eq!(endpoint.status, 201, "{}", endpoint.text);
    let id = endpoint.json["id"].as_str().expect("endpoint id").to_owned();
    let ping = admin.post(&format!("/api/v1/tenants/acme/webhook-endpoints/{id}/test"), &json!({}));
    assert_eq!(ping.status, 202, "{}", ping.text);
    wait_for("the ping fails and marks the endpoint failing", || {
        let got = admin.get(&format!("/api/v1/tenants/acme/webhook-endpoints/{id}"));
        (got.json["failing_since"].is_string() || got.json["disabled_at"].is_string()).then_some(())
    });
    // The history pages like every list (`limit` is a number in the query string).
    let history = admin.get(&format!(
        "/api/v1/tenants/acme/webhook-endpoints/{id}/deliveries?limit=50"
    ));
    assert_eq!(history.status, 200, "{}", history.text);
}
