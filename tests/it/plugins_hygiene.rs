//! A plugin's secret configuration value never reaches the server's log, the database
//! file or any answer: not while installing and configuring it (also with malformed
//! bodies carrying it), and not when its script throws an error that quotes it.

use std::time::Duration;

use axum::Router;
use axum::routing::post;
use serde_json::{Value, json};
use tessera::inbound::signature::sign;

use crate::support::binary::{ServeProcess, contains_bytes};
use crate::support::inbound::{items, post_raw, purchase};
use crate::support::outbound::eventually;
use crate::support::{Client, FakeServer, Response};

const FIRST_TOKEN: &str = "plg_live_CANARY_51d0c3e9a7";
const SECOND_TOKEN: &str = "plg_live_CANARY_2e84b6f1c0";
const POSH_SECRET: &str = "posh-secret-plugin-hygiene";

/// A script that quotes its secret in every error it throws, inbound and outbound.
const LEAKY_SCRIPT: &str = r#"
function onInbound(event, config) {
  throw new Error("the CRM refused token " + config.api_token + " for " + event.payload.purchase.customer.email);
}
function onOutbound(message, config) {
  throw new Error("outbound token " + config.api_token + " was refused");
}
"#;

fn leaky_package() -> Value {
    json!({
        "manifest": {
            "id": "leaky", "name": "Leaky", "version": "1.0.0",
            "description": "Quotes its API token in the errors it throws",
            "config_fields": [
                {"name": "api_token", "label": "API token", "secret": true, "required": true, "to_script": true},
                {"name": "label", "label": "Label"}
            ]
        },
        "providers": "[providers.poshvip]\ndescription = \"Posh.VIP, processed by a plugin script\"\n",
        "script": LEAKY_SCRIPT,
    })
}

