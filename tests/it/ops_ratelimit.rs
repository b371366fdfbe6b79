//! Rate limits by tier, their headers, and usage counters.

use std::time::Duration;

use serde_json::json;

use crate::support::{Response, TestServer};

fn header_u64(resp: &Response, name: &str) -> u64 {
    resp.header(name)
        .unwrap_or_else(|| panic!("missing {name}: {:?}", resp.headers))
        .parse()
        .unwrap()
}

/// Waits for a fresh window when the current one ends too soon for a burst of requests.
fn wait_for_room(resp: &Response) {
    let reset = header_u64(resp, "ratelimit-reset");
    if reset < 8 {
        std::thread::sleep(Duration::from_secs(reset) + Duration::from_millis(200));
    }
}

fn create_tenant_on_tier(server: &TestServer, slug: &str, tier: &str) {
    let resp = server
        .admin()
        .post("/api/v1/tenants", &json!({"name": slug, "slug": slug, "tier": tier}));
    assert_eq!(resp.status, 201, "{}", resp.text);
}

#[test]
fn tenant_tokens_are_limited_per_minute_by_tier_with_headers() {
    let server = TestServer::start_with(|c| {
        c.rate_limit_free = 5;
        c.rate_limit_pro = 8;
        c.rate_limit_platform = 20_000;
    });
    create_tenant_on_tier(&server, "freebie", "free");
    create_tenant_on_tier(&server, "propro", "pro");
    let free = server.with_token(&server.tenant_token("freebie", &["connections:read"]));
    let free_other = server.with_token(&server.tenant_token("freebie", &["connections:read"]));
    let pro = server.with_token(&server.tenant_token("propro", &["connections:read"]));

    wait_for_room(&server.admin().get("/api/v1/scopes"));
    for n in 1..=5u64 {
        let resp = free.get("/api/v1/tenants/freebie");
        assert_eq!(resp.status, 200, "{}", resp.text);
        assert_eq!(header_u64(&resp, "ratelimit-limit"), 5);
        assert_eq!(header_u64(&resp, "ratelimit-remaining"), 5 - n);
        let reset = header_u64(&resp, "ratelimit-reset");
        assert!((1..=60).contains(&reset), "{reset}");
    }
    let over = free.get("/api/v1/tenants/freebie");
    assert_eq!(over.status, 429, "{}", over.text);
    assert_eq!(over.code(), "rate_limited");
    assert_eq!(over.header("content-type"), Some("application/problem+json"));
    let retry_after = header_u64(&over, "retry-after");
    assert!((1..=60).contains(&retry_after));
    assert_eq!(header_u64(&over, "ratelimit-remaining"), 0);
    // Errors count too, and a limited request does not reach the handler.
    assert_eq!(free.get("/api/v1/tenants/nope").status, 429);

    // Another token of the same tenant has its own budget.
    let resp = free_other.get("/api/v1/tenants/freebie");
    assert_eq!(resp.status, 200);
    assert_eq!(header_u64(&resp, "ratelimit-remaining"), 4);

    // A tier change applies from the next request.
    let upgraded = server
        .admin()
        .patch("/api/v1/tenants/freebie", &serde_json::json!({"tier": "pro"}));
    assert_eq!(upgraded.status, 200, "{}", upgraded.text);
    let resp = free_other.get("/api/v1/tenants/freebie");
    assert_eq!(header_u64(&resp, "ratelimit-limit"), 8);

    // The pro tier allows 8.
    for n in 1..=8u64 {
        let resp = pro.get("/api/v1/tenants/propro");
        assert_eq!(resp.status, 200);
        assert_eq!(header_u64(&resp, "ratelimit-limit"), 8);
        assert_eq!(header_u64(&resp, "ratelimit-remaining"), 8 - n);
    }
    assert_eq!(pro.get("/api/v1/tenants/propro").status, 429);

    // Unknown API paths answer 404 with the headers too.
    let unknown = server.admin().get("/api/v1/no/such/thing");
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.code(), "not_found");
    assert!(unknown.header("ratelimit-remaining").is_some());

    // The platform token has its own generous limit.
    let admin = server.admin().get("/api/v1/tenants");
    assert_eq!(admin.status, 200);
    assert_eq!(header_u64(&admin, "ratelimit-limit"), 20_000);

    // Rejections are counted in the metrics.
    let metrics = server.admin().get("/metrics");
    assert_eq!(metrics.status, 200);
    assert!(
        metrics.text.contains("tessera_rate_limited_total{kind=\"token\"} 3"),
        "{}",
        metrics.text
    );
}

