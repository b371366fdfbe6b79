//! The air-gapped demo over HTTP: seeding, the sandbox OAuth server (PKCE), the webhook
//! emitter's signatures, the inbox.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::support::{Client, FakeServer, Response, TestServer};

fn demo_server() -> TestServer {
    let server = TestServer::start_with(|c| tessera::demo::prepare(c).unwrap());
    // Seeding runs through the API once the server answers.
    for _ in 0..200 {
        if server.admin().get("/api/v1/tenants/demo/connections/sandbox").status == 200 {
            return server;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("the demo was not seeded");
}

fn form_post(client: &Client, path: &str, pairs: &[(&str, &str)], extra: &[(&str, &str)]) -> Response {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    let mut headers = vec![("content-type", "application/x-www-form-urlencoded")];
    headers.extend_from_slice(extra);
    client.send("POST", path, Some(body.into_bytes()), &headers)
}

const VERIFIER: &str = "demo-verifier-0123456789-abcdefghijklmnopqrstuvwxyz";
const REDIRECT: &str = "http://127.0.0.1:9/oauth/callback";

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Approves on the consent page and returns the code from the redirect.
fn approve(anon: &Client) -> String {
    let challenge = challenge(VERIFIER);
    let params = [
        ("response_type", "code"),
        ("client_id", "tessera-demo"),
        ("redirect_uri", REDIRECT),
        ("state", "st-123"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("scope", "profile orders"),
        ("decision", "approve"),
    ];
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&params[..7])
        .finish();
    let page = anon.get(&format!("/sandbox/oauth/authorize?{query}"));
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("Approve") && page.text.contains("st-123"));
    let redirect = form_post(anon, "/sandbox/oauth/authorize", &params, &[]);
    assert_eq!(redirect.status, 303, "{}", redirect.text);
    let location = url::Url::parse(redirect.header("location").unwrap()).unwrap();
    assert!(location.as_str().starts_with(REDIRECT));
    let pairs: Vec<(String, String)> = location.query_pairs().into_owned().collect();
    assert!(pairs.contains(&("state".into(), "st-123".into())));
    pairs.into_iter().find(|(k, _)| k == "code").unwrap().1
}

fn exchange(anon: &Client, code: &str, verifier: &str) -> Response {
    form_post(
        anon,
        "/sandbox/oauth/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
            ("client_id", "tessera-demo"),
            ("client_secret", "sandbox-demo-secret"),
        ],
        &[],
    )
}

#[test]
fn demo_seeds_a_tenant_and_the_sandbox_provider() {
    let server = demo_server();
    let provider = server.admin().get("/api/v1/providers/sandbox");
    assert_eq!(provider.status, 200, "{}", provider.text);
    assert_eq!(provider.json["auth_modes"], json!(["oauth2"]));
    assert!(provider.text.contains("hmac-sha256-hex"), "{}", provider.text);
    let tenant = server.admin().get("/api/v1/tenants/demo");
    assert_eq!(tenant.json["tier"], "pro");
    let connection = server.admin().get("/api/v1/tenants/demo/connections/sandbox");
    assert_eq!(
        connection.json["config"]["base_url"],
        format!("{}/sandbox", server.base)
    );
    assert_eq!(connection.json["credentials"]["client_id"], "tessera-demo");
    let landing = server.anonymous().get("/sandbox");
    assert_eq!(landing.status, 200);
    assert!(landing.text.contains("Send a purchase webhook"));

    // Seeding again (a restart) keeps the tenant, connection and webhook secret.
    let before = server
        .admin()
        .get("/api/v1/tenants/demo/connections/sandbox/credentials");
    let server = server.restart();
    std::thread::sleep(Duration::from_millis(300));
    let after = server
        .admin()
        .get("/api/v1/tenants/demo/connections/sandbox/credentials");
    assert_eq!(before.json["credentials"], after.json["credentials"]);
    let tenants = server.admin().get("/api/v1/tenants");
    assert_eq!(tenants.json["items"].as_array().unwrap().len(), 1);
}

