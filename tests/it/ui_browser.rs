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

pub const PASSWORD: &str = "correct horse battery staple";
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
pub fn run_script(server: &TestServer, script: &str, extra_env: &[(&str, String)]) {
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
    publish_walk_plugins(&server);
    run_script(
        &server,
        "walk.mjs",
        &[
            ("ENDPOINT_URL", endpoint_url.clone()),
            ("PLUGIN_SECRET", WALK_PLUGIN_SECRET.to_owned()),
        ],
    );
    check_plugins_walk(&server);

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

/// Brevo refuses the first contact upsert (400, so the job fails for good) and accepts
/// the next: the browser retries the failed job and sees it succeed.
fn brevo_refusing_once() -> FakeServer {
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    FakeServer::start(Router::new().route(
        "/v3/contacts",
        post(move || {
            let first = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0;
            async move {
                if first {
                    (StatusCode::BAD_REQUEST, r#"{"code":"invalid_parameter"}"#)
                } else {
                    (StatusCode::CREATED, r#"{"id":17}"#)
                }
            }
        }),
    ))
}

/// A tenant admin's screens beyond the first walk, on data made through the real APIs:
/// a signup (and its notification) from a signed webhook, a failed Brevo job, an
/// Easy!Appointments server, an outbound endpoint and an expired token. What the browser
/// changed is then checked through the API.
#[test]
fn tenant_admin_drives_notifications_jobs_usage_consents_mappings_and_more_in_chromium() {
    let brevo = brevo_refusing_once();
    let easyappointments = crate::inbound_easyappointments::fake_easyappointments();
    let anthropic = crate::inbound_easyappointments::fake_anthropic();
    let hooks = receiver(StatusCode::NO_CONTENT);
    let dir = tempfile::tempdir().expect("temp dir");
    let providers = providers_file(
        dir.path(),
        &format!(
            "[providers.brevo]\napi_base_url = \"{}\"\n[providers.anthropic]\napi_base_url = \"{}\"\n",
            brevo.base, anthropic.base
        ),
    );
    let server = TestServer::start_with(|config| config.providers_file = Some(providers));
    server.create_tenant("acme");
    create_user(&server, "ada@acme.test", PASSWORD, Some("acme"));
    let admin = server.admin();

    connect_posh(&server, "acme", "posh-secret-tenant-screens");
    let brevo_conn = admin.put(
        "/api/v1/tenants/acme/connections/brevo",
        &json!({"credentials": {"api_key": "xkeysib-browser"}, "config": {"list_id": 7}}),
    );
    assert_eq!(brevo_conn.status, 201, "{}", brevo_conn.text);
    let ea = admin.put(
        "/api/v1/tenants/acme/connections/easyappointments",
        &json!({"credentials": {"api_key": "ea-token"}, "config": {"base_url": easyappointments.base}}),
    );
    assert_eq!(ea.status, 201, "{}", ea.text);
    let claude = admin.put(
        "/api/v1/tenants/acme/connections/anthropic",
        &json!({"credentials": {"api_key": "sk-ant-tenant"}}),
    );
    assert_eq!(claude.status, 201, "{}", claude.text);
    let sent = post_posh(
        &server,
        "acme",
        "posh-secret-tenant-screens",
        &json!({"event": "purchase.created", "purchase": {
            "id": "ts-1", "event_id": "ev_1", "event_name": "Launch Party",
            "customer": {"email": "grace@example.test", "first_name": "Grace", "last_name": "Hopper"},
            "total_amount": 25.00, "currency": "USD", "tickets": []}}),
    );
    assert_eq!(sent.status, 200, "{}", sent.text);
    wait_for("the Brevo job fails", || {
        let jobs = admin.get("/api/v1/tenants/acme/jobs?kind=brevo.upsert_contact&status=failed");
        (jobs.json["items"].as_array().map(Vec::len) == Some(1)).then_some(())
    });
    let endpoint_url = format!("{}/hooks", hooks.base);
    let endpoint = admin.post(
        "/api/v1/tenants/acme/webhook-endpoints",
        &json!({"url": endpoint_url, "events": ["*"], "description": "Seeded endpoint"}),
    );
    assert_eq!(endpoint.status, 201, "{}", endpoint.text);
    let endpoint_id = endpoint.json["id"].as_str().expect("endpoint id").to_owned();
    let seed = admin.post(
        "/api/v1/tenants/acme/tokens",
        &json!({"name": "Seed token", "scopes": ["events:read"]}),
    );
    assert_eq!(seed.status, 201, "{}", seed.text);
    let soon = time::OffsetDateTime::now_utc() + time::Duration::seconds(1);
    let old = admin.post(
        "/api/v1/tenants/acme/tokens",
        &json!({"name": "Old integration", "scopes": ["events:read"],
                "expires_at": soon.format(&time::format_description::well_known::Rfc3339).expect("RFC 3339")}),
    );
    assert_eq!(old.status, 201, "{}", old.text);
    wait_for("the old token expires", || {
        let tokens = admin.get("/api/v1/tenants/acme/tokens");
        tokens.json["items"]
            .as_array()
            .and_then(|items| items.iter().find(|t| t["name"] == "Old integration"))
            .filter(|t| t["status"] == "expired")
            .map(|_| ())
    });

    run_script(&server, "tenant_screens.mjs", &[("ENDPOINT_URL", endpoint_url.clone())]);

    let jobs = admin.get("/api/v1/tenants/acme/jobs?kind=brevo.upsert_contact&limit=100");
    let retried = jobs.json["items"]
        .as_array()
        .is_some_and(|items| items.iter().any(|j| j["status"] == "succeeded" && j["attempts"] == 2));
    assert!(retried, "the failed job ran again and succeeded: {}", jobs.text);
    let consents = admin.get("/api/v1/tenants/acme/consents?resource_id=c_42");
    assert_eq!(
        consents.json["items"][0]["consent_type"], "THIRD_PARTY",
        "{}",
        consents.text
    );
    assert!(consents.json["items"][0]["revoked_at"].is_string(), "{}", consents.text);
    let bindings = admin.get("/api/v1/tenants/acme/bindings/poshvip");
    assert_eq!(
        bindings.json["purchase.created"]["email"], "/purchase/customer/email",
        "{}",
        bindings.text
    );
    assert_eq!(
        bindings.json["purchase.created"]["name"], "/purchase/customer/last_name",
        "{}",
        bindings.text
    );
    let signups = admin.get("/api/v1/tenants/acme/signups?limit=100");
    let emails: Vec<&str> = signups.json["items"]
        .as_array()
        .map(|items| items.iter().filter_map(|s| s["email"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        emails.contains(&"ines@example.com")
            && emails.contains(&"kim@example.com")
            && !emails.contains(&"joao@example.com"),
        "the Booked bookers were imported: {emails:?}"
    );
    let edited = admin.get(&format!("/api/v1/tenants/acme/webhook-endpoints/{endpoint_id}"));
    assert_eq!(edited.json["description"], "CRM sync", "{}", edited.text);
    assert_eq!(edited.json["url"], format!("{endpoint_url}?v=2"), "{}", edited.text);
    assert_eq!(edited.json["events"], json!(["signup.created"]), "{}", edited.text);
    assert_eq!(edited.json["retry_policy"], "none", "{}", edited.text);
    assert!(
        edited.json["previous_secret_expires_at"].is_string(),
        "the secret was rotated: {}",
        edited.text
    );
    let tenant = admin.get("/api/v1/tenants/acme");
    assert_eq!(tenant.json["name"], "Acme Live", "{}", tenant.text);
    assert_eq!(
        tenant.json["notification_emails"],
        json!(["ops@acme.test"]),
        "{}",
        tenant.text
    );
    let tested = admin.get("/api/v1/tenants/acme/signups?email=test@example.com");
    assert_eq!(
        tested.json["items"][0]["sources"][0]["event_name"], "Test Event",
        "the sample event became a signup: {}",
        tested.text
    );
    let asked = anthropic.recorded();
    assert_eq!(asked.len(), 1, "one summary was asked for");
    let sent = String::from_utf8_lossy(&asked[0].body);
    assert!(
        !sent.contains("Ines") && !sent.contains("@example.com"),
        "only figures reach Anthropic: {sent}"
    );
    let unread = admin.get("/api/v1/tenants/acme/notifications?unread=true");
    assert!(
        !unread.text.contains("New signup: grace@example.test"),
        "the walk marked it read: {}",
        unread.text
    );
}

/// The operator's screens: the platform audit log, keys and the last backup (made with
/// the real CLI first), deleting a tenant behind its typed slug, and a tenant without
/// data (its Easy!Appointments server down) for the empty and error states.
#[test]
fn operator_drives_audit_keys_backups_and_tenant_deletion_in_chromium() {
    if crate::ON_POSTGRES {
        // The screen shows `tessera backup`'s copies of the SQLite file.
        return;
    }
    let server = TestServer::start();
    server.create_tenant("acme");
    server.create_tenant("doomed");
    server.create_tenant("empty");
    create_user(&server, "root@example.test", PASSWORD, None);
    let admin = server.admin();
    let secret = admin.put(
        "/api/v1/tenants/doomed/connections/resend",
        &json!({"credentials": {"api_key": "re_doomed_secret_value_0001"}}),
    );
    assert_eq!(secret.status, 201, "{}", secret.text);
    let app = admin.put(
        "/api/v1/platform/apps/eventbrite",
        &json!({"client_id": "platform-client", "client_secret": "platform-secret-browser-0001"}),
    );
    assert_eq!(app.status, 201, "{}", app.text);
    // A port nobody listens on: the stats call fails, and the page says so.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let ea = admin.put(
        "/api/v1/tenants/empty/connections/easyappointments",
        &json!({"credentials": {"api_key": "ea-token"}, "config": {"base_url": format!("http://{closed}")}}),
    );
    assert_eq!(ea.status, 201, "{}", ea.text);
    let backup_file = server.dir.path().join("before-delete.db");
    let out = crate::cli::tessera()
        .arg("--data-dir")
        .arg(server.data_dir())
        .arg("backup")
        .arg(&backup_file)
        .output()
        .expect("run tessera backup");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    run_script(
        &server,
        "platform_screens.mjs",
        &[
            ("BACKUP_FILE", backup_file.display().to_string()),
            ("DOOMED", "doomed".to_owned()),
            ("EMPTY", "empty".to_owned()),
        ],
    );

    assert_eq!(
        admin.get("/api/v1/tenants/doomed").status,
        404,
        "the browser deleted it"
    );
    assert_eq!(admin.get("/api/v1/tenants/empty").status, 200);
    let log = admin.get("/api/v1/platform/audit?action=tenant.deleted");
    assert_eq!(log.json["items"][0]["detail"]["slug"], "doomed", "{}", log.text);
}

// --- Plugins in the walk (tests/browser/plugins_walk.mjs) ---

/// The CRM relay's API token the tenant admin types into the generated install form.
const WALK_PLUGIN_SECRET: &str = "crm_live_walk_token_5e2f";

fn publish_walk_plugins(server: &TestServer) {
    let published = crate::support::plugins::publish(server, &crate::support::plugins::crm_relay_package());
    assert_eq!(published.status, 201, "{}", published.text);
}

/// What the browser did to plugins, through the API: both installs, the configuration
/// change and both removals are in the tenant's audit log (field names, never the
/// secret), and nothing is left installed.
fn check_plugins_walk(server: &TestServer) {
    let admin = server.admin();
    assert_eq!(
        admin.get("/api/v1/plugins/crm-relay").status,
        404,
        "the operator removed it"
    );
    let installed = admin.get("/api/v1/tenants/acme/plugins");
    assert_eq!(installed.json["items"], json!([]), "{}", installed.text);
    let audit = admin.get("/api/v1/tenants/acme/audit?limit=200");
    let actions: Vec<(String, String)> = audit.json["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter(|e| e["action"].as_str().is_some_and(|a| a.starts_with("plugin.")))
                .map(|e| {
                    (
                        e["action"].as_str().unwrap_or_default().to_owned(),
                        e["target"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    for wanted in [
        ("plugin.installed", "crm-relay"),
        ("plugin.configured", "crm-relay"),
        ("plugin.installed", "calendly"),
        ("plugin.uninstalled", "calendly"),
        ("plugin.uninstalled", "crm-relay"),
    ] {
        assert!(
            actions.iter().any(|(a, r)| (a.as_str(), r.as_str()) == wanted),
            "{wanted:?} in {actions:?}"
        );
    }
    assert!(!audit.text.contains(WALK_PLUGIN_SECRET), "{}", audit.text);
}
