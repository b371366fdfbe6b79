//! Endpoint health: 410 Gone and continuous failure disable an endpoint, admins are
//! notified, and re-enabling offers a replay of exactly what was missed.

use std::time::Duration;

use serde_json::{Value, json};

use crate::outbound_delivery::{WAIT, all_verified, body_of, create_endpoint, deliveries, put_openai};
use crate::support::TestServer;
use crate::support::outbound::{Receiver, eventually};

#[test]
fn gone_disables_the_endpoint_notifies_and_reenabling_offers_replay() {
    let receiver = Receiver::start();
    let server = TestServer::start();
    server.create_tenant("alpha");
    let admin = server.admin();
    let ep = create_endpoint(&admin, "alpha", json!({"url": receiver.url("/gone"), "events": ["*"]}));
    let ep_id = ep["id"].as_str().unwrap();
    receiver.configure("/gone", &[ep["secret"].as_str().unwrap()], json!([{"status": 410}]));
    put_openai(&admin, "alpha", "sk-1");
    let path = format!("/api/v1/tenants/alpha/webhook-endpoints/{ep_id}");
    let disabled = eventually("the endpoint to be disabled", WAIT, || {
        let r = admin.get(&path);
        (r.json["active"] == false).then_some(r.json)
    });
    assert_eq!(disabled["disabled_reason"], "gone");
    let d = &deliveries(&admin, "alpha", ep_id)[0];
    assert_eq!(d["status"], "exhausted");
    assert!(d["error"].as_str().unwrap().contains("410"), "{d}");
    let notes = admin.get("/api/v1/tenants/alpha/notifications");
    assert!(
        notes.json["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["kind"] == "webhook_endpoint.disabled"),
        "{}",
        notes.text
    );

    // Events while disabled are not delivered; re-enabling says what was missed.
    put_openai(&admin, "alpha", "sk-2");
    assert_eq!(admin.delete("/api/v1/tenants/alpha/connections/openai").status, 204);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(receiver.log("/gone").len(), 1);
    let test_while_disabled = admin.post(&format!("{path}/test"), &json!({}));
    assert_eq!(test_while_disabled.status, 409, "{}", test_while_disabled.text);
    let enabled = admin.patch(&path, &json!({"active": true}));
    assert_eq!(enabled.status, 200, "{}", enabled.text);
    assert_eq!(enabled.json["active"], true);
    // Missed: the event answered 410 and the two sent while disabled.
    assert_eq!(enabled.json["missed"]["events"], 3, "{}", enabled.text);
    let replay = admin.post(&format!("{path}/replay"), &enabled.json["missed"]["replay"]);
    assert_eq!(replay.status, 202, "{}", replay.text);
    assert_eq!(replay.json["scheduled"], 3);
    let log = receiver.wait_for("/gone", 4, WAIT);
    let mut types: Vec<String> = log[1..]
        .iter()
        .map(|e| body_of(e)["type"].as_str().unwrap().to_owned())
        .collect();
    types.sort();
    assert_eq!(
        types,
        ["connection.created", "connection.deleted", "connection.updated"]
    );
    all_verified(&log);
    assert!(
        log.iter()
            .any(|e| e["webhook_id"] == log[0]["webhook_id"] && e["status"] == 200)
    );

    // Nothing is missing any more; replay of a single event by id resends it anyway,
    // with its original webhook-id.
    let again = admin.post(&format!("{path}/replay"), &enabled.json["missed"]["replay"]);
    assert_eq!(again.json["scheduled"], 0, "{}", again.text);
    let first = &log[0];
    let event_id = first["webhook_id"].as_str().unwrap().trim_start_matches("msg_");
    let one = admin.post(&format!("{path}/replay"), &json!({"event_id": event_id}));
    assert_eq!(one.status, 202, "{}", one.text);
    let log = receiver.wait_for("/gone", 5, WAIT);
    assert_eq!(log[4]["webhook_id"], first["webhook_id"]);
    let bad = admin.post(&format!("{path}/replay"), &json!({"event_id": "nope"}));
    assert_eq!(bad.status, 404);
    let neither = admin.post(&format!("{path}/replay"), &json!({}));
    assert_eq!(neither.status, 400);
}

#[test]
fn an_endpoint_failing_past_the_threshold_is_disabled_and_admins_notified() {
    // The threshold is 5 days by default (TESSERA_WEBHOOK_DISABLE_AFTER_SECS); 1 s here.
    let receiver = Receiver::start();
    let server = TestServer::start_with(|c| {
        c.retry_schedule = Some(vec![Duration::from_millis(300); 8]);
        c.webhook_disable_after = Duration::from_secs(1);
    });
    server.create_tenant("alpha");
    let admin = server.admin();
    let ep = create_endpoint(
        &admin,
        "alpha",
        json!({"url": receiver.url("/broken"), "events": ["*"]}),
    );
    let ok = create_endpoint(&admin, "alpha", json!({"url": receiver.url("/fine"), "events": ["*"]}));
    receiver.configure("/broken", &[ep["secret"].as_str().unwrap()], json!([]));
    receiver.configure("/fine", &[ok["secret"].as_str().unwrap()], json!([]));
    let fail: Vec<Value> = (0..20).map(|_| json!({"status": 500})).collect();
    receiver.configure("/broken", &[ep["secret"].as_str().unwrap()], Value::Array(fail));
    put_openai(&admin, "alpha", "sk-1");
    let path = format!("/api/v1/tenants/alpha/webhook-endpoints/{}", ep["id"].as_str().unwrap());
    let disabled = eventually("the failing endpoint to be disabled", WAIT, || {
        let r = admin.get(&path);
        (r.json["active"] == false).then_some(r.json)
    });
    assert_eq!(disabled["disabled_reason"], "failing");
    assert!(disabled["failing_since"].is_string());
    let d = &deliveries(&admin, "alpha", ep["id"].as_str().unwrap())[0];
    assert_eq!(d["status"], "exhausted", "{d}");
    assert!(d["error"].as_str().unwrap().contains("endpoint disabled"), "{d}");
    let notes = admin.get("/api/v1/tenants/alpha/notifications");
    let note = notes.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["kind"] == "webhook_endpoint.disabled")
        .cloned()
        .expect("a notification for the admins");
    assert_eq!(note["data"]["reason"], "failing");
    let attempts = receiver.log("/broken").len();
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(receiver.log("/broken").len(), attempts, "no attempts once disabled");
    // The healthy endpoint of the same tenant was never affected.
    assert_eq!(receiver.log("/fine").len(), 1);
    assert_eq!(
        admin
            .get(&format!(
                "/api/v1/tenants/alpha/webhook-endpoints/{}",
                ok["id"].as_str().unwrap()
            ))
            .json["active"],
        true
    );
}
