//! Hostile scripts: a loop, a memory bomb and a throw each fail only their own event's
//! processing, with a clear error, while other deliveries keep being processed.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::TestServer;
use crate::support::inbound::{connect_posh, items, post_posh, purchase, wait_for, wait_processed};
use crate::support::plugins::{install, posh_script_package, publish};

fn server() -> TestServer {
    TestServer::start_with(|config| {
        config.job_retry_base = Duration::from_millis(50);
        config.plugin_execution_timeout = Duration::from_millis(300);
        config.plugin_memory_limit_bytes = 8 * 1024 * 1024;
    })
}

/// Installs `script` for tenant `hostile`, sends it a delivery, and checks that the
/// event's error says `expected` while tenant `calm` (same provider, no plugin) gets
/// every one of its deliveries processed meanwhile. Returns the hostile event.
fn hostile_event_fails_alone(script: &str, expected: &str) -> Value {
    let server = server();
    server.create_tenant("hostile");
    server.create_tenant("calm");
    let admin = server.admin();
    let published = publish(&server, &posh_script_package("hostile", script));
    assert_eq!(published.status, 201, "{}", published.text);
    assert_eq!(install(&admin, "hostile", "hostile", json!({})).status, 201);
    connect_posh(&server, "hostile", "s-hostile");
    connect_posh(&server, "calm", "s-calm");

    let bad = post_posh(
        &server,
        "hostile",
        "s-hostile",
        &purchase("purchase.created", "h1", "h@example.com"),
    );
    assert_eq!(bad.status, 200, "accepted before processing: {}", bad.text);
    let bad_id = bad.json["event_id"].as_str().unwrap().to_owned();

    let started = Instant::now();
    let calm_ids: Vec<String> = (0..6)
        .map(|n| {
            let resp = post_posh(
                &server,
                "calm",
                "s-calm",
                &purchase("purchase.created", &format!("c{n}"), &format!("c{n}@example.com")),
            );
            assert_eq!(resp.status, 200, "{}", resp.text);
            resp.json["event_id"].as_str().unwrap().to_owned()
        })
        .collect();
    for id in &calm_ids {
        let event = wait_processed(&admin, "calm", id);
        assert_eq!(event["status"], "processed", "{event}");
    }
    assert_eq!(items(&admin.get("/api/v1/tenants/calm/signups")).len(), 6);
    let calm_done = started.elapsed();

    let failing = wait_for("the hostile event's error", || {
        let event = admin.get(&format!("/api/v1/tenants/hostile/events/{bad_id}")).json;
        event["error"]
            .as_str()
            .is_some_and(|e| e.contains(expected))
            .then_some(event)
    });
    let error = failing["error"].as_str().unwrap();
    assert!(error.starts_with("plugin `hostile` 1.0.0 onInbound: "), "{error}");
    assert_ne!(failing["status"], "processed");
    assert_eq!(items(&admin.get("/api/v1/tenants/hostile/signups")).len(), 0);
    // The job records the same message (in its own write, just after the event's) and
    // retries by the job rules.
    let job = wait_for("the hostile job's last error", || {
        items(&admin.get("/api/v1/tenants/hostile/jobs?kind=inbound.process"))
            .into_iter()
            .find(|j| j["last_error"].as_str().is_some_and(|e| e.contains(expected)))
    });
    assert!(job["attempts"].as_u64().unwrap() >= 1, "{job}");
    assert!(calm_done < Duration::from_secs(20));
    failing
}

#[test]
fn an_infinite_loop_times_out_and_fails_only_its_event() {
    hostile_event_fails_alone(
        "function onInbound(event) { for (;;) { try { while (true) {} } catch (e) {} } }",
        "the script took longer than 300 ms and was stopped",
    );
}

#[test]
fn a_memory_bomb_is_stopped_and_fails_only_its_event() {
    hostile_event_fails_alone(
        "function onInbound(event) { var hoard = []; for (;;) { hoard.push(new Array(1 << 16).fill(event.id + hoard.length)); } }",
        "the script ran out of memory (limit 8 MiB)",
    );
}

#[test]
fn a_throw_fails_only_its_event_with_the_line() {
    hostile_event_fails_alone(
        "function onInbound(event) {\n  var x = event.payload.purchase;\n  throw new Error('cannot handle ' + x.id);\n}",
        "line 3: Error: cannot handle h1",
    );
}

#[test]
fn a_bad_result_is_named() {
    hostile_event_fails_alone(
        "function onInbound() { return {contact: {mail: 'x@example.com'}}; }",
        "contact.mail is not a contact field",
    );
}
