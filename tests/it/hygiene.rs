//! A canary secret must never reach the database file, its WAL, the logs or any response
//! other than the ones the contract says reveal it.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::get;
use serde_json::json;

use crate::cli::tessera;
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
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = tessera()
        .arg("--data-dir")
        .arg(&data)
        .env("TESSERA_LOG", "debug")
        .env("TESSERA_PROVIDERS_FILE", &providers)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let log: Arc<Mutex<Vec<String>>> = Arc::default();
    let (token_tx, token_rx) = std::sync::mpsc::channel();
    {
        let log = log.clone();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.starts_with("tsr_") {
                    let _ = token_tx.send(line.clone());
                }
                if line.contains("listening on") {
                    let _ = token_tx.send(String::new());
                }
                log.lock().unwrap().push(line);
            }
        });
    }
    let token = token_rx.recv().unwrap();
    let _ = token_rx.recv();
    let base = format!("http://127.0.0.1:{port}");
    let admin = Client::new(&base, Some(&token));
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

    let wal = data.join("tessera.db-wal");
    let wal_bytes = std::fs::read(&wal).unwrap_or_default();
    child.kill().unwrap();
    child.wait().unwrap();
    let needle = CANARY.as_bytes();
    for (name, bytes) in [
        ("database", std::fs::read(data.join("tessera.db")).unwrap()),
        ("wal (live)", wal_bytes),
        ("wal (after)", std::fs::read(&wal).unwrap_or_default()),
    ] {
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "canary found in {name}"
        );
    }
    let log = log.lock().unwrap().join("\n");
    assert!(log.contains("request"), "debug logs were captured");
    assert!(!log.contains(CANARY), "canary in logs");
}
