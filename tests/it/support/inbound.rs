//! Helpers for the inbound tests: signing like the providers do, posting webhooks and
//! waiting for background processing.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tessera::inbound::signature::sign;

use super::{Client, Response, TestServer};

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A server whose job retries come quickly.
pub fn server_with(providers: Option<&str>) -> TestServer {
    let providers = providers.map(str::to_owned);
    TestServer::start_with(move |config| {
        config.job_retry_base = Duration::from_millis(50);
        if let Some(toml) = providers {
            let dir = config.data_dir.parent().unwrap().join("providers");
            config.providers_file = Some(super::providers_file(&dir, &toml));
        }
    })
}

pub fn connect(server: &TestServer, tenant: &str, provider: &str, body: Value) {
    let resp = server
        .admin()
        .put(&format!("/api/v1/tenants/{tenant}/connections/{provider}"), &body);
    assert!(resp.status == 200 || resp.status == 201, "{}", resp.text);
}

pub fn connect_posh(server: &TestServer, tenant: &str, secret: &str) {
    connect(
        server,
        tenant,
        "poshvip",
        json!({"credentials": {"webhook_secret": secret}}),
    );
}

pub fn post_raw(client: &Client, provider: &str, tenant: &str, body: &[u8], headers: &[(&str, &str)]) -> Response {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    client.send(
        "POST",
        &format!("/webhooks/{provider}/{tenant}"),
        Some(body.to_vec()),
        &all,
    )
}

pub fn post_posh(server: &TestServer, tenant: &str, secret: &str, body: &Value) -> Response {
    let bytes = body.to_string().into_bytes();
    let sig = sign::hmac_hex(secret, &bytes);
    post_raw(
        &server.anonymous(),
        "poshvip",
        tenant,
        &bytes,
        &[("x-posh-signature", &sig)],
    )
}

/// A Posh.VIP delivery in the guide's envelope: `event` names the type; purchase events
/// carry a `purchase`, ticket events a `ticket` (its id is `t_<purchase id>`; a transfer
/// names the new holder, `new.<email>`).
pub fn purchase(kind: &str, purchase_id: &str, email: &str) -> Value {
    let customer = json!({"email": email, "first_name": "Ana", "last_name": "Lima"});
    if kind.starts_with("ticket.") {
        let mut ticket = json!({
            "id": format!("t_{purchase_id}"),
            "purchase_id": purchase_id,
            "event_id": "evt_1",
            "event_name": "Friday Night",
            "holder": customer,
        });
        if kind == "ticket.transferred" {
            ticket["new_holder"] = json!({"email": format!("new.{email}"), "first_name": "Rui", "last_name": "Neves"});
        }
        return json!({"event": kind, "ticket": ticket});
    }
    json!({
        "event": kind,
        "purchase": {
            "id": purchase_id,
            "event_id": "evt_1",
            "event_name": "Friday Night",
            "customer": customer,
            "total_amount": 40.00,
            "currency": "USD",
            "tickets": [{"id": format!("t_{purchase_id}")}]
        }
    })
}

/// Polls `f` until it returns `Some` (processing runs in the background).
pub fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until the event leaves `received` and returns it.
pub fn wait_processed(client: &Client, tenant: &str, event_id: &str) -> Value {
    wait_for("event processing", || {
        let resp = client.get(&format!("/api/v1/tenants/{tenant}/events/{event_id}"));
        assert_eq!(resp.status, 200, "{}", resp.text);
        (resp.json["status"] != "received").then_some(resp.json)
    })
}

pub fn items(resp: &Response) -> Vec<Value> {
    assert_eq!(resp.status, 200, "{}", resp.text);
    resp.json["items"].as_array().cloned().unwrap_or_default()
}