#[test]
fn a_plugin_secret_stays_out_of_the_log_the_database_and_every_answer() {
    let receiver = FakeServer::start(Router::new().route("/hooks", post(|| async { "" })));
    let dir = tempfile::tempdir().unwrap();
    let mut serve = ServeProcess::start(
        &dir.path().join("data"),
        &[
            ("TESSERA_JOB_RETRY_BASE_MS", "50"),
            ("TESSERA_ALLOW_PRIVATE_TARGETS", "true"),
            ("TESSERA_RETRY_SCHEDULE", "1"),
        ],
    );
    let admin = Client::new(&serve.base, Some(&serve.admin_token));
    let mut answers: Vec<(String, String)> = Vec::new();
    let mut seen = |label: &str, resp: Response| -> Response {
        answers.push((label.to_owned(), resp.text.clone()));
        resp
    };

    assert_eq!(
        seen(
            "tenant",
            admin.post("/api/v1/tenants", &json!({"name": "Acme", "slug": "acme"}))
        )
        .status,
        201
    );
    assert_eq!(
        seen("publish", admin.post("/api/v1/plugins", &leaky_package())).status,
        201
    );
    let install = "/api/v1/tenants/acme/plugins/leaky/install";
    let installed_path = "/api/v1/tenants/acme/plugins/leaky";

    // Malformed installs carrying the secret: refused, and the value is not echoed.
    let refused = [
        json!({"configuration": FIRST_TOKEN}),
        json!({"configuration": {"api_token": [FIRST_TOKEN]}}),
        json!({"configuration": {"api_token": {"value": FIRST_TOKEN}}}),
        json!({"configuration": {"nope": FIRST_TOKEN}}),
        json!({"configuration": {"label": FIRST_TOKEN}, "workspace_id": FIRST_TOKEN}),
        json!({"configuration": {"api_token": FIRST_TOKEN}, "workspace_id": 42}),
    ];
    for body in &refused {
        let resp = seen("bad install", admin.post(install, body));
        assert!((400..500).contains(&resp.status), "{body} was refused: {}", resp.text);
    }
    let truncated = format!("{{\"configuration\": {{\"api_token\": \"{FIRST_TOKEN}\"");
    let resp = seen(
        "truncated install",
        admin.send(
            "POST",
            install,
            Some(truncated.into_bytes()),
            &[("content-type", "application/json")],
        ),
    );
    assert_eq!(resp.status, 400, "{}", resp.text);

    let installed = seen(
        "install",
        admin.post(
            install,
            &json!({"configuration": {"api_token": FIRST_TOKEN, "label": "CRM"}}),
        ),
    );
    assert_eq!(installed.status, 201, "{}", installed.text);
    assert_eq!(
        installed.json["configuration"]["api_token"],
        format!("****{}", &FIRST_TOKEN[FIRST_TOKEN.len() - 4..])
    );
    seen("get", admin.get(installed_path));
    seen("list", admin.get("/api/v1/tenants/acme/plugins"));
    let configured = seen(
        "configure",
        admin.patch(installed_path, &json!({"configuration": {"api_token": SECOND_TOKEN}})),
    );
    assert_eq!(configured.status, 200, "{}", configured.text);
    let masked = seen(
        "masked re-send",
        admin.patch(
            installed_path,
            &json!({"configuration": {"api_token": format!("****{}", &SECOND_TOKEN[SECOND_TOKEN.len() - 4..])}}),
        ),
    );
    assert_eq!(masked.status, 400, "{}", masked.text);

    // The script throws quoting the secret: inbound processing fails, scrubbed.
    let connected = seen(
        "connect",
        admin.put(
            "/api/v1/tenants/acme/connections/poshvip",
            &json!({"credentials": {"webhook_secret": POSH_SECRET}}),
        ),
    );
    assert_eq!(connected.status, 201, "{}", connected.text);
    let body = purchase("purchase.created", "hyg-1", "ana@example.com").to_string();
    let signature = sign::hmac_hex(POSH_SECRET, body.as_bytes());
    let sent = post_raw(
        &Client::new(&serve.base, None),
        "poshvip",
        "acme",
        body.as_bytes(),
        &[("x-posh-signature", &signature)],
    );
    assert_eq!(sent.status, 200, "{}", sent.text);
    let event_id = sent.json["event_id"].as_str().unwrap().to_owned();
    let event_path = format!("/api/v1/tenants/acme/events/{event_id}");
    let failed = eventually("the script's failure is recorded", Duration::from_secs(20), || {
        let event = admin.get(&event_path);
        event.json["error"]
            .as_str()
            .is_some_and(|e| e.contains("refused token"))
            .then_some(event)
    });
    let error = seen("event", failed).json["error"].as_str().unwrap().to_owned();
    // The script saw the real value (it was scrubbed as that value), and the rest of
    // what it said is kept.
    assert!(
        error.contains("the CRM refused token **** for ana@example.com"),
        "the error is kept, scrubbed: {error}"
    );
    // The job records its outcome after the handler marked the event: wait for the job.
    let jobs = eventually("the job's failure is recorded", Duration::from_secs(20), || {
        let jobs = admin.get("/api/v1/tenants/acme/jobs?kind=inbound.process");
        items(&jobs)
            .iter()
            .any(|j| {
                j["last_error"]
                    .as_str()
                    .is_some_and(|e| e.contains("refused token ****"))
            })
            .then_some(jobs)
    });
    seen("jobs", jobs);

    // An endpoint reshaped by the same script: the failed attempt is scrubbed too.
    let endpoint = seen(
        "endpoint",
        admin.post(
            "/api/v1/tenants/acme/webhook-endpoints",
            &json!({"url": format!("{}/hooks", receiver.base), "events": ["*"], "transform": "leaky"}),
        ),
    );
    assert_eq!(endpoint.status, 201, "{}", endpoint.text);
    let id = endpoint.json["id"].as_str().unwrap().to_owned();
    let ping = seen(
        "ping",
        admin.post(&format!("/api/v1/tenants/acme/webhook-endpoints/{id}/test"), &json!({})),
    );
    assert!(ping.status < 300, "{}", ping.text);
    let deliveries = format!("/api/v1/tenants/acme/webhook-endpoints/{id}/deliveries");
    let attempt = eventually(
        "the transformation's failure is recorded",
        Duration::from_secs(20),
        || {
            items(&admin.get(&deliveries))
                .into_iter()
                .find(|d| d["event_type"] == "ping" && d["attempt"].as_u64() >= Some(1))
        },
    );
    let delivery_id = attempt["id"].as_str().unwrap();
    let detail = seen("delivery", admin.get(&format!("{deliveries}/{delivery_id}")));
    assert!(
        detail.text.contains("outbound token **** was refused"),
        "the attempt's error is kept, scrubbed: {}",
        detail.text
    );
    assert!(receiver.recorded().is_empty(), "nothing was sent");
    seen("audit", admin.get("/api/v1/tenants/acme/audit"));

    for (label, text) in &answers {
        for secret in [FIRST_TOKEN, SECOND_TOKEN] {
            assert!(!text.contains(secret), "the {label} answer leaked {secret}: {text}");
        }
    }
    // The failure was logged (scrubbed), so the check below means something.
    let log = eventually("the job's failure is logged", Duration::from_secs(20), || {
        let log = serve.log();
        (log.contains("job failed") && log.contains("refused token ****")).then_some(log)
    });
    for (name, bytes) in serve.kill_and_read_files() {
        for secret in [FIRST_TOKEN, SECOND_TOKEN] {
            assert!(!contains_bytes(&bytes, secret), "{secret} found in the {name}");
        }
    }
    for secret in [FIRST_TOKEN, SECOND_TOKEN] {
        assert!(!log.contains(secret), "{secret} found in the server log");
    }
}
