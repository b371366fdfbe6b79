//! Durability under SIGKILL: every webhook answered 200 is still there after a crash,
//! its processing (leased or queued) runs after the restart — or, with several nodes, at
//! the node still up — and every signed delivery it caused arrives, a repeated one under
//! its first `webhook-id`.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tessera::inbound::signature::sign;

use crate::outbound_delivery::create_endpoint;
use crate::support::Client;
use crate::support::binary::ServeProcess;
use crate::support::inbound::{purchase, wait_for};
use crate::support::outbound::{Receiver, eventually};

/// Posts signed webhooks until told to stop; returns the event ids answered 200.
fn stream(base: String, worker: usize, cycle: usize, stop: Arc<AtomicBool>, acked: Arc<Mutex<Vec<String>>>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(5)))
        .http_status_as_error(false)
        .build()
        .into();
    let mut n = 0;
    while !stop.load(Ordering::SeqCst) && n < 5_000 {
        n += 1;
        let email = format!("c{cycle}w{worker}n{n}@example.com");
        let body = purchase("purchase.created", &format!("c{cycle}-w{worker}-{n}"), &email).to_string();
        let sig = sign::hmac_hex("crash-secret", body.as_bytes());
        let result = agent
            .post(&format!("{base}/webhooks/poshvip/crash"))
            .header("content-type", "application/json")
            .header("x-posh-signature", &sig)
            .send(body.as_bytes());
        // Once the server is killed, requests fail: that is expected, not acknowledged.
        let Ok(mut resp) = result else { continue };
        if resp.status().as_u16() == 200
            && let Ok(v) = resp.body_mut().read_json::<Value>()
            && let Some(id) = v["event_id"].as_str()
        {
            acked.lock().unwrap().push(id.to_owned());
        }
    }
}

fn listed_event_ids(client: &Client) -> HashSet<String> {
    let mut ids = HashSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/tenants/crash/events?limit=500&cursor={c}"),
            None => "/api/v1/tenants/crash/events?limit=500".to_owned(),
        };
        let resp = client.get(&path);
        assert_eq!(resp.status, 200, "{}", resp.text);
        for item in resp.json["items"].as_array().unwrap() {
            ids.insert(item["id"].as_str().unwrap().to_owned());
        }
        match resp.json["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return ids,
        }
    }
}

#[test]
fn sigkill_loses_no_acknowledged_webhook() {
    crash_under_load(1);
}