#[test]
fn sandbox_oauth_server_requires_pkce_and_single_use_codes() {
    let server = demo_server();
    let anon = server.anonymous();

    // PKCE is mandatory, the client must be the sandbox app.
    let no_pkce = anon.get(&format!(
        "/sandbox/oauth/authorize?response_type=code&client_id=tessera-demo&redirect_uri={REDIRECT}"
    ));
    assert_eq!(no_pkce.status, 400);
    assert!(no_pkce.text.contains("PKCE"));
    let wrong_client = anon.get(&format!(
        "/sandbox/oauth/authorize?response_type=code&client_id=evil&redirect_uri={REDIRECT}&code_challenge={}&code_challenge_method=S256",
        challenge(VERIFIER)
    ));
    assert_eq!(wrong_client.status, 400);

    // A wrong verifier fails, and burns the code.
    let code = approve(&anon);
    let wrong = exchange(&anon, &code, "not-the-verifier-not-the-verifier-not-the");
    assert_eq!(wrong.status, 400);
    assert_eq!(wrong.json["error"], "invalid_grant");
    assert_eq!(exchange(&anon, &code, VERIFIER).json["error"], "invalid_grant");

    // The right verifier gets tokens, once.
    let code = approve(&anon);
    let tokens = exchange(&anon, &code, VERIFIER);
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    assert_eq!(tokens.json["token_type"], "Bearer");
    assert_eq!(tokens.header("cache-control"), Some("no-store"));
    assert_eq!(exchange(&anon, &code, VERIFIER).status, 400);
    let access = tokens.json["access_token"].as_str().unwrap();
    let me = server.with_token(access).get("/sandbox/api/me");
    assert_eq!(me.status, 200);
    assert_eq!(me.json["scope"], "profile orders");
    assert_eq!(anon.get("/sandbox/api/me").status, 401);

    // Client authentication, refresh with rotation (HTTP Basic works too).
    let bad_client = form_post(
        &anon,
        "/sandbox/oauth/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens.json["refresh_token"].as_str().unwrap()),
        ],
        &[("authorization", "Basic dGVzc2VyYS1kZW1vOndyb25n")],
    );
    assert_eq!(bad_client.status, 401);
    assert_eq!(bad_client.json["error"], "invalid_client");
    let refresh = tokens.json["refresh_token"].as_str().unwrap();
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("tessera-demo:sandbox-demo-secret")
    );
    let refreshed = form_post(
        &anon,
        "/sandbox/oauth/token",
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
        &[("authorization", basic.as_str())],
    );
    assert_eq!(refreshed.status, 200, "{}", refreshed.text);
    assert_ne!(refreshed.json["access_token"], tokens.json["access_token"]);
    let reused = form_post(
        &anon,
        "/sandbox/oauth/token",
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
        &[("authorization", basic.as_str())],
    );
    assert_eq!(reused.json["error"], "invalid_grant");

    // Denying sends the visitor back with an error.
    let denied = form_post(
        &anon,
        "/sandbox/oauth/authorize",
        &[
            ("response_type", "code"),
            ("client_id", "tessera-demo"),
            ("redirect_uri", REDIRECT),
            ("state", "s"),
            ("code_challenge", challenge(VERIFIER).as_str()),
            ("code_challenge_method", "S256"),
            ("decision", "deny"),
        ],
        &[],
    );
    assert!(denied.header("location").unwrap().contains("error=access_denied"));
}

