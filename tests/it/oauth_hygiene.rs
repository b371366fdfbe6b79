//! Client secrets and access tokens stay out of the database file, the logs (at debug
//! level) and every response except `/token`.

use axum::Router;
use axum::routing::{get, post};
use serde_json::json;

use crate::support::binary::{ServeProcess, contains_bytes};
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
    let providers = providers.display().to_string();
    let mut serve = ServeProcess::start(&data, &[("TESSERA_PROVIDERS_FILE", &providers)]);
    let admin = Client::new(&serve.base, Some(&serve.admin_token));
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
    for (name, bytes) in serve.kill_and_read_files() {
        for canary in [CLIENT_SECRET, ACCESS_TOKEN, PLATFORM_SECRET] {
            assert!(!contains_bytes(&bytes, canary), "{canary} in {name}");
        }
    }
    let log = serve.log();
    assert!(log.contains("request"), "debug logs were captured");
    for canary in [CLIENT_SECRET, ACCESS_TOKEN, PLATFORM_SECRET] {
        assert!(!log.contains(canary), "{canary} in the logs");
    }
}
