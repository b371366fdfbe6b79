//! Outbound delivery end to end: core actions emit events, tessera signs and delivers them
//! to a local receiver that checks every one with the reference Standard Webhooks library.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::outbound::{Receiver, eventually};
use crate::support::{Client, TestServer};

pub const WAIT: Duration = Duration::from_secs(15);

pub fn create_endpoint(client: &Client, tenant: &str, body: Value) -> Value {
    let resp = client.post(&format!("/api/v1/tenants/{tenant}/webhook-endpoints"), &body);
    assert_eq!(resp.status, 201, "{}", resp.text);
    resp.json
}

pub fn put_openai(client: &Client, tenant: &str, key: &str) {
    let resp = client.put(
        &format!("/api/v1/tenants/{tenant}/connections/openai"),
        &json!({"credentials": {"api_key": key}}),
    );
    assert!(resp.status == 201 || resp.status == 200, "{}", resp.text);
}

pub fn deliveries(client: &Client, tenant: &str, endpoint: &str) -> Vec<Value> {
    let resp = client.get(&format!(
        "/api/v1/tenants/{tenant}/webhook-endpoints/{endpoint}/deliveries"
    ));
    assert_eq!(resp.status, 200, "{}", resp.text);
    resp.json["items"].as_array().cloned().unwrap_or_default()
}

pub fn all_verified(log: &[Value]) {
    for entry in log {
        assert_eq!(entry["verified"], json!([true]), "reference verifier rejected: {entry}");
        assert_eq!(entry["content_type"], "application/json");
    }
}

pub fn body_of(entry: &Value) -> Value {
    serde_json::from_str(entry["body"].as_str().unwrap_or("")).expect("JSON body")
}

#[test]
fn events_are_filtered_signed_and_verified_by_the_reference_library() {
    let receiver = Receiver::start();
    let server = TestServer::start();
    server.create_tenant("alpha");
    let admin = server.admin();
    let some = create_endpoint(
        &admin,
        "alpha",
        json!({"url": receiver.url("/some"), "events": ["connection.created", "connection.deleted"]}),
    );
    let every = create_endpoint(&admin, "alpha", json!({"url": receiver.url("/every"), "events": ["*"]}));
    receiver.configure("/some", &[some["secret"].as_str().unwrap()], json!([]));
    receiver.configure("/every", &[every["secret"].as_str().unwrap()], json!([]));

    put_openai(&admin, "alpha", "sk-outbound-canary-1111");
    put_openai(&admin, "alpha", "sk-outbound-canary-2222");
    assert_eq!(admin.delete("/api/v1/tenants/alpha/connections/openai").status, 204);

    let every_log = receiver.wait_for("/every", 3, WAIT);
    let some_log = receiver.wait_for("/some", 2, WAIT);
    std::thread::sleep(Duration::from_millis(300));
    let some_log_after = receiver.log("/some");
    assert_eq!(
        some_log_after.len(),
        2,
        "the filtered endpoint got exactly its two types"
    );
    all_verified(&every_log);
    all_verified(&some_log);

    let mut types: Vec<String> = every_log
        .iter()
        .map(|e| body_of(e)["type"].as_str().unwrap().to_owned())
        .collect();
    types.sort();
    assert_eq!(
        types,
        ["connection.created", "connection.deleted", "connection.updated"]
    );
    let mut some_types: Vec<String> = some_log
        .iter()
        .map(|e| body_of(e)["type"].as_str().unwrap().to_owned())
        .collect();
    some_types.sort();
    assert_eq!(some_types, ["connection.created", "connection.deleted"]);
    for entry in &every_log {
        let body = body_of(entry);
        assert!(
            body["timestamp"].is_string() && body["data"]["provider"] == "openai",
            "{body}"
        );
        assert!(entry["webhook_id"].as_str().unwrap().starts_with("msg_"));
        assert!(
            !entry["body"].as_str().unwrap().contains("canary"),
            "no secret in a payload"
        );
    }
    // The same event has the same webhook-id at both endpoints.
    let created_id = |log: &[Value]| {
        log.iter()
            .find(|e| body_of(e)["type"] == "connection.created")
            .map(|e| e["webhook_id"].clone())
    };
    assert_eq!(created_id(&every_log), created_id(&some_log));

    let history = eventually("history to show successes", WAIT, || {
        let items = deliveries(&admin, "alpha", every["id"].as_str().unwrap());
        (items.len() == 3 && items.iter().all(|d| d["status"] == "succeeded")).then_some(items)
    });
    for d in &history {
        assert_eq!(d["attempt"], 1);
        assert_eq!(d["response_status"], 200);
        assert!(d["duration_ms"].is_number() && d["next_attempt_at"].is_null());
        assert!(d["message_id"].as_str().unwrap().starts_with("msg_"));
        assert_eq!(d["response_excerpt"], "ok from receiver");
    }
}

