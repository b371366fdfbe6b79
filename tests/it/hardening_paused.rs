//! Paused mode: a restored copy started with `paused` acts on nothing outside — no job,
//! no outbound delivery, no email, no token refresh — until an operator resumes it, and
//! then does all of it.

use std::path::Path;
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::cli::tessera;
use crate::support::inbound::{connect, connect_posh, items, post_posh, purchase, wait_for};
use crate::support::{FakeServer, TestServer, providers_file};

/// Everything outside tessera a tenant's work reaches: Resend, Brevo, Zoom's token
/// endpoint and API, and the tenant's own webhook receiver.
fn world() -> FakeServer {
    FakeServer::start(
        Router::new()
            .route(
                "/emails",
                post(|| async { (StatusCode::OK, axum::Json(json!({"id": "email_1"}))) }),
            )
            .route(
                "/v3/contacts",
                post(|| async { (StatusCode::CREATED, axum::Json(json!({"id": 17}))) }),
            )
            .route(
                "/oauth/token",
                post(|| async {
                    axum::Json(json!({"access_token": "zoom-token", "token_type": "bearer", "expires_in": 3599}))
                }),
            )
            .route("/v2/users/me", get(|| async { axum::Json(json!({"id": "me"})) }))
            .route("/hook", post(|| async { StatusCode::NO_CONTENT })),
    )
}

fn settings(config: &mut tessera::Config, providers_dir: &Path, world: &str, paused: bool) {
    let toml = format!(
        "[providers.resend]\napi_base_url = \"{world}\"\n[providers.brevo]\napi_base_url = \"{world}\"\n\
         [providers.zoom]\ntoken_url = \"{world}/oauth/token\"\napi_base_url = \"{world}/v2\"\n"
    );
    config.providers_file = Some(providers_file(providers_dir, &toml));
    for (name, value) in [
        ("job_retry_base_ms", "50"),
        ("retry_schedule", "0.05,0.05"),
        ("oauth_refresh_interval_secs", "0.2"),
        // Every stored token counts as due: the refresher renews it on each pass.
        ("oauth_refresh_margin_secs", "7200"),
        ("paused", if paused { "true" } else { "false" }),
    ] {
        assert!(config.apply(name, value).unwrap(), "{name}");
    }
}

fn calls_to(world: &FakeServer, path: &str) -> usize {
    world.recorded().iter().filter(|r| r.path == path).count()
}

fn pause_state(server: &TestServer) -> Value {
    let resp = server.admin().get("/api/v1/platform/pause");
    assert_eq!(resp.status, 200, "{}", resp.text);
    resp.json
}

