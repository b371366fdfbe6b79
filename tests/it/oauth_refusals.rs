//! Client credentials a token endpoint refuses, as Zoom, Genesys and a generic RFC 6749
//! server document their refusals: `verify` says `invalid_credentials` in the provider's
//! words, the connection becomes `invalid`, and `/token` says the credentials were
//! refused — without the secret anywhere and without asking the provider on every read.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use serde_json::{Value, json};

use crate::support::{FakeServer, TestServer, providers_file};

const SECRET: &str = "refused-secret-CANARY-7f3a";
const GOOD_SECRET: &str = "accepted-secret-0042";

/// A token endpoint that refuses every client secret but `GOOD_SECRET` with `status` and
/// `refusal` (the provider's documented error body), counting the requests.
fn token_endpoint(status: StatusCode, refusal: Value) -> (FakeServer, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let fake = FakeServer::start(Router::new().route(
        "/{*path}",
        post(move |headers: axum::http::HeaderMap, _body: String| {
            let refusal = refusal.clone();
            counter.fetch_add(1, Ordering::SeqCst);
            async move {
                let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
                let decoded = auth
                    .strip_prefix("Basic ")
                    .and_then(|b| base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b).ok())
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
                if decoded.ends_with(&format!(":{GOOD_SECRET}")) {
                    return (
                        StatusCode::OK,
                        axum::Json(json!({"access_token": "good-token", "token_type": "bearer", "expires_in": 3600})),
                    );
                }
                (status, axum::Json(refusal))
            }
        }),
    ));
    (fake, calls)
}

fn server_for(toml: String) -> TestServer {
    TestServer::start_with(|config| {
        config.providers_file = Some(providers_file(&config.data_dir.with_file_name("etc"), &toml));
    })
}

/// Connects `provider` with the refused secret and checks every answer, then corrects it.
fn refused_then_corrected(
    server: &TestServer,
    provider: &str,
    credentials: Value,
    config: Value,
    calls: &AtomicUsize,
    provider_words: &str,
) {
    server.create_tenant("t1");
    let client =
        server.with_token(&server.tenant_token("t1", &["connections:read", "connections:write", "credentials:reveal"]));
    let path = format!("/api/v1/tenants/t1/connections/{provider}");
    let mut body = json!({"credentials": credentials, "config": config});
    body["credentials"]["client_secret"] = json!(SECRET);
    let put = client.put(&path, &body);
    assert_eq!(put.status, 201, "{}", put.text);

    let verified = client.post(&format!("{path}/verify"), &json!({}));
    assert_eq!(verified.status, 200, "{}", verified.text);
    assert_eq!(verified.json["ok"], false);
    assert_eq!(verified.json["result"], "invalid_credentials", "{}", verified.text);
    let detail = verified.json["detail"].as_str().unwrap();
    assert!(detail.contains(provider_words), "{provider}: {detail}");
    assert!(detail.contains("refused"), "{detail}");
    let view = client.get(&path);
    assert_eq!(view.json["status"], "invalid", "{}", view.text);
    assert!(view.json["last_error"].as_str().unwrap().contains(provider_words));

    let before = calls.load(Ordering::SeqCst);
    for _ in 0..2 {
        let token = client.get(&format!("{path}/token"));
        assert_eq!(token.status, 409, "{}", token.text);
        assert_eq!(token.code(), "credentials_refused", "{}", token.text);
        assert!(
            token.json["detail"]
                .as_str()
                .unwrap()
                .contains("refused the connection's credentials")
        );
        assert!(!token.text.contains("re-authoriz") && !token.text.contains("authorize it first"));
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        before,
        "a refused connection is not asked again on read"
    );

    for text in [&verified.text, &view.text, &client.get(&format!("{path}/token")).text] {
        assert!(!text.contains(SECRET), "the secret leaked: {text}");
    }
    let audit = server.admin().get("/api/v1/tenants/t1/audit?limit=100");
    assert!(!audit.text.contains(SECRET));

    // Correct credentials make it work again at once.
    let mut fixed = body.clone();
    fixed["credentials"]["client_secret"] = json!(GOOD_SECRET);
    assert_eq!(client.put(&path, &fixed).status, 200);
    let token = client.get(&format!("{path}/token"));
    assert_eq!(token.status, 200, "{}", token.text);
    assert_eq!(token.json["access_token"], "good-token");
}

/// Zoom Server-to-Server OAuth: `400 {"reason":"Invalid client_id or client_secret","error":"invalid_client"}`.
#[test]
fn zoom_refusal() {
    let (fake, calls) = token_endpoint(
        StatusCode::BAD_REQUEST,
        json!({"reason": "Invalid client_id or client_secret", "error": "invalid_client"}),
    );
    let server = server_for(format!(
        "[providers.zoom]\ntoken_url = \"{base}/oauth/token\"\napi_base_url = \"{base}/v2\"\n",
        base = fake.base
    ));
    refused_then_corrected(
        &server,
        "zoom",
        json!({"account_id": "acc-1", "client_id": "zoom-client"}),
        json!({}),
        &calls,
        "Invalid client_id or client_secret",
    );
}

/// Genesys Cloud: `401 {"error":"invalid_client","description":"client not found","error_description":"client not found"}`.
#[test]
fn genesys_refusal() {
    let (fake, calls) = token_endpoint(
        StatusCode::UNAUTHORIZED,
        json!({"error": "invalid_client", "description": "client not found", "error_description": "client not found"}),
    );
    let server = server_for(format!(
        "[providers.genesys]\ntoken_url = \"{}/{{region}}/oauth/token\"\n",
        fake.base
    ));
    refused_then_corrected(
        &server,
        "genesys",
        json!({"client_id": "g-client"}),
        json!({"region": "mypurecloud.de"}),
        &calls,
        "client not found",
    );
}

/// A generic client-credentials server (RFC 6749 §5.2): `400 invalid_client`.
#[test]
fn generic_refusal() {
    let (fake, calls) = token_endpoint(
        StatusCode::BAD_REQUEST,
        json!({"error": "invalid_client", "error_description": "Client authentication failed"}),
    );
    let server = server_for(format!(
        "[providers.machine]\nname = \"Machine\"\ncategory = \"developer\"\nauth_modes = [\"client_credentials\"]\n\
         token_url = \"{base}/token\"\napi_base_url = \"{base}/api\"\n\
         fields = [\n  {{ name = \"client_id\", label = \"Client id\", required = true }},\n  \
         {{ name = \"client_secret\", label = \"Client secret\", secret = true, required = true }},\n]\n\
         [providers.machine.verify]\npath = \"/me\"\n",
        base = fake.base
    ));
    refused_then_corrected(
        &server,
        "machine",
        json!({"client_id": "m-client"}),
        json!({}),
        &calls,
        "Client authentication failed",
    );
}
