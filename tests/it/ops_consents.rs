//! Consent lifecycle, isolation, audit, and audit retention.

use std::time::Duration;

use serde_json::json;

use crate::support::TestServer;

fn grant_body(kind: &str, resource_id: &str) -> serde_json::Value {
    json!({
        "consent_type": kind,
        "resource_type": "contact",
        "resource_id": resource_id,
        "description": "Share attendee list with the venue",
        "subject": "ada@example.com"
    })
}

#[test]
fn consents_are_granted_listed_revoked_and_audited() {
    let server = TestServer::start();
    server.create_tenant("acme");
    server.create_tenant("globex");
    let writer = server.with_token(&server.tenant_token("acme", &["consents:write", "consents:read"]));
    let reader = server.with_token(&server.tenant_token("acme", &["consents:read"]));
    let auditor = server.with_token(&server.tenant_token("acme", &["audit:read"]));
    let outsider = server.with_token(&server.tenant_token("globex", &["consents:write", "consents:read"]));

    let created = writer.post("/api/v1/tenants/acme/consents", &grant_body("THIRD_PARTY", "c-1"));
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.json["id"].as_str().unwrap().to_owned();
    assert_eq!(created.json["active"], true);
    assert_eq!(created.json["revoked_at"], json!(null));
    assert_eq!(created.json["subject"], "ada@example.com");
    let marketing = writer.post("/api/v1/tenants/acme/consents", &grant_body("MARKETING", "c-1"));
    assert_eq!(marketing.status, 201);

    // Status per type for the resource.
    let status = reader.get("/api/v1/tenants/acme/consents/status?resource_type=contact&resource_id=c-1");
    assert_eq!(status.status, 200, "{}", status.text);
    assert_eq!(status.json["consents"]["THIRD_PARTY"]["granted"], true);
    assert_eq!(status.json["consents"]["THIRD_PARTY"]["consent_id"], id.as_str());
    assert_eq!(status.json["consents"]["MARKETING"]["granted"], true);
    assert_eq!(status.json["consents"]["DATA_PROCESSING"]["granted"], false);

    // Read-only tokens cannot grant or revoke.
    assert_eq!(
        reader
            .post("/api/v1/tenants/acme/consents", &grant_body("MARKETING", "c-2"))
            .status,
        403
    );
    assert_eq!(
        reader.delete(&format!("/api/v1/tenants/acme/consents/{id}")).status,
        403
    );
    // Another tenant sees neither the consent nor the list.
    assert_eq!(
        outsider.get(&format!("/api/v1/tenants/globex/consents/{id}")).status,
        404
    );
    assert_eq!(
        outsider.delete(&format!("/api/v1/tenants/globex/consents/{id}")).status,
        404
    );
    assert_eq!(outsider.get("/api/v1/tenants/acme/consents").code(), "tenant_mismatch");
    assert_eq!(outsider.get("/api/v1/tenants/globex/consents").json["items"], json!([]));

    // Revoking keeps the record.
    let revoked = writer.delete(&format!("/api/v1/tenants/acme/consents/{id}"));
    assert_eq!(revoked.status, 200, "{}", revoked.text);
    assert_eq!(revoked.json["active"], false);
    let revoked_at = revoked.json["revoked_at"].as_str().unwrap().to_owned();
    let again = writer.delete(&format!("/api/v1/tenants/acme/consents/{id}"));
    assert_eq!(again.status, 200);
    assert_eq!(again.json["revoked_at"], revoked_at.as_str());
    let one = reader.get(&format!("/api/v1/tenants/acme/consents/{id}"));
    assert_eq!(one.json["revoked_at"], revoked_at.as_str());
    let status = reader.get("/api/v1/tenants/acme/consents/status?resource_type=contact&resource_id=c-1");
    assert_eq!(status.json["consents"]["THIRD_PARTY"]["granted"], false);
    assert_eq!(status.json["consents"]["MARKETING"]["granted"], true);

    let all = reader.get("/api/v1/tenants/acme/consents");
    assert_eq!(all.json["items"].as_array().unwrap().len(), 2);
    let active = reader.get("/api/v1/tenants/acme/consents?active=true&consent_type=MARKETING");
    assert_eq!(active.json["items"].as_array().unwrap().len(), 1);
    let paged = reader.get("/api/v1/tenants/acme/consents?limit=1");
    assert_eq!(paged.json["items"].as_array().unwrap().len(), 1);
    assert!(paged.json["next_cursor"].is_string());

    // Each change is audited, once.
    let audit = auditor.get("/api/v1/tenants/acme/audit");
    let actions: Vec<&str> = audit.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions.iter().filter(|a| **a == "consent.granted").count(),
        2,
        "{actions:?}"
    );
    assert_eq!(
        actions.iter().filter(|a| **a == "consent.revoked").count(),
        1,
        "{actions:?}"
    );
}

#[test]
fn bad_consent_input_is_named_and_nothing_is_stored() {
    let server = TestServer::start();
    server.create_tenant("acme");
    let writer = server.with_token(&server.tenant_token("acme", &["consents:write", "consents:read"]));
    let cases = [
        (
            json!({"consent_type": "SPAM", "resource_type": "c", "resource_id": "1", "description": "d"}),
            "consent_type",
        ),
        (
            json!({"consent_type": "MARKETING", "resource_type": " ", "resource_id": "1", "description": "d"}),
            "resource_type",
        ),
        (
            json!({"consent_type": "MARKETING", "resource_type": "c", "resource_id": "1"}),
            "description",
        ),
        (
            json!({"consent_type": "MARKETING", "resource_type": "c", "resource_id": "1", "description": "d", "extra": 1}),
            "extra",
        ),
    ];
    for (body, field) in cases {
        let resp = writer.post("/api/v1/tenants/acme/consents", &body);
        assert_eq!(resp.status, 400, "{body}: {}", resp.text);
        assert!(resp.text.contains(field), "{field}: {}", resp.text);
    }
    let malformed = writer.send(
        "POST",
        "/api/v1/tenants/acme/consents",
        Some(b"{not json".to_vec()),
        &[("content-type", "application/json")],
    );
    assert_eq!(malformed.status, 400);
    let status = writer.get("/api/v1/tenants/acme/consents/status?resource_type=contact");
    assert_eq!(status.status, 400);
    assert_eq!(status.json["errors"][0]["field"], "resource_id");
    assert_eq!(writer.get("/api/v1/tenants/acme/consents").json["items"], json!([]));
}

#[test]
fn audit_entries_past_retention_are_purged_by_the_worker() {
    let server = TestServer::start_with(|c| {
        c.audit_retention_days = 30;
        c.audit_purge_interval = Duration::from_millis(200);
    });
    let tenant_id = server.create_tenant("acme");
    let db = server.db();
    db.execute(
        "INSERT INTO audit_log (id, tenant_id, at, actor, action) VALUES ('old-entry', ?1, '2001-01-01T00:00:00Z', 'x', 'ancient')",
        [&tenant_id],
    )
    .unwrap();
    let count = |id: &str| -> i64 {
        db.query_row("SELECT COUNT(*) FROM audit_log WHERE id = ?1", [id], |r| r.get(0))
            .unwrap()
    };
    for _ in 0..100 {
        if count("old-entry") == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(count("old-entry"), 0, "the purge worker removed the old entry");
    let recent: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'tenant.created'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(recent >= 1, "recent entries stay");
}
