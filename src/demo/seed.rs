//! Seeds the demo through tessera's own public API, so it exercises what a visitor uses:
//! the demo tenant, its sandbox connection (OAuth app + webhook secret), and an outbound
//! endpoint pointing at the sandbox inbox.

use std::time::Duration;

use serde_json::{Value, json};

use super::Demo;
use super::{CLIENT_ID, CLIENT_SECRET, DEMO_TENANT};
use crate::auth::tokens::{NewToken, insert_token};
use crate::vault::Secret;

struct Api<'a> {
    agent: &'a ureq::Agent,
    base: String,
    token: &'a str,
}

impl Api<'_> {
    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<(u16, Value), String> {
        let uri = format!("{}{}", self.base, path);
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(&uri)
            .header("authorization", format!("Bearer {}", self.token))
            .header("content-type", "application/json");
        let result = match body {
            Some(body) => self
                .agent
                .run(request.body(body.to_string()).map_err(|e| e.to_string())?),
            None => self.agent.run(request.body(()).map_err(|e| e.to_string())?),
        };
        let response = result.map_err(|e| format!("{method} {path}: {e}"))?;
        let status = response.status().as_u16();
        let text = response.into_body().read_to_string().unwrap_or_default();
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }
}

#[derive(Debug, Default, serde::Serialize)]
pub struct SeedReport {
    pub tenant: &'static str,
    pub connection: &'static str,
    pub outbound_endpoint: &'static str,
}

/// Idempotent: an existing tenant, connection or endpoint is kept (and its secrets adopted
/// by the sandbox). Blocking.
pub fn seed(state: &Demo, api_base: &str, token: &str) -> Result<SeedReport, String> {
    let api = Api {
        agent: &state.http,
        base: api_base.to_owned(),
        token,
    };
    let mut report = SeedReport::default();
    let t = format!("/api/v1/tenants/{DEMO_TENANT}");
    report.tenant = match api.call(
        "POST",
        "/api/v1/tenants",
        Some(&json!({"name": "Demo Events", "slug": DEMO_TENANT, "tier": "pro"})),
    )? {
        (201, _) => "created",
        (409, _) => "existing",
        (status, body) => return Err(format!("creating the demo tenant answered {status}: {body}")),
    };

    let sandbox_base = format!("{}/sandbox", state.public_url);
    report.connection = match api.call("GET", &format!("{t}/connections/sandbox/credentials"), None)? {
        (200, body) if body["credentials"]["webhook_secret"].is_string() => {
            let secret = body["credentials"]["webhook_secret"].as_str().unwrap_or_default();
            if let Ok(mut current) = state.sandbox.webhook_secret.lock() {
                *current = Secret::new(secret);
            }
            "existing"
        }
        _ => {
            let secret = state
                .sandbox
                .webhook_secret
                .lock()
                .map(|s| s.expose().to_owned())
                .map_err(|_| "sandbox state poisoned".to_owned())?;
            let body = json!({
                "auth_mode": "oauth2",
                "credentials": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "webhook_secret": secret},
                "config": {"base_url": sandbox_base},
            });
            match api.call("PUT", &format!("{t}/connections/sandbox"), Some(&body))? {
                (200 | 201, _) => "created",
                (status, body) => return Err(format!("creating the sandbox connection answered {status}: {body}")),
            }
        }
    };

    let inbox = format!("{}/sandbox/inbox", state.public_url);
    report.outbound_endpoint = match api.call("GET", &format!("{t}/webhook-endpoints?limit=500"), None)? {
        (200, list) => {
            let existing = list["items"]
                .as_array()
                .and_then(|items| items.iter().find(|e| e["url"] == inbox.as_str()))
                .and_then(|e| e["id"].as_str().map(str::to_owned));
            let (secret, outcome) = match existing {
                Some(id) => {
                    let (_, body) = api.call("GET", &format!("{t}/webhook-endpoints/{id}/secret"), None)?;
                    (body["secret"].as_str().map(str::to_owned), "existing")
                }
                None => {
                    let body = json!({"url": inbox, "events": ["*"], "description": "Sandbox inbox (demo)"});
                    match api.call("POST", &format!("{t}/webhook-endpoints"), Some(&body))? {
                        (201, created) => (created["secret"].as_str().map(str::to_owned), "created"),
                        (status, body) => return Err(format!("creating the demo endpoint answered {status}: {body}")),
                    }
                }
            };
            if let (Some(secret), Ok(mut slot)) = (secret, state.sandbox.inbox_secret.lock()) {
                *slot = Some(Secret::new(secret));
            }
            outcome
        }
        (status, body) => return Err(format!("listing endpoints answered {status}: {body}")),
    };
    Ok(report)
}

/// Mints a platform token for seeding that expires in ten minutes.
fn seeding_token(state: &Demo) -> Result<Secret, crate::store::StoreError> {
    let expires = crate::time::format_rfc3339(crate::time::now() + time::Duration::minutes(10));
    state.store.write(|tx| {
        insert_token(
            tx,
            &NewToken {
                tenant_id: None,
                name: "demo seeding",
                scopes: &Default::default(),
                expires_at: Some(&expires),
                created_by: "demo",
            },
        )
        .map(|(_, token)| token)
    })
}

/// Seeds once the server answers, then emits a purchase webhook every interval.
pub async fn run(state: Demo, mut shutdown: tokio::sync::watch::Receiver<bool>, hold: crate::pause::Pause) {
    let api_base = format!("http://{}", state.listen);
    let seeded = {
        let state = state.clone();
        tokio::task::spawn_blocking(move || {
            for _ in 0..100 {
                if state.http.get(format!("{api_base}/healthz")).call().is_ok() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let token = seeding_token(&state).map_err(|e| e.to_string())?;
            seed(&state, &api_base, token.expose())
        })
        .await
    };
    match seeded {
        Ok(Ok(report)) => tracing::info!(?report, "demo seeded"),
        Ok(Err(error)) => tracing::warn!(%error, "demo seeding failed"),
        Err(error) => tracing::warn!(%error, "demo seeding panicked"),
    }
    let Some(interval) = state.emit_interval else {
        return;
    };
    let mut tick = tokio::time::interval(interval);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        if hold.is_paused() {
            continue;
        }
        let request = super::webhooks::EmitRequest {
            tenant: DEMO_TENANT.to_owned(),
            kind: "order.completed".to_owned(),
            email: None,
            first_name: "Grace".to_owned(),
            last_name: "Hopper".to_owned(),
        };
        super::webhooks::emit(&state, request).await;
    }
}
