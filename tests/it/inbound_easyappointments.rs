//! Easy!Appointments as the En Garde guide uses it: stats and insights computed from its
//! API, importing bookers as signups (`status_filter: "all"` included), syncing them into
//! the tenant's Brevo list, and a written summary from the tenant's Anthropic account
//! that sees only aggregate figures.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::support::inbound::*;
use crate::support::{FakeServer, TestServer};

fn authorised(headers: &HeaderMap) -> bool {
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some("Bearer ea-token")
}

/// The customers behind the appointments, as `GET /customers/{id}` encodes them.
const CUSTOMERS: &[(u32, &str, &str, &str, &str)] = &[
    (10, "Ines", "Prado", "ines@example.com", "Lisbon"),
    (11, "Joao", "Mota", "joao@mail.example.org", "Porto"),
    (12, "Kim", "Sato", "KIM@example.com", "Lisbon"),
    (13, "Lia", "Rosa", "lia@example.com", "Faro"),
];

/// Imitates Easy!Appointments' REST API v1 as documented
/// (https://easyappointments.org/documentation/rest-api/, the resources' `api_encode`):
/// `Authorization: Bearer <API token>` from Settings → Integrations → API,
/// `/index.php/api/v1/appointments?from&till&page&length` (pages of `length`, default 20),
/// `/customers/{id}`, `/services`, `/providers`; unauthorised requests answer 401.
pub fn fake_easyappointments() -> FakeServer {
    let appointments = json!([
        {"id": 1, "book": "2026-10-20 08:00:00", "start": "2026-11-02 10:00:00", "end": "2026-11-02 11:00:00", "hash": "a1", "color": "#7cbae8", "status": "Booked", "location": "", "notes": "", "customerId": 10, "providerId": 2, "serviceId": 1, "googleCalendarId": null},
        {"id": 2, "book": "2026-10-25 09:00:00", "start": "2026-11-02 12:00:00", "end": "2026-11-02 13:00:00", "hash": "a2", "color": "#7cbae8", "status": "Cancelled", "location": "", "notes": "", "customerId": 11, "providerId": 3, "serviceId": 2, "googleCalendarId": null},
        {"id": 3, "book": "2026-10-30 10:00:00", "start": "2026-11-03 09:00:00", "end": "2026-11-03 10:00:00", "hash": "a3", "color": "#7cbae8", "status": "Booked", "location": "", "notes": "", "customerId": 10, "providerId": 2, "serviceId": 2, "googleCalendarId": null},
        {"id": 4, "book": "2026-11-01 11:00:00", "start": "2026-11-04 09:00:00", "end": "2026-11-04 10:00:00", "hash": "a4", "color": "#7cbae8", "status": "Booked", "location": "", "notes": "", "customerId": 12, "providerId": 2, "serviceId": 1, "googleCalendarId": null},
        {"id": 5, "book": "2026-11-20 09:00:00", "start": "2099-12-01 09:00:00", "end": "2099-12-01 10:00:00", "hash": "a5", "color": "#7cbae8", "status": "Booked", "location": "", "notes": "", "customerId": 13, "providerId": 3, "serviceId": 1, "googleCalendarId": null}
    ]);
    let list = move |headers: HeaderMap, Query(q): Query<std::collections::HashMap<String, String>>| {
        let appointments = appointments.clone();
        async move {
            if !authorised(&headers) {
                return (StatusCode::UNAUTHORIZED, axum::Json(json!({"message": "Unauthorized"})));
            }
            let page: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
            let length: usize = q.get("length").and_then(|l| l.parse().ok()).unwrap_or(20);
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
                .skip((page - 1) * length)
                .take(length)
                .cloned()
                .collect();
            (StatusCode::OK, axum::Json(Value::Array(rows)))
        }
    };
    let customer = |headers: HeaderMap, Path(id): Path<u32>| async move {
        if !authorised(&headers) {
            return (StatusCode::UNAUTHORIZED, axum::Json(json!({"message": "Unauthorized"})));
        }
        let Some((_, first, last, email, city)) = CUSTOMERS.iter().find(|c| c.0 == id) else {
            return (
                StatusCode::NOT_FOUND,
                axum::Json(json!({"code": 404, "message": "The requested record was not found!"})),
            );
        };
        (
            StatusCode::OK,
            axum::Json(json!({"id": id, "firstName": first, "lastName": last, "email": email,
                "phone": if id == 10 { "0123456789" } else { "" }, "address": "Some Str. 123", "city": city,
                "zip": "1000-001", "notes": "", "timezone": "Europe/Lisbon", "language": "english"})),
        )
    };
    let guarded = |body: Value| {
        move |headers: HeaderMap| {
            let body = body.clone();
            async move {
                if !authorised(&headers) {
                    return (StatusCode::UNAUTHORIZED, axum::Json(json!({"message": "Unauthorized"})));
                }
                (StatusCode::OK, axum::Json(body))
            }
        }
    };
    FakeServer::start(
        Router::new()
            .route("/index.php/api/v1/appointments", get(list))
            .route("/index.php/api/v1/customers/{id}", get(customer))
            .route(
                "/index.php/api/v1/services",
                get(guarded(json!([
                    {"id": 1, "name": "Haircut", "duration": 60, "price": 10.0, "currency": "Euro", "description": "", "availabilitiesType": "flexible", "attendantsNumber": 1, "categoryId": null},
                    {"id": 2, "name": "Colour", "duration": 60, "price": 30.0, "currency": "Euro", "description": "", "availabilitiesType": "flexible", "attendantsNumber": 1, "categoryId": null}
                ]))),
            )
            .route(
                "/index.php/api/v1/providers",
                get(guarded(json!([
                    {"id": 2, "firstName": "Chloe", "lastName": "Stylist", "email": "chloe@salon.example", "services": [1, 2]},
                    {"id": 3, "firstName": "Marco", "lastName": "Colorist", "email": "marco@salon.example", "services": [1, 2]}
                ]))),
            ),
    )
}

