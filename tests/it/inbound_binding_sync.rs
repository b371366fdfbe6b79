//! Binding sync (the PronaFlow guide's `POST /bindings/{id}/sync`): stored events are
//! processed again with the current mapping, idempotently, with the counts in the job.

use serde_json::{Value, json};

use crate::support::inbound::*;
use crate::support::{Client, TestServer};

fn sync(client: &Client, body: Option<Value>) -> crate::support::Response {
    match body {
        Some(body) => client.post("/api/v1/tenants/brand-a/bindings/poshvip/sync", &body),
        None => client.send("POST", "/api/v1/tenants/brand-a/bindings/poshvip/sync", None, &[]),
    }
}

fn finished(server: &TestServer, resp: &crate::support::Response) -> Value {
    assert_eq!(resp.status, 202, "{}", resp.text);
    let job_id = resp.json["job_id"].as_str().unwrap().to_owned();
    wait_for("the sync job", || {
        items(
            &server
                .admin()
                .get("/api/v1/tenants/brand-a/jobs?kind=inbound.sync_binding&limit=100"),
        )
        .into_iter()
        .find(|j| j["id"] == job_id.as_str() && j["status"] == "succeeded" && j["result"]["done"] == true)
    })
}

#[test]
fn a_sync_reprocesses_stored_events_with_the_current_mapping() {
    let server = server_with(None);
    server.create_tenant("brand-a");
    connect_posh(&server, "brand-a", "posh-secret");
    let admin = server.admin();
    let writer = server.with_token(&server.tenant_token("brand-a", &["webhooks:write", "webhooks:read"]));

    // A mapping that points at the wrong place: the purchases arrive but fail.
    let put = writer.put(
        "/api/v1/tenants/brand-a/bindings/poshvip",
        &json!({"purchase.created": {"email": "/purchase/buyer/email"}}),
    );
    assert_eq!(put.status, 200, "{}", put.text);
    let mut ids = Vec::new();
    for (n, email) in ["ana@example.com", "bia@example.com", "ana@example.com"]
        .iter()
        .enumerate()
    {
        let resp = post_posh(
            &server,
            "brand-a",
            "posh-secret",
            &purchase("purchase.created", &format!("p{n}"), email),
        );
        assert_eq!(resp.status, 200, "{}", resp.text);
        ids.push(resp.json["event_id"].as_str().unwrap().to_owned());
    }
    for id in &ids {
        assert_eq!(wait_processed(&admin, "brand-a", id)["status"], "failed");
    }
    // A forged delivery is stored as rejected and a sync never touches it.
    let forged = post_posh(
        &server,
        "brand-a",
        "wrong",
        &purchase("purchase.created", "px", "eve@example.com"),
    );
    assert_eq!(forged.status, 401);
    assert!(items(&admin.get("/api/v1/tenants/brand-a/signups")).is_empty());

    // Fix the mapping, then sync: every stored purchase is processed with it.
    let put = writer.put(
        "/api/v1/tenants/brand-a/bindings/poshvip",
        &json!({"purchase.created": {"email": "/purchase/customer/email"}}),
    );
    assert_eq!(put.status, 200, "{}", put.text);
    let job = finished(&server, &sync(&writer, None));
    assert_eq!(
        job["result"],
        json!({"provider": "poshvip", "events": 3, "processed": 3, "unhandled": 0, "failed": 0, "done": true}),
        "{job}"
    );
    let signups = items(&admin.get("/api/v1/tenants/brand-a/signups"));
    let mut emails: Vec<&str> = signups.iter().map(|s| s["email"].as_str().unwrap()).collect();
    emails.sort();
    assert_eq!(emails, ["ana@example.com", "bia@example.com"], "one signup per email");
    let ana = signups.iter().find(|s| s["email"] == "ana@example.com").unwrap();
    assert_eq!(ana["sources"].as_array().unwrap().len(), 2);
    for id in &ids {
        assert_eq!(
            admin.get(&format!("/api/v1/tenants/brand-a/events/{id}")).json["status"],
            "processed"
        );
    }
    let notifications = items(&admin.get("/api/v1/tenants/brand-a/notifications")).len();
    assert_eq!(notifications, 2);

    // Again: nothing is duplicated. `since` limits the sync to newer events.
    let again = finished(&server, &sync(&writer, Some(json!({}))));
    assert_eq!(again["result"]["processed"], 3);
    assert_eq!(items(&admin.get("/api/v1/tenants/brand-a/signups")).len(), 2);
    let ana = items(&admin.get("/api/v1/tenants/brand-a/signups?email=ana@example.com"));
    assert_eq!(ana[0]["sources"].as_array().unwrap().len(), 2);
    assert_eq!(
        items(&admin.get("/api/v1/tenants/brand-a/notifications")).len(),
        notifications
    );
    let later = finished(&server, &sync(&writer, Some(json!({"since": "2999-01-01T00:00:00Z"}))));
    assert_eq!(later["result"]["events"], 0);

    // Bad input, a provider without webhooks, a narrower token, another tenant.
    assert_eq!(sync(&writer, Some(json!({"since": "yesterday"}))).status, 400);
    assert_eq!(
        sync(&writer, Some(json!({"until": "2020-01-01T00:00:00Z"}))).status,
        400
    );
    assert_eq!(
        writer
            .post("/api/v1/tenants/brand-a/bindings/resend/sync", &json!({}))
            .status,
        404
    );
    let reader = server.with_token(&server.tenant_token("brand-a", &["webhooks:read"]));
    assert_eq!(sync(&reader, None).status, 403);
    server.create_tenant("brand-b");
    let other = server.with_token(&server.tenant_token("brand-b", &["webhooks:write"]));
    assert_eq!(sync(&other, None).status, 403);
    let theirs = other.post("/api/v1/tenants/brand-b/bindings/poshvip/sync", &json!({}));
    assert_eq!(theirs.status, 202, "{}", theirs.text);
    assert!(items(&admin.get("/api/v1/tenants/brand-b/signups")).is_empty());
}