/// Streams signed purchases at `node_count` nodes (one database) and kills one node mid-
/// stream, three times over, restarting it each time.
pub fn crash_under_load(node_count: usize) {
    let dir = tempfile::tempdir().unwrap();
    let env = [("TESSERA_LOG", "warn"), ("TESSERA_ALLOW_PRIVATE_TARGETS", "true")];
    let mut nodes = vec![ServeProcess::start(&dir.path().join("node0"), &env)];
    for n in 1..node_count {
        let next = nodes[0].join(&dir.path().join(format!("node{n}")));
        nodes.push(next);
    }
    let token = nodes[0].admin_token.clone();
    let admin_at = |node: &ServeProcess| Client::new(&node.base, Some(&token));
    let admin = admin_at(&nodes[0]);
    assert_eq!(
        admin
            .post("/api/v1/tenants", &json!({"name": "Crash", "slug": "crash"}))
            .status,
        201
    );
    let put = admin.put(
        "/api/v1/tenants/crash/connections/poshvip",
        &json!({"credentials": {"webhook_secret": "crash-secret"}}),
    );
    assert!(put.status == 201 || put.status == 200, "{}", put.text);
    let receiver = Receiver::start();
    let endpoint = create_endpoint(
        &admin,
        "crash",
        json!({"url": receiver.url("/signups"), "events": ["signup.created"]}),
    );
    receiver.configure("/signups", &[endpoint["secret"].as_str().unwrap()], json!([]));

    let mut all_acked: Vec<String> = Vec::new();
    for cycle in 0..3 {
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(Mutex::new(Vec::new()));
        let threads: Vec<_> = (0..4)
            .map(|w| {
                let base = nodes[w % node_count].base.clone();
                let (stop, acked) = (stop.clone(), acked.clone());
                std::thread::spawn(move || stream(base, w, cycle, stop, acked))
            })
            .collect();
        // Let traffic build up, then kill a node mid-stream.
        wait_for("some acknowledged webhooks", || {
            (acked.lock().unwrap().len() >= 40).then_some(())
        });
        let victim = cycle % node_count;
        nodes[victim].crash();
        if node_count > 1 {
            // The other nodes keep acknowledging while one is down.
            let at_kill = acked.lock().unwrap().len();
            wait_for("webhooks acknowledged by the nodes still up", || {
                (acked.lock().unwrap().len() >= at_kill + 40).then_some(())
            });
        }
        stop.store(true, Ordering::SeqCst);
        for t in threads {
            t.join().unwrap();
        }
        all_acked.extend(acked.lock().unwrap().iter().cloned());

        nodes[victim].restart();
        let listed = listed_event_ids(&admin_at(&nodes[victim]));
        let missing: Vec<_> = all_acked.iter().filter(|id| !listed.contains(*id)).collect();
        assert!(
            missing.is_empty(),
            "cycle {cycle}: {} acknowledged events lost: {missing:?}",
            missing.len()
        );
    }

    // Work that was queued or leased when a node died runs after all: every stored
    // purchase becomes exactly one signup.
    let admin = admin_at(&nodes[0]);
    let unique: HashSet<_> = all_acked.iter().collect();
    wait_for("processing after the crashes", || {
        let pending = admin.get("/api/v1/tenants/crash/events?status=received&limit=1");
        pending.json["items"]
            .as_array()
            .is_some_and(|a| a.is_empty())
            .then_some(())
    });
    let failed = admin.get("/api/v1/tenants/crash/events?status=failed&limit=5");
    assert!(failed.json["items"].as_array().unwrap().is_empty(), "{}", failed.text);
    let stored = listed_event_ids(&admin).len();
    let signups = count_signups(&admin);
    assert!(stored >= unique.len());
    assert_eq!(signups, stored, "one signup per stored purchase");

    // Every signup reached the receiver, verified; a delivery repeated after a crash
    // came under its first `webhook-id` with the same body.
    let log = eventually("every signup delivered", Duration::from_secs(90), || {
        let log = receiver.log("/signups");
        let ids: HashSet<_> = log.iter().filter_map(|e| e["webhook_id"].as_str()).collect();
        (ids.len() >= signups).then_some(log)
    });
    let mut body_by_id: HashMap<&str, &str> = HashMap::new();
    let mut id_by_signup: HashMap<String, &str> = HashMap::new();
    for entry in &log {
        assert_eq!(entry["verified"], json!([true]), "{entry}");
        let (id, body) = (entry["webhook_id"].as_str().unwrap(), entry["body"].as_str().unwrap());
        assert_eq!(*body_by_id.entry(id).or_insert(body), body, "{id} sent with two bodies");
        let data = serde_json::from_str::<Value>(body).unwrap()["data"].to_string();
        assert_eq!(
            *id_by_signup.entry(data).or_insert(id),
            id,
            "one signup under two webhook-ids"
        );
    }
    assert_eq!(id_by_signup.len(), signups);
}

fn count_signups(admin: &Client) -> usize {
    let mut signups = 0;
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/tenants/crash/signups?limit=500&cursor={c}"),
            None => "/api/v1/tenants/crash/signups?limit=500".to_owned(),
        };
        let resp = admin.get(&path);
        assert_eq!(resp.status, 200, "{}", resp.text);
        signups += resp.json["items"].as_array().unwrap().len();
        match resp.json["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return signups,
        }
    }
}
