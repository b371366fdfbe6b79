//! What the admin UI reads beyond the areas' own routes: the platform's audit log, key
//! versions and recorded backups (operator only), token status, audit actors by name,
//! usage per hour, and retrying a failed job (its tenant only, `events:write`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use serde_json::{Value, json};

use crate::cli::tessera;
use crate::support::inbound::{connect, connect_posh, items, post_posh, purchase, server_with, wait_for};
use crate::support::outbound::eventually;
use crate::support::ui::{create_user, sign_in};
use crate::support::{FakeServer, TestServer};

const PLATFORM_SECRET: &str = "platform-client-secret-for-audit-7788";

fn actions(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|e| e["action"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn the_platform_audit_keys_and_backups_are_for_the_operator_only() {
    if crate::ON_POSTGRES {
        // Its backups are `tessera backup`'s copies of the SQLite file.
        return;
    }
    let server = TestServer::start();
    let admin = server.admin();
    let app = admin.put(
        "/api/v1/platform/apps/eventbrite",
        &json!({"client_id": "platform-client", "client_secret": PLATFORM_SECRET}),
    );
    assert_eq!(app.status, 201, "{}", app.text);
    server.create_tenant("acme");
    let gone = server.create_tenant("gone");
    assert_eq!(admin.delete("/api/v1/tenants/gone").status, 204);
    // A tenant's own action stays out of the platform's log.
    let tenant = server.with_token(&server.tenant_token("acme", &["admin"]));
    let own = tenant.post(
        "/api/v1/tenants/acme/tokens",
        &json!({"name": "tenant-made", "scopes": ["events:read"]}),
    );
    assert_eq!(own.status, 201, "{}", own.text);

    let backup_file = server.dir.path().join("audit-backup.db");
    let out = tessera()
        .arg("--data-dir")
        .arg(server.data_dir())
        .arg("backup")
        .arg(&backup_file)
        .output()
        .expect("run tessera backup");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).expect("backup report");

    let log = admin.get("/api/v1/platform/audit");
    assert_eq!(log.status, 200, "{}", log.text);
    let seen = actions(&log.json);
    for action in [
        "platform_app.created",
        "tenant.created",
        "tenant.deleted",
        "backup.created",
    ] {
        assert!(seen.iter().any(|a| a == action), "{action} in {seen:?}");
    }
    let tenant_made = own.json["id"].as_str().expect("token id");
    assert!(
        !log.text.contains(tenant_made),
        "what a tenant's own token does is not the platform's business: {}",
        log.text
    );
    assert!(
        seen.iter().any(|a| a == "token.created"),
        "the platform made the tenant's first token"
    );
    assert!(!log.text.contains(PLATFORM_SECRET), "no secret in the log");
    let entries = log.json["items"].as_array().expect("items");
    let deleted = entries
        .iter()
        .find(|e| e["action"] == "tenant.deleted")
        .expect("tenant.deleted");
    assert_eq!(
        deleted["tenant"],
        json!({"id": gone, "slug": "gone", "deleted": true}),
        "{deleted}"
    );
    assert_eq!(deleted["detail"], json!({"slug": "gone", "name": "gone"}), "{deleted}");
    assert_eq!(
        deleted["actor_name"], "initial admin",
        "the platform token by name: {deleted}"
    );
    assert!(
        deleted["actor"].as_str().is_some_and(|a| a.starts_with("token:")),
        "{deleted}"
    );
    let created = entries
        .iter()
        .find(|e| e["action"] == "tenant.created" && e["target"] != gone.as_str())
        .expect("acme's tenant.created");
    assert_eq!(
        created["tenant"],
        json!({"id": created["target"], "slug": "acme", "deleted": false})
    );
    let gone_created = entries
        .iter()
        .find(|e| e["action"] == "tenant.created" && e["target"] == gone.as_str())
        .expect("gone's tenant.created");
    assert_eq!(
        gone_created["tenant"]["slug"], "gone",
        "named after its deletion too: {gone_created}"
    );
    let backup = entries
        .iter()
        .find(|e| e["action"] == "backup.created")
        .expect("backup.created");
    assert_eq!(
        (backup["actor"].as_str(), backup["actor_name"].as_str()),
        (Some("cli"), None)
    );
    assert!(backup.get("tenant").is_none(), "no tenant: {backup}");

    // Filters and pages like every list.
    let only = admin.get("/api/v1/platform/audit?action=tenant.deleted");
    assert_eq!(actions(&only.json), ["tenant.deleted"], "{}", only.text);
    let first = admin.get("/api/v1/platform/audit?limit=1");
    let cursor = first.json["next_cursor"].as_str().expect("a next page");
    let second = admin.get(&format!("/api/v1/platform/audit?limit=1&cursor={cursor}"));
    assert_eq!(second.status, 200, "{}", second.text);
    assert_ne!(first.json["items"][0]["id"], second.json["items"][0]["id"]);

    // Keys: exactly what `tessera keys status` prints.
    let keys = admin.get("/api/v1/platform/keys");
    assert_eq!(keys.status, 200, "{}", keys.text);
    let cli = tessera()
        .arg("--data-dir")
        .arg(server.data_dir())
        .args(["keys", "status"])
        .output()
        .expect("run tessera keys status");
    assert!(cli.status.success(), "{}", String::from_utf8_lossy(&cli.stderr));
    let printed: Value = serde_json::from_slice(&cli.stdout).expect("keys status JSON");
    assert_eq!(keys.json, printed);
    assert_eq!(keys.json["active_version"], 1);
    assert!(
        keys.json["versions"][0]["data_keys"].as_i64().unwrap_or(0) >= 2,
        "{}",
        keys.text
    );

    let backups = admin.get("/api/v1/platform/backups");
    assert_eq!(backups.status, 200, "{}", backups.text);
    assert_eq!(backups.json["items"][0]["file"], report["file"], "{}", backups.text);
    assert_eq!(backups.json["items"][0]["bytes"], report["bytes"], "{}", backups.text);
    assert_eq!(
        backups.json["items"][0]["tenants"], report["tenants"],
        "{}",
        backups.text
    );
    assert!(backups.json["items"][0]["at"].is_string());

    // Nobody but the operator: a tenant admin token, a tenant admin's session, no token.
    create_user(&server, "ada@acme.test", "correct horse battery staple", Some("acme"));
    let session = sign_in(&server, "ada@acme.test", "correct horse battery staple").expect("sign in");
    for path in [
        "/api/v1/platform/audit",
        "/api/v1/platform/keys",
        "/api/v1/platform/backups",
    ] {
        assert_eq!(tenant.get(path).status, 403, "{path}");
        assert_eq!(session.get(path).status, 403, "{path}");
        assert_eq!(server.anonymous().get(path).status, 401, "{path}");
    }
}

#[test]
fn tokens_say_whether_they_work_and_the_audit_names_who_acted() {
    let server = TestServer::start();
    server.create_tenant("acme");
    let admin = server.admin();
    let base = "/api/v1/tenants/acme/tokens";
    let make = |name: &str, extra: Value| {
        let mut body = json!({"name": name, "scopes": ["events:read"]});
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        let resp = admin.post(base, &body);
        assert_eq!(resp.status, 201, "{}", resp.text);
        (
            resp.json["id"].as_str().expect("id").to_owned(),
            resp.json["token"].as_str().expect("token").to_owned(),
        )
    };
    let soon = crate::support::inbound::now() + 2;
    let expiry = time::OffsetDateTime::from_unix_timestamp(soon)
        .expect("a valid time")
        .format(&time::format_description::well_known::Rfc3339)
        .expect("RFC 3339");
    let (short_id, short) = make("short-lived", json!({"expires_at": expiry}));
    let (paused_id, _) = make("paused", json!({}));
    let (gone_id, _) = make("gone", json!({}));
    let (_, live) = make("live", json!({}));
    assert_eq!(
        admin
            .patch(&format!("{base}/{paused_id}"), &json!({"active": false}))
            .status,
        200
    );
    assert_eq!(admin.delete(&format!("{base}/{gone_id}")).status, 204);

    let status_of = |name: &str| -> String {
        items(&admin.get(base))
            .into_iter()
            .find(|t| t["name"] == name)
            .and_then(|t| t["status"].as_str().map(str::to_owned))
            .unwrap_or_default()
    };
    assert_eq!(status_of("short-lived"), "active");
    assert_eq!(status_of("paused"), "inactive");
    assert_eq!(status_of("gone"), "revoked");
    assert_eq!(status_of("live"), "active");
    assert_eq!(server.with_token(&short).get("/api/v1/tenants/acme/events").status, 200);
    eventually("the short-lived token expires", Duration::from_secs(15), || {
        (status_of("short-lived") == "expired").then_some(())
    });
    assert_eq!(
        server.with_token(&short).get("/api/v1/tenants/acme/events").status,
        401,
        "what the list says is what authentication does"
    );
    let one = admin.get(&format!("{base}?limit=500"));
    let short_row = items(&one)
        .into_iter()
        .find(|t| t["id"] == short_id.as_str())
        .expect("listed");
    assert_eq!(short_row["active"], true, "still switched on, but expired: {short_row}");

    // The audit log names its actors: a token by its name, a user by email.
    let reader = server.with_token(&live);
    assert_eq!(reader.get("/api/v1/tenants/acme/events").status, 200);
    create_user(&server, "ada@acme.test", "correct horse battery staple", Some("acme"));
    sign_in(&server, "ada@acme.test", "correct horse battery staple").expect("sign in");
    let log = server
        .with_token(&server.tenant_token("acme", &["audit:read"]))
        .get("/api/v1/tenants/acme/audit");
    assert_eq!(log.status, 200, "{}", log.text);
    let entries = items(&log);
    let signed_in = entries
        .iter()
        .find(|e| e["action"] == "session.created")
        .expect("sign-in");
    assert_eq!(signed_in["actor_name"], "ada@acme.test", "{signed_in}");
    assert!(signed_in["actor"].as_str().is_some_and(|a| a.starts_with("user:")));
    let revoked = entries
        .iter()
        .find(|e| e["action"] == "token.revoked")
        .expect("revocation");
    // The platform's admin token revoked it: the tenant's log does not name the operator's tokens.
    assert_eq!(revoked["actor_name"], "platform", "{revoked}");
    assert!(!log.text.contains("tsr_"), "never a token in the log");

    // Usage: per token by name, and per hour adding up to the total.
    let usage = admin.get("/api/v1/tenants/acme/usage");
    assert_eq!(usage.status, 200, "{}", usage.text);
    let by_token = usage.json["by_token"].as_array().expect("by_token");
    let live_row = by_token
        .iter()
        .find(|t| t["name"] == "live")
        .expect("the live token's usage");
    assert!(live_row["count"].as_u64().unwrap_or(0) >= 1, "{live_row}");
    let hours = usage.json["by_hour"].as_array().expect("by_hour");
    let per_hour: u64 = hours.iter().map(|h| h["count"].as_u64().unwrap_or(0)).sum();
    assert_eq!(
        per_hour,
        usage.json["total"].as_u64().unwrap_or(u64::MAX),
        "{}",
        usage.text
    );
    let classes: u64 = hours
        .iter()
        .flat_map(|h| h["by_status_class"].as_object().into_iter().flatten())
        .map(|(_, n)| n.as_u64().unwrap_or(0))
        .sum();
    assert_eq!(classes, per_hour);
}

/// Brevo refuses the first contact upsert (400, not retried) and accepts the next.
fn brevo_refusing_once() -> FakeServer {
    let calls = Arc::new(AtomicUsize::new(0));
    FakeServer::start(Router::new().route(
        "/v3/contacts",
        post(move || {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            async move {
                if n == 0 {
                    (
                        StatusCode::BAD_REQUEST,
                        axum::Json(json!({"code": "invalid_parameter"})),
                    )
                } else {
                    (StatusCode::CREATED, axum::Json(json!({"id": 17})))
                }
            }
        }),
    ))
}

#[test]
fn a_failed_job_is_retried_once_by_its_own_tenant() {
    let brevo = brevo_refusing_once();
    let server = server_with(Some(&format!("[providers.brevo]\napi_base_url = \"{}\"\n", brevo.base)));
    server.create_tenant("brand-a");
    server.create_tenant("brand-b");
    connect_posh(&server, "brand-a", "posh-secret");
    connect(
        &server,
        "brand-a",
        "brevo",
        json!({"credentials": {"api_key": "xkeysib-test-key"}, "config": {"list_id": 7}}),
    );
    let sent = post_posh(
        &server,
        "brand-a",
        "posh-secret",
        &purchase("purchase.created", "p1", "m@example.com"),
    );
    assert_eq!(sent.status, 200, "{}", sent.text);
    let admin = server.admin();
    let failed = wait_for("the brevo job fails", || {
        items(&admin.get("/api/v1/tenants/brand-a/jobs?kind=brevo.upsert_contact&status=failed"))
            .into_iter()
            .next()
    });
    let id = failed["id"].as_str().expect("job id").to_owned();
    let retry = format!("/api/v1/tenants/brand-a/jobs/{id}/retry");

    let other = server.with_token(&server.tenant_token("brand-b", &["admin"]));
    let mismatch = other.post(&retry, &json!({}));
    assert_eq!(
        (mismatch.status, mismatch.code()),
        (403, "tenant_mismatch"),
        "{}",
        mismatch.text
    );
    let elsewhere = other.post(&format!("/api/v1/tenants/brand-b/jobs/{id}/retry"), &json!({}));
    assert_eq!(
        elsewhere.status, 404,
        "another tenant's job is not found: {}",
        elsewhere.text
    );
    let reader = server.with_token(&server.tenant_token("brand-a", &["events:read"]));
    assert_eq!(reader.post(&retry, &json!({})).status, 403, "events:read cannot retry");
    assert_eq!(brevo.count(), 1, "nothing ran again");

    let writer = server.with_token(&server.tenant_token("brand-a", &["events:write", "audit:read"]));
    let queued = writer.post(&retry, &json!({}));
    assert_eq!(queued.status, 202, "{}", queued.text);
    assert_eq!(queued.json["status"], "pending");
    assert!(
        queued.json["max_attempts"].as_u64() > queued.json["attempts"].as_u64(),
        "room for another attempt: {}",
        queued.text
    );
    let done = wait_for("the retried job succeeds", || {
        let job = items(&admin.get("/api/v1/tenants/brand-a/jobs?kind=brevo.upsert_contact"))
            .into_iter()
            .find(|j| j["id"] == id.as_str())?;
        (job["status"] == "succeeded").then_some(job)
    });
    assert_eq!(done["attempts"], 2, "{done}");
    assert_eq!(brevo.count(), 2);

    let again = writer.post(&retry, &json!({}));
    assert_eq!((again.status, again.code()), (409, "conflict"), "{}", again.text);
    let unknown = writer.post("/api/v1/tenants/brand-a/jobs/no-such-job/retry", &json!({}));
    assert_eq!(unknown.status, 404);
    let log = writer.get("/api/v1/tenants/brand-a/audit?action=job.retried");
    assert_eq!(items(&log).len(), 1, "{}", log.text);
    assert_eq!(items(&log)[0]["target"], id.as_str());
}

#[test]
fn the_catalog_tells_which_events_are_processed_with_their_default_mappings() {
    let server = TestServer::start();
    let posh = server.admin().get("/api/v1/providers/poshvip");
    assert_eq!(posh.status, 200, "{}", posh.text);
    let handler = &posh.json["webhook"]["handlers"]["purchase.created"];
    assert_eq!(handler["action"], "contact", "{}", posh.text);
    assert_eq!(handler["mapping"]["email"], "/purchase/customer/email", "{}", posh.text);
    let eventbrite = server.admin().get("/api/v1/providers/eventbrite");
    assert_eq!(
        eventbrite.json["webhook"]["handlers"]["order.placed"]["fetch"], "/api_url",
        "a fetched document is named, so the UI knows the webhook cannot preview it: {}",
        eventbrite.text
    );
    let list = server.admin().get("/api/v1/providers");
    let stripe = list.json["items"]
        .as_array()
        .and_then(|items| items.iter().find(|p| p["key"] == "stripe"))
        .expect("stripe listed");
    assert!(
        stripe["webhook"]["handlers"]["customer.created"].is_object(),
        "{stripe}"
    );
}