#[test]
fn failures_retry_on_schedule_then_exhaust_with_a_stable_webhook_id() {
    let receiver = Receiver::start();
    let server = TestServer::start_with(|c| c.retry_schedule = Some(vec![Duration::from_millis(200); 2]));
    server.create_tenant("alpha");
    let admin = server.admin();
    let ep = create_endpoint(&admin, "alpha", json!({"url": receiver.url("/down"), "events": ["*"]}));
    let secret = ep["secret"].as_str().unwrap();
    receiver.configure(
        "/down",
        &[secret],
        json!([{"status": 500}, {"status": 502}, {"status": 500}, {"status": 200}]),
    );
    put_openai(&admin, "alpha", "sk-1");
    let log = receiver.wait_for("/down", 3, WAIT);
    all_verified(&log);
    let ids: Vec<&Value> = log.iter().map(|e| &e["webhook_id"]).collect();
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "webhook-id stable across retries: {ids:?}"
    );
    let ep_id = ep["id"].as_str().unwrap();
    let done = eventually("the delivery to be exhausted", WAIT, || {
        let items = deliveries(&admin, "alpha", ep_id);
        items.first().filter(|d| d["status"] == "exhausted").cloned()
    });
    assert_eq!(done["attempt"], 3);
    assert_eq!(done["response_status"], 500);
    assert_eq!(done["error"], "HTTP 500");
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(receiver.log("/down").len(), 3, "no attempt after exhaustion");

    // The attempts are all in the delivery's detail, and a manual retry sends it again.
    let detail = admin.get(&format!(
        "/api/v1/tenants/alpha/webhook-endpoints/{ep_id}/deliveries/{}",
        done["id"].as_str().unwrap()
    ));
    let statuses: Vec<&Value> = detail.json["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["response_status"])
        .collect();
    assert_eq!(statuses, [&json!(500), &json!(502), &json!(500)]);
    let retry = admin.post(
        &format!(
            "/api/v1/tenants/alpha/webhook-endpoints/{ep_id}/deliveries/{}/retry",
            done["id"].as_str().unwrap()
        ),
        &json!({}),
    );
    assert_eq!(retry.status, 202, "{}", retry.text);
    let log = receiver.wait_for("/down", 4, WAIT);
    assert_eq!(log[3]["webhook_id"], log[0]["webhook_id"]);
    eventually("the manual retry to succeed", WAIT, || {
        let items = deliveries(&admin, "alpha", ep_id);
        items
            .first()
            .filter(|d| d["status"] == "succeeded" && d["attempt"] == 4)
            .cloned()
    });

    // The stats chart counts attempts per hour: 3 failed and 1 succeeded so far.
    let stats = admin.get("/api/v1/tenants/alpha/webhook-endpoints/stats?hours=24");
    assert_eq!(stats.status, 200, "{}", stats.text);
    let buckets = stats.json["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 24);
    let last = buckets.last().unwrap();
    assert_eq!(
        (last["succeeded"].as_u64(), last["failed"].as_u64()),
        (Some(1), Some(3))
    );
    assert!(buckets[..23].iter().all(|b| b["succeeded"] == 0 && b["failed"] == 0));
    assert!(last["hour"].as_str().unwrap().ends_with(":00:00Z"));
    let one = admin.get(&format!(
        "/api/v1/tenants/alpha/webhook-endpoints/stats?hours=2&endpoint_id={ep_id}"
    ));
    assert_eq!(one.json["buckets"].as_array().unwrap().len(), 2);
    assert_eq!(one.json["buckets"][1]["failed"], 3);
    let unknown = admin.get("/api/v1/tenants/alpha/webhook-endpoints/stats?endpoint_id=nope");
    assert_eq!(unknown.status, 404);
}

#[test]
fn retry_after_is_honoured_and_none_policy_never_retries() {
    let receiver = Receiver::start();
    let server = TestServer::start_with(|c| c.retry_schedule = Some(vec![Duration::from_millis(100)]));
    server.create_tenant("alpha");
    let admin = server.admin();
    let busy = create_endpoint(&admin, "alpha", json!({"url": receiver.url("/busy"), "events": ["*"]}));
    let once = create_endpoint(
        &admin,
        "alpha",
        json!({"url": receiver.url("/once"), "events": ["*"], "retry_policy": "none"}),
    );
    receiver.configure(
        "/busy",
        &[busy["secret"].as_str().unwrap()],
        json!([{"status": 429, "retry_after": 2}]),
    );
    receiver.configure("/once", &[once["secret"].as_str().unwrap()], json!([{"status": 503}]));
    put_openai(&admin, "alpha", "sk-1");
    let log = receiver.wait_for("/busy", 2, WAIT);
    assert_eq!(log.len(), 2);
    let gap = log[1]["at_ms"].as_i64().unwrap() - log[0]["at_ms"].as_i64().unwrap();
    assert!(
        gap >= 1900,
        "Retry-After: 2 was honoured over the 0.1 s schedule (gap {gap} ms)"
    );
    all_verified(&log);
    let once_id = once["id"].as_str().unwrap();
    let d = eventually("the none-policy delivery to be exhausted", WAIT, || {
        deliveries(&admin, "alpha", once_id)
            .into_iter()
            .find(|d| d["status"] == "exhausted")
    });
    assert_eq!(
        (d["attempt"].as_u64(), d["response_status"].as_u64()),
        (Some(1), Some(503))
    );
    assert_eq!(receiver.log("/once").len(), 1);
}

#[test]
fn rotation_signs_with_old_and_new_secret_for_the_overlap() {
    let receiver = Receiver::start();
    let server = TestServer::start();
    server.create_tenant("alpha");
    let admin = server.admin();
    let old = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    let ep = create_endpoint(
        &admin,
        "alpha",
        json!({"url": receiver.url("/rot"), "events": ["*"], "secret": old}),
    );
    assert_eq!(ep["secret"], old);
    let path = format!("/api/v1/tenants/alpha/webhook-endpoints/{}", ep["id"].as_str().unwrap());
    let rotated = admin.patch(&path, &json!({"rotate_secret": true}));
    assert_eq!(rotated.status, 200, "{}", rotated.text);
    let new = rotated.json["secret"].as_str().unwrap().to_owned();
    assert!(new.starts_with("whsec_") && new != old);
    assert!(rotated.json["previous_secret_expires_at"].is_string());
    let revealed = admin.get(&format!("{path}/secret"));
    assert_eq!(revealed.json["secret"], new.as_str());
    assert_eq!(revealed.json["previous_secret"], old);

    receiver.configure("/rot", &[old, &new], json!([]));
    let ping = admin.post(&format!("{path}/test"), &json!({}));
    assert_eq!(ping.status, 202, "{}", ping.text);
    let log = receiver.wait_for("/rot", 1, WAIT);
    assert_eq!(
        log[0]["verified"],
        json!([true, true]),
        "both secrets verify: {}",
        log[0]
    );
    assert_eq!(log[0]["signature"].as_str().unwrap().split(' ').count(), 2);
    assert_eq!(body_of(&log[0])["type"], "ping");

    let secret_in_body = admin.patch(&path, &json!({"secret": old}));
    assert_eq!(secret_in_body.status, 400);
}

#[test]
fn a_crash_mid_delivery_redelivers_with_the_same_webhook_id() {
    let receiver = Receiver::start();
    let server = TestServer::start();
    server.create_tenant("alpha");
    let admin = server.admin();
    let ep = create_endpoint(&admin, "alpha", json!({"url": receiver.url("/crash"), "events": ["*"]}));
    receiver.configure("/crash", &[ep["secret"].as_str().unwrap()], json!([{"hang": true}]));
    put_openai(&admin, "alpha", "sk-1");
    receiver.wait_for("/crash", 1, WAIT);
    // The server goes away while the attempt is in flight (its answer never comes).
    let server = server.restart();
    let log = receiver.wait_for("/crash", 2, WAIT);
    assert_eq!(log.len(), 2);
    assert_eq!(log[0]["webhook_id"], log[1]["webhook_id"]);
    assert_eq!(log[1]["verified"], json!([true]));
    let admin = server.admin();
    eventually("the redelivery to be recorded", WAIT, || {
        deliveries(&admin, "alpha", ep["id"].as_str().unwrap())
            .into_iter()
            .find(|d| d["status"] == "succeeded")
    });
}

#[test]
fn a_hanging_endpoint_does_not_delay_the_others() {
    let receiver = Receiver::start();
    let server = TestServer::start_with(|c| c.webhook_endpoint_concurrency = 2);
    server.create_tenant("alpha");
    let admin = server.admin();
    let slow = create_endpoint(&admin, "alpha", json!({"url": receiver.url("/slow"), "events": ["*"]}));
    let fast = create_endpoint(&admin, "alpha", json!({"url": receiver.url("/fast"), "events": ["*"]}));
    let hang: Vec<Value> = (0..50).map(|_| json!({"hang": true})).collect();
    receiver.configure("/slow", &[slow["secret"].as_str().unwrap()], Value::Array(hang));
    receiver.configure("/fast", &[fast["secret"].as_str().unwrap()], json!([]));
    for i in 0..10 {
        put_openai(&admin, "alpha", &format!("sk-{i}"));
    }
    let fast_log = receiver.wait_for("/fast", 10, WAIT);
    assert_eq!(fast_log.len(), 10);
    all_verified(&fast_log);
    assert_eq!(
        receiver.log("/slow").len(),
        2,
        "the hanging endpoint holds only its own two slots"
    );
}

/// Deliveries of a deleted tenant that wait behind a hanging one are never sent: its
/// URL and secret are gone with it. One worker and one slot per endpoint make the order
/// known: once the hanging attempt ends, the worker takes the queues in turn, so by the
/// time a second delivery of another tenant, made after the first arrived, has arrived,
/// the deleted tenant's queue has had its turn.
#[test]
fn a_deleted_tenants_queued_deliveries_are_never_sent() {
    let receiver = Receiver::start();
    let server = TestServer::start_with(|c| {
        c.webhook_workers = 1;
        c.webhook_endpoint_concurrency = 1;
        // The hanging attempt must outlast the deletion, even on a loaded machine.
        c.webhook_timeout = Duration::from_secs(5);
    });
    server.create_tenant("alpha");
    server.create_tenant("beta");
    let admin = server.admin();
    let a = create_endpoint(&admin, "alpha", json!({"url": receiver.url("/a"), "events": ["*"]}));
    let b = create_endpoint(&admin, "beta", json!({"url": receiver.url("/b"), "events": ["*"]}));
    receiver.configure("/a", &[a["secret"].as_str().unwrap()], json!([{"hang": true}]));
    receiver.configure("/b", &[b["secret"].as_str().unwrap()], json!([]));
    for i in 0..4 {
        put_openai(&admin, "alpha", &format!("sk-alpha-{i}"));
    }
    receiver.wait_for("/a", 1, WAIT);
    assert_eq!(admin.delete("/api/v1/tenants/alpha").status, 204);

    put_openai(&admin, "beta", "sk-beta-1");
    receiver.wait_for("/b", 1, WAIT);
    put_openai(&admin, "beta", "sk-beta-2");
    receiver.wait_for("/b", 2, WAIT);
    assert_eq!(
        receiver.log("/a").len(),
        1,
        "only the attempt in flight at the deletion reached alpha's endpoint"
    );
}

#[test]
fn endpoints_and_deliveries_are_tenant_isolated() {
    let receiver = Receiver::start();
    let server = TestServer::start();
    server.create_tenant("alpha");
    server.create_tenant("beta");
    let admin = server.admin();
    let a = create_endpoint(&admin, "alpha", json!({"url": receiver.url("/a"), "events": ["*"]}));
    let b = create_endpoint(&admin, "beta", json!({"url": receiver.url("/b"), "events": ["*"]}));
    receiver.configure("/a", &[a["secret"].as_str().unwrap()], json!([]));
    receiver.configure("/b", &[b["secret"].as_str().unwrap()], json!([]));
    put_openai(&admin, "alpha", "sk-alpha");
    receiver.wait_for("/a", 1, WAIT);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        receiver.log("/b").is_empty(),
        "beta's endpoint never sees alpha's events"
    );

    let alpha = server.with_token(&server.tenant_token("alpha", &["webhooks:read", "webhooks:write"]));
    let b_id = b["id"].as_str().unwrap();
    let a_id = a["id"].as_str().unwrap();
    for (method, path) in [
        ("GET", format!("/api/v1/tenants/beta/webhook-endpoints/{b_id}")),
        ("GET", format!("/api/v1/tenants/beta/webhook-endpoints/{b_id}/secret")),
        (
            "GET",
            format!("/api/v1/tenants/beta/webhook-endpoints/{b_id}/deliveries"),
        ),
        ("POST", format!("/api/v1/tenants/beta/webhook-endpoints/{b_id}/test")),
        ("DELETE", format!("/api/v1/tenants/beta/webhook-endpoints/{b_id}")),
        ("GET", "/api/v1/tenants/beta/webhook-endpoints".to_owned()),
        ("GET", "/api/v1/tenants/beta/webhook-endpoints/stats".to_owned()),
    ] {
        let r = match method {
            "POST" => alpha.post(&path, &json!({})),
            "DELETE" => alpha.delete(&path),
            _ => alpha.get(&path),
        };
        assert_eq!((r.status, r.code()), (403, "tenant_mismatch"), "{method} {path}");
    }
    // Beta's endpoint id under alpha's own path is simply not found.
    for (method, path) in [
        ("GET", format!("/api/v1/tenants/alpha/webhook-endpoints/{b_id}")),
        ("GET", format!("/api/v1/tenants/alpha/webhook-endpoints/{b_id}/secret")),
        (
            "GET",
            format!("/api/v1/tenants/alpha/webhook-endpoints/{b_id}/deliveries"),
        ),
        ("PATCH", format!("/api/v1/tenants/alpha/webhook-endpoints/{b_id}")),
        ("POST", format!("/api/v1/tenants/alpha/webhook-endpoints/{b_id}/replay")),
        ("DELETE", format!("/api/v1/tenants/alpha/webhook-endpoints/{b_id}")),
    ] {
        let r = match method {
            "POST" => alpha.post(&path, &json!({"since": "2026-01-01T00:00:00Z"})),
            "PATCH" => alpha.patch(&path, &json!({})),
            "DELETE" => alpha.delete(&path),
            _ => alpha.get(&path),
        };
        assert_eq!(r.status, 404, "{method} {path}: {}", r.text);
    }
    let a_delivery = deliveries(&alpha, "alpha", a_id)[0]["id"].as_str().unwrap().to_owned();
    let cross = admin.get(&format!(
        "/api/v1/tenants/beta/webhook-endpoints/{b_id}/deliveries/{a_delivery}"
    ));
    assert_eq!(cross.status, 404);
    let listed = alpha.get("/api/v1/tenants/alpha/webhook-endpoints");
    assert_eq!(listed.json["items"].as_array().unwrap().len(), 1);
}
