//! A canary secret must never reach the database file, its WAL, the logs or any response
//! other than the ones the contract says reveal it.

use axum::Router;
use axum::routing::get;
use serde_json::json;

use crate::support::binary::{ServeProcess, contains_bytes};
use crate::support::{Client, FakeServer, providers_file};

const CANARY: &str = "sk_live_CANARY_7f3e9a1c2b4d";

#[test]
fn canary_secret_stays_out_of_disk_logs_and_responses() {
    let fake = FakeServer::start(Router::new().route("/v1/balance", get(|| async { "{}" })));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let providers = providers_file(
        dir.path(),
        &format!("[providers.stripe]\napi_base_url = \"{}\"\n", fake.base),
    );
    let providers = providers.display().to_string();
    let mut serve = ServeProcess::start(&data, &[("TESSERA_PROVIDERS_FILE", &providers)]);
    let admin = Client::new(&serve.base, Some(&serve.admin_token));
    let mut responses = Vec::new();
    let mut record = |label: &str, resp: crate::support::Response| {
        responses.push((label.to_owned(), resp.text.clone()));
        resp
    };

    assert_eq!(
        record(
            "create tenant",
            admin.post("/api/v1/tenants", &json!({"name": "Canary"}))
        )
        .status,
        201
    );
    let path = "/api/v1/tenants/canary/connections/stripe";
    assert_eq!(
        record(
            "put",
            admin.put(
                path,
                &json!({"credentials": {"secret_key": CANARY, "webhook_secret": format!("whsec_{CANARY}")}})
            )
        )
        .status,
        201
    );
    record(
        "put again",
        admin.put(path, &json!({"credentials": {"secret_key": CANARY}})),
    );
    record("get", admin.get(path));
    record("list", admin.get("/api/v1/tenants/canary/connections"));
    assert_eq!(
        record("verify", admin.post(&format!("{path}/verify"), &json!({}))).json["ok"],
        true
    );
    record("audit", admin.get("/api/v1/tenants/canary/audit"));
    record(
        "bad field",
        admin.put(path, &json!({"credentials": {"secret_key": CANARY, "nope": CANARY}})),
    );
    record(
        "bad json",
        admin.send(
            "PUT",
            path,
            Some(format!("{{\"credentials\": {{\"secret_key\": \"{CANARY}\"").into_bytes()),
            &[("content-type", "application/json")],
        ),
    );
    let revealed = admin.get(&format!("{path}/credentials"));
    assert!(revealed.text.contains(CANARY), "the reveal endpoint reveals");

    for (label, text) in &responses {
        assert!(!text.contains(CANARY), "{label} response leaked the canary: {text}");
    }
    // The fake provider did receive it: the canary is a real value in use.
    assert!(
        fake.recorded()
            .iter()
            .any(|r| { r.header("authorization").is_some_and(|a| a.contains(CANARY)) })
    );

    for (name, bytes) in serve.kill_and_read_files() {
        assert!(!contains_bytes(&bytes, CANARY), "canary found in {name}");
    }
    let log = serve.log();
    assert!(log.contains("request"), "debug logs were captured");
    assert!(!log.contains(CANARY), "canary in logs");
}