#[test]
fn the_emitter_signs_with_the_connection_secret() {
    let server = demo_server();
    let secret = server
        .admin()
        .get("/api/v1/tenants/demo/connections/sandbox/credentials")
        .json["credentials"]["webhook_secret"]
        .as_str()
        .unwrap()
        .to_owned();

    // Signature, checked independently against a local receiver.
    let receiver = FakeServer::start(axum::Router::new().route("/hook", axum::routing::post(|| async { "ok" })));
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let body =
        tessera::demo::webhooks::purchase_event("order.completed", "ada@example.test", "Ada", "Lovelace").to_string();
    let (status, _) =
        tessera::demo::webhooks::deliver(&agent, &format!("{}/hook", receiver.base), &secret, body.as_bytes()).unwrap();
    assert_eq!(status, 200);
    let recorded = receiver.requests.lock().unwrap()[0].clone();
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(&recorded.body);
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(recorded.header("x-sandbox-signature"), Some(expected));
    let sent: Value = serde_json::from_slice(&recorded.body).unwrap();
    assert_eq!(sent["data"]["attendee"]["email"], "ada@example.test");

    // Over HTTP, the emitter posts to the demo tenant's webhook URL on this server.
    let emitted = server.anonymous().post(
        "/sandbox/emit",
        &json!({"email": "grace@example.test", "type": "ticket.issued"}),
    );
    assert_eq!(emitted.status, 200, "{}", emitted.text);
    assert_eq!(
        emitted.json["sent_to"],
        format!("{}/webhooks/sandbox/demo", server.base)
    );
    assert_eq!(emitted.json["event"]["type"], "ticket.issued");
    // Tessera checked the sandbox's signature and stored the event.
    assert_eq!(emitted.json["status"].as_u64(), Some(200), "{}", emitted.text);
    assert!(emitted.json["answer"].as_str().unwrap().contains("\"received\":true"));
    let bad = server.anonymous().send(
        "POST",
        "/sandbox/emit",
        Some(b"{oops".to_vec()),
        &[("content-type", "application/json")],
    );
    assert_eq!(bad.status, 400);

    // The inbox records what it receives.
    let delivered = server.anonymous().send(
        "POST",
        "/sandbox/inbox",
        Some(br#"{"type":"ping","data":{}}"#.to_vec()),
        &[("content-type", "application/json"), ("webhook-id", "msg_1")],
    );
    assert!(delivered.status == 204 || delivered.status == 401);
    let inbox = server.anonymous().get("/sandbox/inbox");
    // Real deliveries (the emitted event's signup) may arrive around it: find ours.
    let items = inbox.json["items"].as_array().cloned().unwrap_or_default();
    assert!(items.iter().any(|item| item["event_type"] == "ping"), "{}", inbox.text);
    assert_eq!(inbox.json["emitted"][0]["event"]["type"], "ticket.issued");
}

#[test]
fn the_sandbox_exists_only_in_demo_mode() {
    let server = TestServer::start();
    assert_eq!(server.anonymous().get("/sandbox").status, 404);
    assert_eq!(server.admin().get("/api/v1/providers/sandbox").status, 404);
}

#[test]
fn tessera_demo_prints_a_token_and_serves_the_sandbox() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = crate::cli::tessera()
        .arg("--data-dir")
        .arg(dir.path())
        .args(["demo", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The sign-in and the token come as one block on stdout; stderr says when it listens.
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut block = Vec::new();
    loop {
        let mut line = String::new();
        assert!(out.read_line(&mut line).unwrap() > 0, "demo exited early: {block:?}");
        if line.trim().is_empty() && block.len() > 2 {
            break;
        }
        block.push(line.trim_end().to_owned());
    }
    assert_eq!(block[0], "tessera demo is running", "{block:?}");
    let value_of = |label: &str| {
        block
            .iter()
            .find_map(|l| l.trim_start().strip_prefix(label).map(|v| v.trim().to_owned()))
            .unwrap_or_else(|| panic!("{label} missing from {block:?}"))
    };
    let token = Some(value_of("API token").split_whitespace().next().unwrap().to_owned());
    let sign_in = value_of("sign in")
        .split_once(" / ")
        .map(|(e, p)| (e.to_owned(), p.to_owned()));
    assert!(value_of("admin UI").starts_with(&format!("http://127.0.0.1:{port}")));
    let mut err = BufReader::new(child.stderr.take().unwrap());
    loop {
        let mut line = String::new();
        assert!(err.read_line(&mut line).unwrap() > 0, "demo exited early");
        assert!(!line.contains("tsr_"), "the token is printed once, on stdout: {line}");
        if line.contains("listening on") {
            break;
        }
    }
    std::thread::spawn(move || for _ in err.lines() {});
    std::thread::spawn(move || for _ in out.lines() {});
    let base = format!("http://127.0.0.1:{port}");
    let admin = Client::new(&base, token.as_deref());
    let mut seeded = false;
    for _ in 0..200 {
        if admin.get("/api/v1/tenants/demo/connections/sandbox").status == 200 {
            seeded = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    assert!(seeded, "the demo tenant and its sandbox connection exist");
    assert_eq!(admin.get("/sandbox").status, 200);
    // The printed admin user signs in to the UI.
    let (email, password) = sign_in.expect("the demo prints its admin sign-in");
    let session = Client::new(&base, None).post("/api/v1/session", &json!({"email": email, "password": password}));
    assert!(session.status == 200 || session.status == 201, "{}", session.text);
    assert!(session.header("set-cookie").is_some(), "{}", session.text);
    assert!(
        dir.path().join("demo").join("tessera.db").exists(),
        "demo data kept apart"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

/// The visitor's path with no internet: connect with OAuth to the sandbox, receive a
/// signed webhook, see the signup, and see tessera's signed delivery in the sandbox inbox.
#[test]
fn demo_walk_through_over_http() {
    let server = demo_server();
    let admin = server.admin();
    let anon = server.anonymous();

    // Authorize → the sandbox's consent page → approve → tessera's callback.
    let started = admin.post("/api/v1/tenants/demo/connections/sandbox/authorize", &json!({}));
    assert_eq!(started.status, 200, "{}", started.text);
    let authorization = url::Url::parse(started.json["authorization_url"].as_str().unwrap()).unwrap();
    assert!(
        authorization
            .as_str()
            .starts_with(&format!("{}/sandbox/oauth/authorize?", server.base)),
        "{authorization}"
    );
    let page = anon.get(&format!("{}?{}", authorization.path(), authorization.query().unwrap()));
    assert_eq!(page.status, 200, "{}", page.text);
    let mut decision: Vec<(String, String)> = authorization.query_pairs().into_owned().collect();
    decision.push(("decision".into(), "approve".into()));
    let pairs: Vec<(&str, &str)> = decision.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let consented = form_post(&anon, "/sandbox/oauth/authorize", &pairs, &[]);
    assert_eq!(consented.status, 303, "{}", consented.text);
    let callback = url::Url::parse(consented.header("location").unwrap()).unwrap();
    assert_eq!(callback.path(), "/oauth/callback");
    let back = anon.get(&format!("/oauth/callback?{}", callback.query().unwrap()));
    assert!(back.status == 303 || back.status == 200, "{}", back.text);
    let connection = admin.get("/api/v1/tenants/demo/connections/sandbox");
    assert_eq!(connection.json["status"], "active", "{}", connection.text);
    let token = admin.get("/api/v1/tenants/demo/connections/sandbox/token");
    assert_eq!(token.status, 200, "{}", token.text);
    let me = server
        .with_token(token.json["access_token"].as_str().unwrap())
        .get("/sandbox/api/me");
    assert_eq!(me.status, 200, "{}", me.text);
    let verified = admin.post("/api/v1/tenants/demo/connections/sandbox/verify", &json!({}));
    assert_eq!(verified.json["result"], "ok", "{}", verified.text);

    // The emitter sends a signed purchase webhook; tessera accepts and processes it.
    let emitted = anon.post(
        "/sandbox/emit",
        &json!({"email": "walk@example.test", "first_name": "Wal", "last_name": "Ker"}),
    );
    assert_eq!(emitted.status, 200, "{}", emitted.text);
    assert_eq!(emitted.json["status"], 200, "{}", emitted.text);
    let answer: Value = serde_json::from_str(emitted.json["answer"].as_str().unwrap()).unwrap();
    let event_id = answer["event_id"].as_str().unwrap().to_owned();
    let mut event = Value::Null;
    for _ in 0..400 {
        event = admin.get(&format!("/api/v1/tenants/demo/events/{event_id}")).json;
        if event["status"] != "received" {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    assert_eq!(event["status"], "processed", "{event}");
    let signups = admin.get("/api/v1/tenants/demo/signups");
    let signup = signups.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["email"] == "walk@example.test")
        .cloned()
        .unwrap_or_else(|| panic!("no signup: {}", signups.text));
    assert_eq!(signup["status"], "pending", "{signup}");
    assert_eq!(signup["first_name"], "Wal");

    // tessera's outbound webhook reached the sandbox inbox, with a valid signature.
    let mut delivered = Value::Null;
    for _ in 0..400 {
        let inbox = anon.get("/sandbox/inbox").json;
        if let Some(entry) = inbox["items"]
            .as_array()
            .and_then(|items| items.iter().find(|i| i["event_type"] == "signup.created"))
        {
            delivered = entry.clone();
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    assert_eq!(delivered["signature_valid"], true, "{delivered}");
    assert!(
        delivered["body"].to_string().contains("walk@example.test"),
        "{delivered}"
    );
    let inbox = anon.get("/sandbox/inbox").json;
    let types: Vec<&str> = inbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["event_type"].as_str())
        .collect();
    assert!(types.contains(&"inbound.received"), "{types:?}");
    assert!(types.contains(&"connection.updated"), "{types:?}");
    assert!(
        inbox["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["signature_valid"] == true),
        "{inbox}"
    );
}

#[test]
fn the_sandbox_webhook_can_be_tested_with_its_sample_event() {
    let server = demo_server();
    let resp = server
        .admin()
        .post("/api/v1/tenants/demo/webhooks/sandbox/test", &json!({}));
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert_eq!(resp.json["status"], "processed", "{}", resp.text);
    let signup_id = resp.json["signup_id"].as_str().expect("a signup");
    let signup = server.admin().get(&format!("/api/v1/tenants/demo/signups/{signup_id}"));
    assert_eq!(signup.json["email"], "ada@example.test", "{}", signup.text);
}
