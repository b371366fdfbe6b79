//! The sandbox's webhooks: an emitter that signs purchase events and posts them to a
//! tenant's tessera webhook URL, and an inbox that receives tessera's outbound webhooks
//! and checks their Standard Webhooks signature.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{CONTENT_TYPE, LOCATION};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::app::AppState;
use crate::vault::constant_time_eq;

pub const SIGNATURE_HEADER: &str = "X-Sandbox-Signature";
const INBOX_KEEP: usize = 200;

fn hmac(key: &[u8], message: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length; this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// `sha256=<hex HMAC-SHA256 of the raw body>`, the catalog's `hmac-sha256-hex` scheme.
pub fn sign(secret: &str, body: &[u8]) -> String {
    format!("sha256={}", hex::encode(hmac(secret.as_bytes(), body)))
}

/// A purchase event as the sandbox sends it.
pub fn purchase_event(kind: &str, email: &str, first_name: &str, last_name: &str) -> Value {
    let id = crate::ids::new_id();
    json!({
        "id": format!("evt_{id}"),
        "type": kind,
        "created_at": crate::time::now_rfc3339(),
        "data": {
            "order_id": format!("ord_{}", &id[id.len() - 8..]),
            "event_name": "Sandbox Launch Night",
            "attendee": {"email": email, "first_name": first_name, "last_name": last_name},
            "amount": 2500,
            "currency": "EUR"
        }
    })
}

/// Posts a signed event; returns the answer's status and body. Blocking.
pub fn deliver(agent: &ureq::Agent, url: &str, secret: &str, body: &[u8]) -> Result<(u16, String), String> {
    let response = agent
        .post(url)
        .header("content-type", "application/json")
        .header(SIGNATURE_HEADER, &sign(secret, body))
        .send(body)
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let text = response
        .into_body()
        .with_config()
        .limit(64 * 1024)
        .read_to_string()
        .unwrap_or_default();
    Ok((status, text))
}

fn field<'a>(params: &'a [(String, String)], json: &'a Value, name: &str) -> Option<&'a str> {
    json.get(name)
        .and_then(Value::as_str)
        .or_else(|| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()))
        .filter(|v| !v.trim().is_empty())
}

/// `POST /sandbox/emit` (JSON or a form from the landing page):
/// `{"tenant"?, "type"?, "email"?, "first_name"?, "last_name"?}`.
pub async fn emit_handler(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let is_form = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let params: Vec<(String, String)> = if is_form {
        url::form_urlencoded::parse(&body).into_owned().collect()
    } else {
        Vec::new()
    };
    let json_body: Value = if is_form || body.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => return crate::error::ApiError::invalid_input(format!("malformed JSON: {e}")).into_response(),
        }
    };
    let request = EmitRequest {
        tenant: field(&params, &json_body, "tenant")
            .unwrap_or(super::DEMO_TENANT)
            .to_owned(),
        kind: field(&params, &json_body, "type")
            .unwrap_or("order.completed")
            .to_owned(),
        email: field(&params, &json_body, "email").map(str::to_owned),
        first_name: field(&params, &json_body, "first_name").unwrap_or("Ada").to_owned(),
        last_name: field(&params, &json_body, "last_name").unwrap_or("Lovelace").to_owned(),
    };
    let record = emit(&state.demo, request).await;
    if is_form {
        return (StatusCode::SEE_OTHER, [(LOCATION, "/sandbox#emitted")]).into_response();
    }
    Json(record).into_response()
}

pub struct EmitRequest {
    pub tenant: String,
    pub kind: String,
    /// A fresh `guest-…@example.test` when absent.
    pub email: Option<String>,
    pub first_name: String,
    pub last_name: String,
}

