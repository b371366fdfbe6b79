//! Easy!Appointments: stats computed from its API, and importing bookers as signups.

use axum::Router;
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use serde_json::{Value, json};

use crate::support::FakeServer;
use crate::support::inbound::*;

fn authorised(headers: &HeaderMap) -> bool {
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some("Bearer ea-token")
}

/// Imitates the documented `/index.php/api/v1` endpoints.
pub fn fake_easyappointments() -> FakeServer {
    let appointments = json!([
        {"id": 1, "start": "2026-11-01 10:00:00", "end": "2026-11-01 11:00:00", "status": "Booked", "customerId": 10, "serviceId": 1},
        {"id": 2, "start": "2026-11-01 12:00:00", "end": "2026-11-01 13:00:00", "status": "Cancelled", "customerId": 11, "serviceId": 2},
        {"id": 3, "start": "2026-11-02 09:00:00", "end": "2026-11-02 10:00:00", "status": "Booked", "customerId": 10, "serviceId": 2},
        {"id": 4, "start": "2026-11-03 09:00:00", "end": "2026-11-03 10:00:00", "status": "Booked", "customerId": 12, "serviceId": 1},
        {"id": 5, "start": "2026-12-01 09:00:00", "end": "2026-12-01 10:00:00", "status": "Booked", "customerId": 13, "serviceId": 1}
    ]);
    let list = move |headers: HeaderMap, Query(q): Query<std::collections::HashMap<String, String>>| {
        let appointments = appointments.clone();
        async move {
            if !authorised(&headers) {
                return (StatusCode::UNAUTHORIZED, axum::Json(json!({"message": "Unauthorized"})));
            }
            if q.get("page").map(String::as_str) != Some("1") {
                return (StatusCode::OK, axum::Json(json!([])));
            }
            let from = q.get("from").cloned().unwrap_or_default();
            let till = q.get("till").cloned().unwrap_or_else(|| "9999".into());
            let rows: Vec<Value> = appointments
                .as_array()
                .unwrap()
                .iter()
                .filter(|a| {
                    let day = &a["start"].as_str().unwrap()[..10];
                    day >= from.as_str() && day <= till.as_str()
                })
                .cloned()
                .collect();
            (StatusCode::OK, axum::Json(Value::Array(rows)))
        }
    };
    let customer = |headers: HeaderMap, Path(id): Path<u32>| async move {
        if !authorised(&headers) {
            return (StatusCode::UNAUTHORIZED, axum::Json(json!({})));
        }
        let (first, last, email) = match id {
            10 => ("Ines", "Prado", "ines@example.com"),
            11 => ("Joao", "Mota", "joao@example.com"),
            12 => ("Kim", "Sato", "KIM@example.com"),
            _ => ("Lia", "Rosa", "lia@example.com"),
        };
        (
            StatusCode::OK,
            axum::Json(json!({"id": id, "firstName": first, "lastName": last, "email": email})),
        )
    };
    FakeServer::start(
        Router::new()
            .route("/index.php/api/v1/appointments", get(list))
            .route("/index.php/api/v1/customers/{id}", get(customer))
            .route(
                "/index.php/api/v1/services",
                get(|| async { axum::Json(json!([{"id": 1, "name": "Haircut"}, {"id": 2, "name": "Colour"}])) }),
            ),
    )
}

#[test]
fn stats_and_import_from_easyappointments() {
    let fake = fake_easyappointments();
    let server = server_with(None);
    server.create_tenant("brand-a");
    let token = server.tenant_token("brand-a", &["signups:read", "signups:write", "events:read"]);
    let client = server.with_token(&token);
    let stats_path = "/api/v1/tenants/brand-a/easyappointments/stats?date_from=2026-11-01&date_to=2026-11-30";
    assert_eq!(client.get(stats_path).status, 404, "no connection yet");
    connect(
        &server,
        "brand-a",
        "easyappointments",
        json!({"credentials": {"api_key": "ea-token"}, "config": {"base_url": fake.base}}),
    );

    let stats = client.get(stats_path);
    assert_eq!(stats.status, 200, "{}", stats.text);
    assert_eq!(stats.json["total"], 4);
    assert_eq!(
        stats.json["by_day"],
        json!([{"day": "2026-11-01", "count": 2}, {"day": "2026-11-02", "count": 1}, {"day": "2026-11-03", "count": 1}])
    );
    assert_eq!(
        stats.json["by_service"],
        json!([{"service": "Colour", "count": 2}, {"service": "Haircut", "count": 2}])
    );
    assert_eq!(
        stats.json["by_status"],
        json!([{"status": "Booked", "count": 3}, {"status": "Cancelled", "count": 1}])
    );
    assert_eq!(
        client
            .get("/api/v1/tenants/brand-a/easyappointments/stats?date_from=2026-13-01&date_to=2026-11-30")
            .status,
        400
    );

    let bad = client.post(
        "/api/v1/tenants/brand-a/easyappointments/import",
        &json!({"date_from": "2026-11-30", "date_to": "2026-11-01"}),
    );
    assert_eq!(bad.status, 400, "{}", bad.text);
    let unknown = client.post(
        "/api/v1/tenants/brand-a/easyappointments/import",
        &json!({"date_from": "2026-11-01", "date_to": "2026-11-30", "colour": "red"}),
    );
    assert_eq!(unknown.status, 400);

    let import = |body: Value| {
        let resp = client.post("/api/v1/tenants/brand-a/easyappointments/import", &body);
        assert_eq!(resp.status, 202, "{}", resp.text);
        let job_id = resp.json["job_id"].as_str().unwrap().to_owned();
        wait_for("import job", || {
            items(&client.get("/api/v1/tenants/brand-a/jobs?kind=easyappointments.import"))
                .into_iter()
                .find(|j| j["id"] == job_id.as_str() && j["status"] != "pending" && j["status"] != "running")
        })
    };
    let job = import(
        json!({"date_from": "2026-11-01", "date_to": "2026-11-30", "status_filter": "Booked", "auto_invite": false}),
    );
    assert_eq!(job["status"], "succeeded", "{job}");
    let signups = items(&client.get("/api/v1/tenants/brand-a/signups?provider=easyappointments"));
    let mut emails: Vec<_> = signups
        .iter()
        .map(|s| s["email"].as_str().unwrap().to_owned())
        .collect();
    emails.sort();
    assert_eq!(
        emails,
        ["ines@example.com", "kim@example.com"],
        "cancelled booking skipped"
    );
    let ines = signups.iter().find(|s| s["email"] == "ines@example.com").unwrap();
    assert_eq!(ines["sources"].as_array().unwrap().len(), 2, "two bookings, one signup");
    assert_eq!(ines["status"], "pending");

    // Importing again adds nothing; a new range with auto_invite invites the new booker.
    import(json!({"date_from": "2026-11-01", "date_to": "2026-11-30"}));
    assert_eq!(
        items(&client.get("/api/v1/tenants/brand-a/signups?provider=easyappointments")).len(),
        3
    );
    import(json!({"date_from": "2026-12-01", "date_to": "2026-12-31", "auto_invite": true}));
    let lia = items(&client.get("/api/v1/tenants/brand-a/signups?email=lia@example.com"));
    assert_eq!(lia[0]["status"], "invited");
    assert_eq!(items(&client.get("/api/v1/tenants/brand-a/notifications")).len(), 4);
}