/// Brevo's contacts API: `POST /v3/contacts` with the `api-key` header; the first call
/// answers 500 (so the job is retried), then 201 for a new contact.
fn fake_brevo() -> FakeServer {
    let calls = Arc::new(AtomicUsize::new(0));
    FakeServer::start(Router::new().route(
        "/v3/contacts",
        post(move |headers: HeaderMap| {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            async move {
                if headers.get("api-key").and_then(|v| v.to_str().ok()) != Some("xkeysib-ea") {
                    return (
                        StatusCode::UNAUTHORIZED,
                        axum::Json(json!({"code": "unauthorized", "message": "Key not found"})),
                    );
                }
                if n == 0 {
                    return (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        axum::Json(json!({"code": "internal_error"})),
                    );
                }
                (StatusCode::CREATED, axum::Json(json!({"id": 40 + n})))
            }
        }),
    ))
}

/// Anthropic's Messages API (`POST /v1/messages`, `x-api-key`, `anthropic-version`):
/// answers a text block, or 401 `authentication_error` for another key.
pub fn fake_anthropic() -> FakeServer {
    FakeServer::start(Router::new().route(
        "/v1/messages",
        post(|headers: HeaderMap, axum::Json(request): axum::Json<Value>| async move {
            if headers.get("x-api-key").and_then(|v| v.to_str().ok()) != Some("sk-ant-tenant") {
                return (
                    StatusCode::UNAUTHORIZED,
                    axum::Json(json!({"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}})),
                );
            }
            (
                StatusCode::OK,
                axum::Json(json!({
                    "id": "msg_01XFDUDYJgAACzvnptvVoYEL", "type": "message", "role": "assistant",
                    "model": request["model"],
                    "content": [{"type": "text", "text": "Bookings were steady; Haircut led. Follow up on the cancellation."}],
                    "stop_reason": "end_turn", "stop_sequence": null,
                    "usage": {"input_tokens": 120, "output_tokens": 24}
                })),
            )
        }),
    ))
}

struct Setup {
    server: TestServer,
    ea: FakeServer,
    brevo: FakeServer,
    anthropic: FakeServer,
}

fn setup() -> Setup {
    let (ea, brevo, anthropic) = (fake_easyappointments(), fake_brevo(), fake_anthropic());
    let server = server_with(Some(&format!(
        "[providers.brevo]\napi_base_url = \"{}\"\n[providers.anthropic]\napi_base_url = \"{}\"\n",
        brevo.base, anthropic.base
    )));
    server.create_tenant("brand-a");
    Setup {
        server,
        ea,
        brevo,
        anthropic,
    }
}

fn connect_ea(s: &Setup) {
    connect(
        &s.server,
        "brand-a",
        "easyappointments",
        json!({"credentials": {"api_key": "ea-token"}, "config": {"base_url": s.ea.base}}),
    );
}

/// Posts a job-queuing request and waits for the job to finish.
fn run_job(client: &crate::support::Client, path: &str, body: Value, kind: &str) -> Value {
    let resp = client.post(path, &body);
    assert_eq!(resp.status, 202, "{}", resp.text);
    let job_id = resp.json["job_id"].as_str().unwrap().to_owned();
    wait_for("the job", || {
        items(&client.get(&format!("/api/v1/tenants/brand-a/jobs?kind={kind}")))
            .into_iter()
            .find(|j| j["id"] == job_id.as_str() && (j["status"] == "succeeded" || j["status"] == "failed"))
    })
}

const IMPORT: &str = "/api/v1/tenants/brand-a/easyappointments/import";

#[test]
fn stats_and_import_from_easyappointments() {
    let s = setup();
    let token = s
        .server
        .tenant_token("brand-a", &["signups:read", "signups:write", "events:read"]);
    let client = s.server.with_token(&token);
    let stats_path = "/api/v1/tenants/brand-a/easyappointments/stats?date_from=2026-11-01&date_to=2026-11-30";
    assert_eq!(client.get(stats_path).status, 404, "no connection yet");
    connect_ea(&s);

    let stats = client.get(stats_path);
    assert_eq!(stats.status, 200, "{}", stats.text);
    assert_eq!(stats.json["total"], 4);
    assert_eq!(
        stats.json["by_day"],
        json!([{"day": "2026-11-02", "count": 2}, {"day": "2026-11-03", "count": 1}, {"day": "2026-11-04", "count": 1}])
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
    let bad = client.post(IMPORT, &json!({"date_from": "2026-11-30", "date_to": "2026-11-01"}));
    assert_eq!(bad.status, 400, "{}", bad.text);
    let unknown = client.post(
        IMPORT,
        &json!({"date_from": "2026-11-01", "date_to": "2026-11-30", "colour": "red"}),
    );
    assert_eq!(unknown.status, 400);

    // A range with no appointments succeeds with its counts.
    let empty = run_job(
        &client,
        IMPORT,
        json!({"date_from": "2020-01-01", "date_to": "2020-01-31", "status_filter": "all"}),
        "easyappointments.import",
    );
    assert_eq!(empty["status"], "succeeded", "{empty}");
    assert_eq!(
        empty["result"],
        json!({"found": 0, "imported": 0, "skipped": 0, "new_signups": 0})
    );

    let job = run_job(
        &client,
        IMPORT,
        json!({"date_from": "2026-11-01", "date_to": "2026-11-30", "status_filter": "Booked", "auto_invite": false}),
        "easyappointments.import",
    );
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(
        job["result"],
        json!({"found": 4, "imported": 3, "skipped": 1, "new_signups": 2})
    );
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

    // The guide's own request: `status_filter: "all"` takes every status; what is already
    // imported is skipped.
    let all = run_job(
        &client,
        IMPORT,
        json!({"date_from": "2026-11-01", "date_to": "2026-11-30", "auto_invite": false, "status_filter": "all"}),
        "easyappointments.import",
    );
    assert_eq!(
        all["result"],
        json!({"found": 4, "imported": 1, "skipped": 3, "new_signups": 1})
    );
    assert_eq!(
        items(&client.get("/api/v1/tenants/brand-a/signups?provider=easyappointments")).len(),
        3
    );
    run_job(
        &client,
        IMPORT,
        json!({"date_from": "2099-12-01", "date_to": "2099-12-31", "auto_invite": true}),
        "easyappointments.import",
    );
    let lia = items(&client.get("/api/v1/tenants/brand-a/signups?email=lia@example.com"));
    assert_eq!(lia[0]["status"], "invited");
    assert_eq!(items(&client.get("/api/v1/tenants/brand-a/notifications")).len(), 4);
    // Every request carried the tenant's token on the documented paths.
    assert!(
        s.ea.recorded().iter().all(|r| r.path.starts_with("/index.php/api/v1/")
            && r.header("authorization").as_deref() == Some("Bearer ea-token"))
    );
}

const SYNC: &str = "/api/v1/tenants/brand-a/easyappointments/sync-to-email-list";

#[test]
fn bookers_sync_into_the_tenants_brevo_list() {
    let s = setup();
    let client = s
        .server
        .with_token(&s.server.tenant_token("brand-a", &["signups:write", "events:read"]));
    let range = json!({"date_from": "2026-11-01", "date_to": "2026-11-30"});
    assert_eq!(client.post(SYNC, &range).status, 404, "no Easy!Appointments connection");
    connect_ea(&s);
    assert_eq!(client.post(SYNC, &range).status, 404, "no Brevo connection");
    connect(
        &s.server,
        "brand-a",
        "brevo",
        json!({"credentials": {"api_key": "xkeysib-ea"}}),
    );
    let no_list = client.post(SYNC, &range);
    assert_eq!(no_list.status, 400, "{}", no_list.text);
    assert_eq!(no_list.json["errors"][0]["field"], "list_id");

    // The list comes from the Brevo connection's config; Brevo's first answer is a 500.
    connect(&s.server, "brand-a", "brevo", json!({"config": {"list_id": 123}}));
    let job = run_job(&client, SYNC, range.clone(), "easyappointments.sync_email_list");
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["attempts"], 2, "retried after Brevo's 500");
    assert_eq!(
        job["result"],
        json!({"found": 4, "synced": 3, "skipped": 1, "list_id": 123})
    );
    let upserts: Vec<Value> = s.brevo.recorded()[1..]
        .iter()
        .map(|r| {
            assert_eq!(r.header("api-key").as_deref(), Some("xkeysib-ea"));
            serde_json::from_slice(&r.body).unwrap()
        })
        .collect();
    let mut emails: Vec<&str> = upserts.iter().map(|b| b["email"].as_str().unwrap()).collect();
    emails.sort();
    assert_eq!(emails, ["ines@example.com", "joao@mail.example.org", "kim@example.com"]);
    assert!(
        upserts
            .iter()
            .all(|b| b["listIds"] == json!([123]) && b["updateEnabled"] == true)
    );
    let ines = upserts.iter().find(|b| b["email"] == "ines@example.com").unwrap();
    assert_eq!(ines["attributes"], json!({"FIRSTNAME": "Ines", "LASTNAME": "Prado"}));

    // The guide's `list_id` in the request wins over the connection's.
    let before = s.brevo.count();
    let job = run_job(
        &client,
        SYNC,
        json!({"date_from": "2099-12-01", "date_to": "2099-12-31", "list_id": 77}),
        "easyappointments.sync_email_list",
    );
    assert_eq!(job["result"]["list_id"], 77);
    let last: Value = serde_json::from_slice(&s.brevo.recorded()[before].body).unwrap();
    assert_eq!(
        (last["email"].as_str(), &last["listIds"]),
        (Some("lia@example.com"), &json!([77]))
    );
    let bad = client.post(
        SYNC,
        &json!({"date_from": "2026-11-01", "date_to": "2026-11-30", "list_id": -1}),
    );
    assert_eq!(bad.status, 400, "{}", bad.text);
    // Nothing of this reached the signup queue: syncing a list is not importing.
    assert!(items(&s.server.admin().get("/api/v1/tenants/brand-a/signups")).is_empty());
}

fn insights(client: &crate::support::Client, query: &str) -> crate::support::Response {
    client.get(&format!("/api/v1/tenants/brand-a/easyappointments/insights?{query}"))
}

#[test]
fn insights_by_analysis_type_and_a_summary_that_sees_only_figures() {
    let s = setup();
    let client = s.server.with_token(
        &s.server
            .tenant_token("brand-a", &["signups:read", "signups:write", "events:read"]),
    );
    connect_ea(&s);
    let range = "date_from=2026-11-01&date_to=2099-12-31";

    let overview = insights(&client, &format!("{range}&analysis_type=overview"));
    assert_eq!(overview.status, 200, "{}", overview.text);
    let figures = &overview.json["figures"];
    assert_eq!(figures["total"], 5);
    assert_eq!(
        figures["by_provider"],
        json!([{"provider": "Chloe Stylist", "count": 3}, {"provider": "Marco Colorist", "count": 2}])
    );
    assert_eq!(
        figures["by_status"],
        json!([{"status": "Booked", "count": 4}, {"status": "Cancelled", "count": 1}])
    );
    assert_eq!(
        insights(&client, range).json["analysis_type"],
        "overview",
        "the default"
    );

    let patterns = insights(&client, &format!("{range}&analysis_type=patterns")).json;
    let weekday = |d: &str| {
        patterns["figures"]["by_weekday"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["weekday"] == d)
            .unwrap()["count"]
            .clone()
    };
    // 2026-11-02 is a Monday (two), 11-03 Tuesday, 11-04 Wednesday, 2099-12-01 Tuesday.
    assert_eq!(
        (weekday("Monday"), weekday("Tuesday"), weekday("Wednesday")),
        (json!(2), json!(2), json!(1))
    );
    assert_eq!(
        patterns["figures"]["by_hour"],
        json!([{"hour": 9, "count": 3}, {"hour": 10, "count": 1}, {"hour": 12, "count": 1}])
    );
    assert!(patterns["figures"]["lead_time_days"]["median"].as_f64().unwrap() > 0.0);

    let demographics = insights(&client, &format!("{range}&analysis_type=demographics")).json;
    let d = &demographics["figures"];
    assert_eq!(d["customers"], 4);
    assert_eq!(d["with_phone"], 1);
    assert_eq!(d["email_domains"][0], json!({"domain": "example.com", "count": 3}));
    assert_eq!(d["cities"][0], json!({"city": "Lisbon", "count": 2}));

    // Conversion: one Ines signup approved, the other bookers not in the queue yet.
    run_job(
        &client,
        IMPORT,
        json!({"date_from": "2026-11-02", "date_to": "2026-11-02", "status_filter": "Booked"}),
        "easyappointments.import",
    );
    let ines = items(&client.get("/api/v1/tenants/brand-a/signups?email=ines@example.com"));
    let approved = client.post(
        &format!(
            "/api/v1/tenants/brand-a/signups/{}/approve",
            ines[0]["id"].as_str().unwrap()
        ),
        &json!({}),
    );
    assert_eq!(approved.status, 200, "{}", approved.text);
    let conversion = insights(&client, &format!("{range}&analysis_type=conversion")).json;
    let c = &conversion["figures"];
    assert_eq!((c["booked"].clone(), c["cancelled"].clone()), (json!(5), json!(1)));
    assert_eq!(
        (c["attended"].clone(), c["upcoming"].clone()),
        (json!(3), json!(1)),
        "{conversion}"
    );
    assert_eq!(c["bookers"], 4);
    assert_eq!(c["signups"]["approved"], 1);
    assert_eq!(c["approval_rate"], 0.25);

    assert_eq!(
        insights(&client, &format!("{range}&analysis_type=astrology")).status,
        400
    );
    let no_summary = insights(&client, &format!("{range}&narrative=true"));
    assert_eq!(no_summary.status, 400, "{}", no_summary.text);
    assert_eq!(no_summary.json["errors"][0]["field"], "narrative");
    assert_eq!(s.anthropic.count(), 0);

    // With the tenant's Anthropic: the Messages API with its key, the default model, and
    // nothing but aggregate figures in the request.
    connect(
        &s.server,
        "brand-a",
        "anthropic",
        json!({"credentials": {"api_key": "sk-ant-tenant"}}),
    );
    for kind in ["overview", "demographics", "patterns", "conversion"] {
        let resp = insights(&client, &format!("{range}&analysis_type={kind}&narrative=true"));
        assert_eq!(resp.status, 200, "{kind}: {}", resp.text);
        assert_eq!(
            resp.json["narrative"],
            "Bookings were steady; Haircut led. Follow up on the cancellation."
        );
        assert!(resp.json["figures"].is_object());
    }
    let sent = s.anthropic.recorded();
    assert_eq!(sent.len(), 4);
    for request in &sent {
        assert_eq!(request.path, "/v1/messages");
        assert_eq!(request.header("x-api-key").as_deref(), Some("sk-ant-tenant"));
        assert_eq!(request.header("anthropic-version").as_deref(), Some("2023-06-01"));
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body["model"], "claude-sonnet-4-5");
        assert!(body["max_tokens"].as_u64().unwrap() > 0);
        assert_eq!(body["messages"][0]["role"], "user");
        let text = String::from_utf8_lossy(&request.body).into_owned();
        for (_, first, last, email, _) in CUSTOMERS {
            assert!(
                !text.to_lowercase().contains(&email.to_lowercase()),
                "{email} reached Anthropic: {text}"
            );
            for name in [first, last] {
                assert!(!text.contains(name), "{name} reached Anthropic: {text}");
            }
        }
        for staff in ["Chloe", "Stylist", "Marco", "Colorist", "salon.example"] {
            assert!(!text.contains(staff), "{staff} reached Anthropic: {text}");
        }
    }
    let first: Value = serde_json::from_slice(&sent[0].body).unwrap();
    assert!(first["messages"][0]["content"].as_str().unwrap().contains("Haircut"));

    // The model from the connection's config; a refused key is the provider's error (502).
    connect(
        &s.server,
        "brand-a",
        "anthropic",
        json!({"config": {"model": "claude-haiku-4-5"}}),
    );
    let resp = insights(&client, &format!("{range}&narrative=true"));
    assert_eq!(resp.json["model"], "claude-haiku-4-5", "{}", resp.text);
    let body: Value = serde_json::from_slice(&s.anthropic.recorded().last().unwrap().body).unwrap();
    assert_eq!(body["model"], "claude-haiku-4-5");
    connect(
        &s.server,
        "brand-a",
        "anthropic",
        json!({"credentials": {"api_key": "sk-ant-wrong"}}),
    );
    let refused = insights(&client, &format!("{range}&narrative=true"));
    assert_eq!(refused.status, 502, "{}", refused.text);
    assert!(refused.text.contains("invalid x-api-key"), "{}", refused.text);
    assert!(!refused.text.contains("sk-ant-wrong"));
    let audit = s.server.admin().get("/api/v1/tenants/brand-a/audit?limit=200");
    assert!(
        audit.text.contains("easyappointments.insights_narrative"),
        "{}",
        audit.text
    );
}