/// Signs and posts one purchase event to `{public_url}/webhooks/sandbox/{tenant}`;
/// returns (and remembers) what was sent and how tessera answered.
pub async fn emit(state: &super::Demo, request: EmitRequest) -> Value {
    let email = request
        .email
        .unwrap_or_else(|| format!("guest-{}@example.test", &crate::ids::new_id()[28..]));
    let event = purchase_event(&request.kind, &email, &request.first_name, &request.last_name);
    let url = format!("{}/webhooks/sandbox/{}", state.public_url, request.tenant);
    let secret = state
        .sandbox
        .webhook_secret
        .lock()
        .map(|s| s.expose().to_owned())
        .unwrap_or_default();
    let body = event.to_string().into_bytes();
    let agent = state.http.clone();
    let target = url.clone();
    let outcome = tokio::task::spawn_blocking(move || deliver(&agent, &target, &secret, &body))
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
    let record = match &outcome {
        Ok((status, answer)) => json!({"sent_to": url, "status": status, "answer": answer, "event": event}),
        Err(error) => json!({"sent_to": url, "error": error, "event": event}),
    };
    if let Ok(mut emitted) = state.sandbox.emitted.lock() {
        emitted.insert(0, record.clone());
        emitted.truncate(50);
    }
    record
}

#[derive(Debug, Clone, Serialize)]
pub struct InboxEntry {
    pub received_at: String,
    pub webhook_id: Option<String>,
    pub event_type: Option<String>,
    /// `None` when the sandbox does not know the endpoint's secret yet.
    pub signature_valid: Option<bool>,
    pub body: Value,
}

/// Standard Webhooks: `v1,<base64 HMAC-SHA256("{id}.{timestamp}.{body}")>`, the key being
/// the base64 after `whsec_`. Any of the space-separated signatures may match.
pub fn standard_signature_valid(secret: &str, id: &str, timestamp: &str, body: &[u8], header: &str) -> bool {
    let Ok(key) = STANDARD.decode(secret.strip_prefix("whsec_").unwrap_or(secret)) else {
        return false;
    };
    let mut content = format!("{id}.{timestamp}.").into_bytes();
    content.extend_from_slice(body);
    let expected = STANDARD.encode(hmac(&key, &content));
    header
        .split(' ')
        .filter_map(|s| s.strip_prefix("v1,"))
        .any(|sig| constant_time_eq(sig.as_bytes(), expected.as_bytes()))
}

/// `POST /sandbox/inbox`: where the demo tenant's outbound endpoint points.
pub async fn receive(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let secret = state
        .demo
        .sandbox()
        .inbox_secret
        .lock()
        .ok()
        .and_then(|s| s.as_ref().map(|s| s.expose().to_owned()));
    let signature_valid = secret.map(|secret| {
        standard_signature_valid(
            &secret,
            &header("webhook-id").unwrap_or_default(),
            &header("webhook-timestamp").unwrap_or_default(),
            &body,
            &header("webhook-signature").unwrap_or_default(),
        )
    });
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let entry = InboxEntry {
        received_at: crate::time::now_rfc3339(),
        webhook_id: header("webhook-id"),
        event_type: parsed.get("type").and_then(Value::as_str).map(str::to_owned),
        signature_valid,
        body: parsed,
    };
    if let Ok(mut inbox) = state.demo.sandbox().inbox.lock() {
        inbox.insert(0, entry);
        inbox.truncate(INBOX_KEEP);
    }
    if signature_valid == Some(false) {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::NO_CONTENT
    }
}

/// `GET /sandbox/inbox`: what the sandbox received, newest first.
pub async fn list_inbox(State(state): State<AppState>) -> Json<Value> {
    let items = state.demo.sandbox().inbox.lock().map(|i| i.clone()).unwrap_or_default();
    let emitted = state
        .demo
        .sandbox()
        .emitted
        .lock()
        .map(|e| e.clone())
        .unwrap_or_default();
    Json(json!({"items": items, "emitted": emitted}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_webhooks_signature_matches_the_spec_example() {
        // From the Standard Webhooks specification's test vectors.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        let header = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
        assert!(standard_signature_valid(
            secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            "1614265330",
            body,
            header
        ));
        assert!(!standard_signature_valid(
            secret,
            "msg_other",
            "1614265330",
            body,
            header
        ));
    }

    #[test]
    fn hex_signature_is_prefixed() {
        let sig = sign("secret", b"{}");
        assert!(sig.starts_with("sha256="));
        assert_eq!(sig.len(), 7 + 64);
    }
}
