//! Durability under SIGKILL: every webhook answered 200 is still there after a crash,
//! and its processing (leased or queued) runs after the restart.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tessera::inbound::signature::sign;

use crate::cli::{spawn_serve, tessera};
use crate::support::Client;
use crate::support::inbound::{purchase, wait_for};

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
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (mut child, mut base, lines) = spawn_serve(tessera().arg("--data-dir").arg(&data));
    let token = lines
        .iter()
        .find(|l| l.starts_with("tsr_"))
        .expect("first token")
        .clone();
    let admin = Client::new(&base, Some(&token));
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

    let mut all_acked: Vec<String> = Vec::new();
    for cycle in 0..3 {
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(Mutex::new(Vec::new()));
        let threads: Vec<_> = (0..4)
            .map(|w| {
                let (base, stop, acked) = (base.clone(), stop.clone(), acked.clone());
                std::thread::spawn(move || stream(base, w, cycle, stop, acked))
            })
            .collect();
        // Let traffic build up, then kill the server mid-stream.
        wait_for("some acknowledged webhooks", || {
            (acked.lock().unwrap().len() >= 40).then_some(())
        });
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        stop.store(true, Ordering::SeqCst);
        for t in threads {
            t.join().unwrap();
        }
        all_acked.extend(acked.lock().unwrap().iter().cloned());

        let (next, next_base, _) = spawn_serve(tessera().arg("--data-dir").arg(&data));
        child = next;
        base = next_base;
        let admin = Client::new(&base, Some(&token));
        let listed = listed_event_ids(&admin);
        let missing: Vec<_> = all_acked.iter().filter(|id| !listed.contains(*id)).collect();
        assert!(
            missing.is_empty(),
            "cycle {cycle}: {} acknowledged events lost: {missing:?}",
            missing.len()
        );
    }

    // Work that was queued or leased when the server died runs after the restart:
    // every acknowledged purchase becomes a signup.
    let admin = Client::new(&base, Some(&token));
    let unique: HashSet<_> = all_acked.iter().collect();
    wait_for("processing after restarts", || {
        let pending = admin.get("/api/v1/tenants/crash/events?status=received&limit=1");
        pending.json["items"]
            .as_array()
            .is_some_and(|a| a.is_empty())
            .then_some(())
    });
    let failed = admin.get("/api/v1/tenants/crash/events?status=failed&limit=5");
    assert!(failed.json["items"].as_array().unwrap().is_empty(), "{}", failed.text);
    let mut signups = 0;
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/tenants/crash/signups?limit=500&cursor={c}"),
            None => "/api/v1/tenants/crash/signups?limit=500".to_owned(),
        };
        let resp = admin.get(&path);
        signups += resp.json["items"].as_array().unwrap().len();
        match resp.json["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert!(
        signups >= unique.len(),
        "{signups} signups for {} acknowledged purchases",
        unique.len()
    );
    child.kill().unwrap();
    child.wait().unwrap();
}
