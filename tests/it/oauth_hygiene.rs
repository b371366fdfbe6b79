//! Client secrets and access tokens stay out of the database file, the logs (at debug
//! level) and every response except `/token`.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::{get, post};
use serde_json::json;

use crate::cli::tessera;
use crate::support::{Client, FakeServer, providers_file};

const CLIENT_SECRET: &str = "cs_CANARY_oauth_3b9d7e";
const ACCESS_TOKEN: &str = "at_CANARY_oauth_8c2f1a";
const PLATFORM_SECRET: &str = "ps_CANARY_oauth_6e0b44";

#[test]
fn oauth_secrets_stay_out_of_disk_logs_and_responses() {
    let fake = FakeServer::start(
        Router::new()
            .route(
                "/oauth/token",
                post(|| async {
                    axum::Json(json!({"access_token": ACCESS_TOKEN, "token_type": "bearer", "expires_in": 3600}))
                }),
            )
            .route("/v2/users/me", get(|| async { axum::Json(json!({"id": "me"})) })),
    );
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let providers = providers_file(
        dir.path(),
        &format!(
            "[providers.zoom]\ntoken_url = \"{base}/oauth/token\"\napi_base_url = \"{base}/v2\"\n",
            base = fake.base
        ),
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
    // The second message says the server is listening.
    let _ = token_rx.recv();
    let base = format!("http://127.0.0.1:{port}");
    let admin = Client::new(&base, Some(&token));
    let mut responses = Vec::new();
    let mut record = |label: &str, resp: crate::support::Response| {
        responses.push((label.to_owned(), resp.text.clone()));
        resp
    };
    assert_eq!(
        record("tenant", admin.post("/api/v1/tenants", &json!({"name": "Canary"}))).status,
        201
    );
    let app = admin.put(
        "/api/v1/platform/apps/eventbrite",
        &json!({"client_id": "eb", "client_secret": PLATFORM_SECRET}),
    );
    assert_eq!(record("platform app", app).status, 201);
    record("platform apps", admin.get("/api/v1/platform/apps"));
    let path = "/api/v1/tenants/canary/connections/zoom";
    let put = admin.put(
        path,
        &json!({"credentials": {"account_id": "acct", "client_id": "zc", "client_secret": CLIENT_SECRET}}),
    );
    assert_eq!(record("put", put).status, 201);
    let revealed = admin.get(&format!("{path}/token"));
    assert_eq!(revealed.json["access_token"], ACCESS_TOKEN, "{}", revealed.text);
    record("refresh", admin.post(&format!("{path}/refresh"), &json!({})));
    record("verify", admin.post(&format!("{path}/verify"), &json!({})));
    record("proxy", admin.get("/api/v1/tenants/canary/proxy/zoom/users/me"));
    record("get", admin.get(path));
    record("audit", admin.get("/api/v1/tenants/canary/audit"));
    record("delete", admin.delete(path));
    for (label, text) in &responses {
        for canary in [CLIENT_SECRET, ACCESS_TOKEN, PLATFORM_SECRET] {
            assert!(!text.contains(canary), "{label} response leaked a secret: {text}");
        }
    }
    let wal = std::fs::read(data.join("tessera.db-wal")).unwrap_or_default();
    child.kill().unwrap();
    child.wait().unwrap();
    let db = std::fs::read(data.join("tessera.db")).unwrap();
    for canary in [CLIENT_SECRET, ACCESS_TOKEN, PLATFORM_SECRET] {
        for (name, bytes) in [("database", &db), ("wal", &wal)] {
            assert!(
                !bytes.windows(canary.len()).any(|w| w == canary.as_bytes()),
                "{canary} in {name}"
            );
        }
    }
    let log = log.lock().unwrap().join("\n");
    assert!(log.contains("request"), "debug logs were captured");
    for canary in [CLIENT_SECRET, ACCESS_TOKEN, PLATFORM_SECRET] {
        assert!(!log.contains(canary), "{canary} in the logs");
    }
}
