//! OpenAPI coverage, `/api/v1/status`, `/metrics`.

use serde_json::json;

use crate::support::TestServer;

/// A concrete path for a route template (placeholders filled with plausible values).
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|segment| match segment {
            "{tenant}" => "acme",
            "{provider}" => "stripe",
            s if s.starts_with('{') => "0190b1c2-0000-7000-8000-000000000000",
            s => s,
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[test]
fn openapi_describes_every_route_the_router_serves() {
    let server = TestServer::start();
    server.create_tenant("acme");
    let doc = server.anonymous().get("/api/v1/openapi.json");
    assert_eq!(doc.status, 200, "{}", doc.text);
    assert_eq!(doc.json["openapi"], "3.1.0");
    let paths = doc.json["paths"].as_object().unwrap();
    let table = tessera::api::routes();
    assert!(table.len() > 20);
    let admin = server.admin();
    for route in &table {
        let method = route.method.as_str().to_ascii_lowercase();
        let method = if method == "any" { "get".to_owned() } else { method };
        let key = tessera::openapi::openapi_path(route.path);
        assert!(
            paths[&key][&method].is_object(),
            "{method} {key} is not in openapi.json"
        );
        // The router serves this row: the answer never comes from the not-found fallback.
        let resp = admin.send(&method.to_ascii_uppercase(), &concrete(route.path), None, &[]);
        assert!(
            !(resp.status == 404 && resp.json["detail"] == "no such route") && resp.status != 405,
            "{} {} is in the table but not routed: {} {}",
            route.method,
            route.path,
            resp.status,
            resp.text
        );
    }
    // Known paths, their parameters, security and problem responses.
    let put = &paths["/api/v1/tenants/{tenant}/connections/{provider}"]["put"];
    let names: Vec<&str> = put["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["tenant", "provider"]);
    assert_eq!(put["security"][0]["bearer"], json!(["connections:write"]));
    assert_eq!(
        put["responses"]["403"]["content"]["application/problem+json"]["schema"]["$ref"],
        "#/components/schemas/Problem"
    );
    assert_eq!(paths["/healthz"]["get"]["security"], json!([]));
    assert!(paths["/api/v1/tenants/{tenant}/consents/{id}"]["delete"].is_object());
    assert!(paths["/api/v1/tenants/{tenant}/usage"]["get"].is_object());
    assert!(paths["/api/v1/tenants"]["post"]["summary"].is_string());
}

#[test]
fn status_reports_counts_scoped_to_the_caller() {
    let server = TestServer::start();
    server.create_tenant("acme");
    server.create_tenant("globex");
    let put = server.admin().put(
        "/api/v1/tenants/acme/connections/resend",
        &json!({"credentials": {"api_key": "re_status_key_123456"}}),
    );
    assert!(put.status == 201 || put.status == 200, "{}", put.text);
    let platform = server.admin().get("/api/v1/status");
    assert_eq!(platform.status, 200, "{}", platform.text);
    assert_eq!(platform.json["version"], env!("CARGO_PKG_VERSION"));
    assert!(platform.json["uptime_seconds"].is_u64());
    assert_eq!(platform.json["tenants"], 2);
    let active_or_pending = platform.json["connections"]["active"].as_i64().unwrap()
        + platform.json["connections"]["pending"].as_i64().unwrap();
    assert_eq!(active_or_pending, 1, "{}", platform.text);
    assert!(platform.json.get("pending_jobs").is_some());
    assert!(platform.json.get("failing_endpoints").is_some());

    let globex = server.with_token(&server.tenant_token("globex", &["connections:read"]));
    let own = globex.get("/api/v1/status");
    assert_eq!(own.status, 200);
    assert_eq!(own.json["scope"], "tenant");
    assert_eq!(own.json["tenants"], 1);
    assert_eq!(own.json["connections"]["active"], 0);
    assert_eq!(own.json["connections"]["pending"], 0);
    assert_eq!(server.anonymous().get("/api/v1/status").status, 401);
}

fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn metrics_are_platform_only_and_move() {
    let server = TestServer::start();
    server.create_tenant("acme");
    let tenant = server.with_token(&server.tenant_token("acme", &["admin"]));
    assert_eq!(server.anonymous().get("/metrics").status, 401);
    assert_eq!(tenant.get("/metrics").status, 403);

    let first = server.admin().get("/metrics");
    assert_eq!(first.status, 200, "{}", first.text);
    assert!(first.header("content-type").unwrap().starts_with("text/plain"));
    for name in [
        "tessera_http_requests_total",
        "tessera_rate_limited_total",
        "tessera_webhooks_received_total",
        "tessera_deliveries_total",
        "tessera_token_refreshes_total",
        "tessera_tenants",
        "tessera_connections",
        "tessera_uptime_seconds",
    ] {
        assert!(
            first.text.contains(&format!("# TYPE {name} ")),
            "{name} missing:\n{}",
            first.text
        );
    }
    let series = "tessera_http_requests_total{route=\"/api/v1/tenants/{tenant}\",status=\"200\"}";
    let before = metric(&first.text, series).unwrap_or(0.0);
    for _ in 0..3 {
        assert_eq!(tenant.get("/api/v1/tenants/acme").status, 200);
    }
    let after = server.admin().get("/metrics");
    assert_eq!(metric(&after.text, series), Some(before + 3.0), "{}", after.text);
    assert_eq!(metric(&after.text, "tessera_tenants"), Some(1.0));
}

#[test]
fn metrics_can_be_made_public() {
    let server = TestServer::start_with(|c| c.metrics_public = true);
    assert_eq!(server.anonymous().get("/metrics").status, 200);
}