#[test]
fn a_restored_copy_started_paused_calls_nothing_outside_until_resumed() {
    if crate::ON_POSTGRES {
        // The copy is `tessera backup`'s, of the SQLite file; PostgreSQL's are pg_dump's.
        return;
    }
    let world = world();
    // The original: a tenant with a Zoom token, Resend, Brevo, a webhook endpoint and a
    // purchase whose processing (and its email, list sync and delivery) is still pending.
    let original = TestServer::start_with(|c| settings(c, &c.data_dir.with_file_name("etc"), &world.base, false));
    original.create_tenant("brand");
    let admin = original.admin();
    connect(
        &original,
        "brand",
        "zoom",
        json!({"credentials": {"account_id": "acc", "client_id": "zid", "client_secret": "zoom-secret-123456"}}),
    );
    let token = admin.get("/api/v1/tenants/brand/connections/zoom/token");
    assert_eq!(token.status, 200, "{}", token.text);
    // From here on the original holds its work, so the backup has it all still due.
    let paused = admin.post("/api/v1/platform/pause", &json!({"reason": "taking a backup"}));
    assert_eq!(paused.status, 200, "{}", paused.text);
    assert_eq!(paused.json["paused"], true);
    let patched = admin.patch(
        "/api/v1/tenants/brand",
        &json!({"notification_emails": ["ops@brand.example"]}),
    );
    assert_eq!(patched.status, 200, "{}", patched.text);
    connect_posh(&original, "brand", "posh-secret");
    connect(
        &original,
        "brand",
        "resend",
        json!({"credentials": {"api_key": "re_test_key_123"}}),
    );
    connect(
        &original,
        "brand",
        "brevo",
        json!({"credentials": {"api_key": "xkeysib-test"}, "config": {"list_id": 7}}),
    );
    let endpoint = admin.post(
        "/api/v1/tenants/brand/webhook-endpoints",
        &json!({"url": format!("{}/hook", world.base), "events": ["*"]}),
    );
    assert_eq!(endpoint.status, 201, "{}", endpoint.text);
    let delivery = post_posh(
        &original,
        "brand",
        "posh-secret",
        &purchase("purchase.created", "p1", "ana@example.com"),
    );
    assert_eq!(delivery.status, 200, "receiving is not held: {}", delivery.text);
    assert!(!items(&admin.get("/api/v1/tenants/brand/jobs?status=pending")).is_empty());

    // Backup and restore into a new data dir, as the operator guide's drill does.
    let restored = tempfile::tempdir().unwrap();
    let data = restored.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let backup = restored.path().join("backup.db");
    let out = tessera()
        .arg("--data-dir")
        .arg(original.data_dir())
        .arg("backup")
        .arg(&backup)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::copy(&backup, data.join("tessera.db")).unwrap();
    std::fs::copy(original.data_dir().join("master.key"), data.join("master.key")).unwrap();
    let admin_token = original.admin_token.clone();
    drop(original);
    // A backup of a live (unpaused) server: clear the flag the original was taken under,
    // so only the restored copy's own `paused` setting holds it.
    let cleared = tessera().arg("--data-dir").arg(&data).arg("resume").output().unwrap();
    assert!(cleared.status.success(), "{}", String::from_utf8_lossy(&cleared.stderr));
    let before = world.count();

    let providers_dir = restored.path().join("etc");
    let copy = TestServer::start_on_data_dir(restored, data, admin_token, |c| {
        settings(c, &providers_dir, &world.base, true)
    });
    let state = pause_state(&copy);
    assert_eq!(state["paused"], true, "{state}");
    assert_eq!(state["changed_by"], "serve --paused");
    assert!(state["held"].as_array().is_some_and(|h| !h.is_empty()));
    assert_eq!(copy.admin().get("/api/v1/status").json["paused"], true);
    // Work is due (retries every 50 ms, the refresher every 200 ms, deliveries at once),
    // yet for two seconds nothing reaches the outside world.
    let window = Instant::now();
    while window.elapsed() < Duration::from_secs(2) {
        assert_eq!(
            world.count(),
            before,
            "a paused copy called out: {:?}",
            world.recorded().last()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let pending = items(&copy.admin().get("/api/v1/tenants/brand/jobs?status=pending"));
    assert!(!pending.is_empty(), "the held work is still there");

    // Resumed: all of it goes out.
    let resumed = copy.admin().post("/api/v1/platform/resume", &json!({}));
    assert_eq!(resumed.status, 200, "{}", resumed.text);
    assert_eq!(resumed.json["paused"], false);
    wait_for("the held notification email", || {
        (calls_to(&world, "/emails") > 0).then_some(())
    });
    wait_for("the held list sync", || {
        (calls_to(&world, "/v3/contacts") > 0).then_some(())
    });
    wait_for("the held webhook deliveries", || {
        (calls_to(&world, "/hook") > 0).then_some(())
    });
    let tokens_before = world.recorded()[..before]
        .iter()
        .filter(|r| r.path == "/oauth/token")
        .count();
    wait_for("a background token refresh", || {
        (calls_to(&world, "/oauth/token") > tokens_before).then_some(())
    });
    let audit = copy.admin().get("/api/v1/platform/audit");
    assert!(audit.text.contains("platform.resumed"), "{}", audit.text);
}

#[test]
fn the_cli_pauses_and_resumes_a_running_server_and_only_the_operator_may() {
    let world = world();
    let server = TestServer::start_with(|c| settings(c, &c.data_dir.with_file_name("etc"), &world.base, false));
    server.create_tenant("brand");
    assert_eq!(pause_state(&server)["paused"], false);
    let tenant_admin = server.with_token(&server.tenant_token("brand", &["admin"]));
    assert_eq!(tenant_admin.get("/api/v1/platform/pause").status, 403);
    assert_eq!(tenant_admin.post("/api/v1/platform/pause", &json!({})).status, 403);
    assert_eq!(
        server.anonymous().post("/api/v1/platform/resume", &json!({})).status,
        401
    );
    // Every principal sees whether the server is paused.
    assert_eq!(tenant_admin.get("/api/v1/status").json["paused"], false);

    let cli = |args: &[&str]| {
        let out = tessera()
            .arg("--data-dir")
            .arg(server.data_dir())
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    assert_eq!(cli(&["pause", "--reason", "restore drill"])["paused"], true);
    let seen = wait_for("the server to notice the pause", || {
        tenant_admin.get("/api/v1/status").json["paused"]
            .as_bool()
            .filter(|p| *p)
    });
    assert!(seen);
    let state = pause_state(&server);
    assert_eq!(
        (state["changed_by"].as_str(), state["reason"].as_str()),
        (Some("cli"), Some("restore drill"))
    );
    // Held: a new delivery's processing waits.
    connect_posh(&server, "brand", "posh-secret");
    let event = post_posh(
        &server,
        "brand",
        "posh-secret",
        &purchase("purchase.created", "p9", "bo@example.com"),
    );
    assert_eq!(event.status, 200);
    let event_id = event.json["event_id"].as_str().unwrap().to_owned();
    std::thread::sleep(Duration::from_millis(300));
    let stored = server.admin().get(&format!("/api/v1/tenants/brand/events/{event_id}"));
    assert_eq!(stored.json["status"], "received", "processed while paused");

    assert_eq!(cli(&["resume"])["paused"], false);
    wait_for("the held processing", || {
        let stored = server.admin().get(&format!("/api/v1/tenants/brand/events/{event_id}"));
        (stored.json["status"] == "processed").then_some(())
    });
    assert_eq!(pause_state(&server)["paused"], false);
}

#[test]
fn the_ui_shows_the_pause_and_the_operator_resumes_from_it_in_chromium() {
    use crate::support::ui::create_user;
    use crate::ui_browser::{PASSWORD, run_script};

    let server = TestServer::start_with(|c| assert!(c.apply("paused", "true").unwrap()));
    server.create_tenant("acme");
    create_user(&server, "ada@acme.test", PASSWORD, Some("acme"));
    create_user(&server, "root@example.test", PASSWORD, None);
    assert_eq!(pause_state(&server)["paused"], true);
    run_script(&server, "paused_screens.mjs", &[]);
    let state = pause_state(&server);
    assert_eq!(state["paused"], false, "the browser resumed it");
    assert!(
        state["changed_by"].as_str().is_some_and(|by| by.starts_with("user:")),
        "{state}"
    );
}