#[test]
fn anonymous_callers_have_their_own_limit_per_address() {
    let server = TestServer::start_with(|c| {
        c.rate_limit_anonymous = 3;
    });
    let anon = server.anonymous();
    wait_for_room(&anon.get("/api/v1/tenants"));
    // One request already spent by wait_for_room unless a new window started.
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let resp = anon.get("/api/v1/tenants");
        assert!(resp.header("ratelimit-limit").is_some(), "{:?}", resp.headers);
        statuses.push(resp.status);
    }
    assert_eq!(*statuses.last().unwrap(), 429, "{statuses:?}");
    assert!(statuses.contains(&401), "{statuses:?}");
    // A bad token is an anonymous caller too, not a way around the limit.
    let bad = server.with_token("tsr_not_a_token");
    assert_eq!(bad.get("/api/v1/tenants").status, 429);
    // A valid token is not affected by the address's limit.
    assert_eq!(server.admin().get("/api/v1/scopes").status, 200);
}

#[test]
fn usage_counts_requests_per_token_route_and_status_class() {
    let server = TestServer::start_with(|c| c.rate_limit_free = 1000);
    server.create_tenant("acme");
    server.create_tenant("globex");
    let reader_token = server.tenant_token("acme", &["connections:read"]);
    let reader = server.with_token(&reader_token);
    let auditor = server.with_token(&server.tenant_token("acme", &["audit:read"]));
    let outsider = server.with_token(&server.tenant_token("globex", &["audit:read", "connections:read"]));
    for _ in 0..4 {
        assert_eq!(reader.get("/api/v1/tenants/acme").status, 200);
    }
    assert_eq!(reader.get("/api/v1/tenants/acme/connections/stripe").status, 404);
    assert_eq!(reader.get("/api/v1/tenants/acme/audit").status, 403);
    assert_eq!(outsider.get("/api/v1/tenants/globex").status, 200);

    let usage = auditor.get("/api/v1/tenants/acme/usage");
    assert_eq!(usage.status, 200, "{}", usage.text);
    let reader_id = server.admin().get("/api/v1/tenants/acme/tokens").json["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["scopes"] == json!(["connections:read"]))
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let items = usage.json["items"].as_array().unwrap();
    let count = |route: &str, class: &str| {
        items
            .iter()
            .filter(|i| i["token_id"] == reader_id.as_str() && i["route"] == route && i["status_class"] == class)
            .map(|i| i["count"].as_u64().unwrap())
            .sum::<u64>()
    };
    assert_eq!(count("/api/v1/tenants/{tenant}", "2xx"), 4, "{}", usage.text);
    assert_eq!(count("/api/v1/tenants/{tenant}/connections/{provider}", "4xx"), 1);
    assert_eq!(count("/api/v1/tenants/{tenant}/audit", "4xx"), 1);
    let by_token = usage.json["by_token"].as_array().unwrap();
    let reader_total = by_token.iter().find(|t| t["token_id"] == reader_id.as_str()).unwrap();
    assert_eq!(reader_total["count"], 6);
    assert!(usage.json["by_status_class"]["2xx"].as_u64().unwrap() >= 4);
    // Another tenant's requests are not in this tenant's usage.
    assert!(!usage.text.contains("globex"));
    assert!(items.iter().all(|i| i["actor"].as_str().unwrap() != "platform"));

    // A window in the past is empty; bad bounds are named.
    let past = auditor.get("/api/v1/tenants/acme/usage?from=2001-01-01T00:00:00Z&to=2001-02-01T00:00:00Z");
    assert_eq!(past.status, 200);
    assert_eq!(past.json["total"], 0);
    let bad = auditor.get("/api/v1/tenants/acme/usage?from=yesterday");
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json["errors"][0]["field"], "from");
    // The scope and the tenant are enforced.
    assert_eq!(reader.get("/api/v1/tenants/acme/usage").status, 403);
    let mismatch = outsider.get("/api/v1/tenants/acme/usage");
    assert_eq!(mismatch.status, 403);
    assert_eq!(mismatch.code(), "tenant_mismatch");
}
