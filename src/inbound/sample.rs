//! "Test with a sample event": the catalog's sample delivery for a provider, signed with
//! the tenant's stored secret and posted over HTTP to this server's own public webhook
//! URL, so it meets every check a real delivery meets (signature, storage, processing).

use crate::auth::TenantScope;
use std::time::{Duration, Instant};

use rand::Rng;
use serde::Serialize;
use serde_json::Value;

use super::{Inbound, InboundError, events};
use crate::catalog::{Provider, SampleEvent, WebhookSpec};
use crate::connections::{find_connection, open_credentials, request::api_base_url};
use crate::tenants::Tenant;

/// How long the test waits for processing before it answers with the status so far.
const WAIT_FOR_PROCESSING: Duration = Duration::from_secs(10);
const POLL_EVERY: Duration = Duration::from_millis(50);

/// What a test delivery came to.
#[derive(Debug, Clone, Serialize)]
pub struct SampleOutcome {
    /// The stored event (a rejected delivery is stored too).
    pub event_id: Option<String>,
    /// The event's status: `processed`, `failed`, `rejected`, or `received` while
    /// processing has not finished.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signup_id: Option<String>,
    pub detail: String,
}

/// The sample as it is sent: its body and headers.
struct Delivery {
    body: Vec<u8>,
    headers: Vec<(String, String)>,
}

impl Inbound {
    /// Sends `provider`'s sample event to the tenant's webhook URL on this server and
    /// waits a short, bounded time for it to be processed.
    pub async fn send_sample(
        &self,
        scope: &TenantScope,
        tenant: &Tenant,
        provider_key: &str,
    ) -> Result<SampleOutcome, InboundError> {
        let provider = self
            .catalogs
            .provider(&tenant.id, provider_key)
            .ok_or_else(|| InboundError::UnknownProvider(provider_key.to_owned()))?;
        let spec = provider
            .webhook
            .clone()
            .ok_or_else(|| InboundError::NoWebhooks(provider.name.clone()))?;
        let sample = spec
            .sample
            .clone()
            .ok_or_else(|| InboundError::NoSample(provider.name.clone()))?;
        let (vault, now_unix) = (self.vault.clone(), self.clock.now().unix_timestamp());
        let for_read = scope.clone();
        let delivery = self
            .store
            .read_async(move |conn| -> Result<Delivery, InboundError> {
                let connection = find_connection(conn, &for_read, &provider.key)?
                    .ok_or_else(|| InboundError::NoConnection(provider.key.clone()))?;
                // Unopenable credentials mean no usable secret: the delivery goes unsigned.
                let secret = open_credentials(conn, &vault, &connection)
                    .ok()
                    .and_then(|c| c.get("webhook_secret"));
                let base = api_base_url(&provider, &connection.config).ok();
                Ok(build(
                    &provider,
                    &spec,
                    &sample,
                    secret.as_ref().map(|s| s.expose()),
                    base.as_deref(),
                    now_unix,
                ))
            })
            .await?;
        let url = format!("{}/webhooks/{}/{}", self.own_url, provider_key, tenant.slug);
        let agent = self.own_agent.clone();
        let sent = tokio::task::spawn_blocking(move || post(&agent, &url, delivery))
            .await
            .map_err(|e| InboundError::Invalid(format!("the test delivery could not be sent: {e}")))?;
        let answer = match sent {
            Ok(answer) => answer,
            Err(reason) => {
                return Ok(SampleOutcome {
                    event_id: None,
                    status: "not_delivered".into(),
                    signup_id: None,
                    detail: reason,
                });
            }
        };
        match answer.status {
            200 => {
                let Some(event_id) = answer.body["event_id"].as_str().map(str::to_owned) else {
                    return Ok(not_delivered(200, &answer.body));
                };
                let duplicate = answer.body["duplicate"].as_bool().unwrap_or(false);
                self.outcome_of(scope, &event_id, duplicate).await
            }
            401 => self.rejection(&tenant.id, provider_key, &answer).await,
            status => Ok(not_delivered(status, &answer.body)),
        }
    }

    /// Waits for the accepted event to leave `received`, then describes it.
    async fn outcome_of(
        &self,
        scope: &TenantScope,
        event_id: &str,
        duplicate: bool,
    ) -> Result<SampleOutcome, InboundError> {
        let deadline = Instant::now() + WAIT_FOR_PROCESSING;
        loop {
            let (scope, id) = (scope.clone(), event_id.to_owned());
            let found = self
                .store
                .read_async(move |conn| -> Result<_, InboundError> {
                    let event = events::find(conn, &scope, &id)?.ok_or(InboundError::EventNotFound)?;
                    let signup = crate::signups::repo::signup_for_event(conn, &scope, &id)?;
                    Ok((event.view, signup))
                })
                .await?;
            let (event, signup) = found;
            if event.status != "received" || Instant::now() >= deadline {
                let kind = event.event_type.as_deref().unwrap_or("(no type)");
                let mut detail = match (event.status.as_str(), &signup) {
                    ("processed", Some(_)) => format!("{kind} was accepted and processed into a pending signup"),
                    ("processed", None) => format!("{kind} was accepted and processed"),
                    ("failed", _) => format!(
                        "{kind} was accepted but processing failed: {}",
                        event.error.as_deref().unwrap_or("no reason given")
                    ),
                    _ => format!(
                        "{kind} was accepted; processing has not finished yet{}",
                        event
                            .error
                            .as_deref()
                            .map(|e| format!(" (last try: {e})"))
                            .unwrap_or_default()
                    ),
                };
                if duplicate {
                    detail = format!("this sample was received before; {detail}");
                }
                return Ok(SampleOutcome {
                    event_id: Some(event.id),
                    status: event.status,
                    signup_id: signup,
                    detail,
                });
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
    }

    /// A refused delivery: its stored record is found by the hash of the body sent.
    async fn rejection(&self, tenant_id: &str, provider: &str, answer: &Answer) -> Result<SampleOutcome, InboundError> {
        let (tenant, provider, hash) = (tenant_id.to_owned(), provider.to_owned(), answer.body_sha256.clone());
        let event = self
            .store
            .read_async(move |conn| events::find_rejected_by_body(conn, &tenant, &provider, &hash))
            .await?;
        let reason = event
            .as_ref()
            .and_then(|e| e.detail.as_ref())
            .and_then(|d| d["message"].as_str())
            .map(str::to_owned)
            .or_else(|| answer.body["detail"].as_str().map(str::to_owned))
            .unwrap_or_else(|| "the signature was refused".into());
        Ok(SampleOutcome {
            event_id: event.map(|e| e.id),
            status: "rejected".into(),
            signup_id: None,
            detail: format!("the webhook was refused: {reason}; check the webhook secret saved for this provider"),
        })
    }
}

fn not_delivered(status: u16, body: &Value) -> SampleOutcome {
    let detail = body["detail"].as_str().unwrap_or("no detail");
    SampleOutcome {
        event_id: None,
        status: "not_delivered".into(),
        signup_id: None,
        detail: format!("the webhook URL answered {status}: {detail}"),
    }
}

/// The sample's body with fresh unique values and the API base filled in, and the
/// headers the provider would send with it.
fn build(
    provider: &Provider,
    spec: &WebhookSpec,
    sample: &SampleEvent,
    secret: Option<&str>,
    api_base: Option<&str>,
    now_unix: i64,
) -> Delivery {
    let suffix = format!("{:08x}", rand::thread_rng().r#gen::<u32>());
    let mut doc = sample.document();
    for pointer in &sample.unique {
        if let Some(Value::String(value)) = doc.pointer_mut(pointer) {
            value.push('-');
            value.push_str(&suffix);
        }
    }
    if let Some(base) = api_base {
        fill_api_base(&mut doc, base.trim_end_matches('/'));
    }
    let body = doc.to_string().into_bytes();
    let delivery_id = format!("tessera-test-{}", crate::ids::new_id());
    let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
    headers.extend(super::signature::sign::delivery_headers(
        spec,
        secret,
        &body,
        now_unix,
        &delivery_id,
    ));
    if let Some(name) = &spec.type_header {
        headers.push((name.clone(), sample.event_type.clone()));
    }
    headers.push(("user-agent".into(), format!("tessera-sample/{}", provider.key)));
    Delivery { body, headers }
}

fn fill_api_base(value: &mut Value, base: &str) {
    match value {
        Value::String(s) if s.contains("{api_base_url}") => *s = s.replace("{api_base_url}", base),
        Value::Array(items) => items.iter_mut().for_each(|v| fill_api_base(v, base)),
        Value::Object(map) => map.values_mut().for_each(|v| fill_api_base(v, base)),
        _ => {}
    }
}

/// What the webhook URL answered.
struct Answer {
    status: u16,
    body: Value,
    body_sha256: String,
}

/// Posts the delivery to this server (blocking).
fn post(agent: &ureq::Agent, url: &str, delivery: Delivery) -> Result<Answer, String> {
    use sha2::{Digest, Sha256};
    let body_sha256 = hex::encode(Sha256::digest(&delivery.body));
    let mut request = ureq::http::Request::builder().method("POST").uri(url);
    for (name, value) in &delivery.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let request = request
        .body(delivery.body)
        .map_err(|e| format!("the test delivery could not be built: {e}"))?;
    let mut response = agent.run(request).map_err(|e| {
        format!(
            "tessera could not reach its own webhook URL: {}",
            crate::net::describe_transport_error(&e)
        )
    })?;
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .with_config()
        .limit(64 * 1024)
        .read_to_string()
        .unwrap_or_default();
    Ok(Answer {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        body_sha256,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_values_change_and_the_api_base_is_filled_in() {
        let catalog = crate::catalog::Catalog::built_in().unwrap();
        let posh = catalog.get("poshvip").unwrap();
        let spec = posh.webhook.as_ref().unwrap();
        let sample = spec.sample.as_ref().unwrap();
        let a = build(posh, spec, sample, Some("s3cret"), None, 1_700_000_000);
        let b = build(posh, spec, sample, Some("s3cret"), None, 1_700_000_000);
        let doc: Value = serde_json::from_slice(&a.body).unwrap();
        assert!(doc["purchase"]["id"].as_str().unwrap().starts_with("test_123-"));
        assert_eq!(doc["purchase"]["customer"]["email"], "test@example.com");
        assert_ne!(a.body, b.body, "each test is a new delivery");
        let signature = a.headers.iter().find(|(n, _)| n == "X-Posh-Signature").unwrap();
        assert_eq!(signature.1, super::super::signature::sign::hmac_hex("s3cret", &a.body));

        let eventbrite = catalog.get("eventbrite").unwrap();
        let spec = eventbrite.webhook.as_ref().unwrap();
        let sent = build(
            eventbrite,
            spec,
            spec.sample.as_ref().unwrap(),
            None,
            Some("http://api.test/"),
            0,
        );
        let doc: Value = serde_json::from_slice(&sent.body).unwrap();
        assert_eq!(doc["api_url"], "http://api.test/v3/orders/1234567890/");
        assert!(sent.headers.iter().all(|(n, _)| n != "X-Posh-Signature"));
    }

    #[test]
    fn header_typed_providers_name_the_type_and_a_fresh_delivery_id() {
        let catalog = crate::catalog::Catalog::built_in().unwrap();
        let shopify = catalog.get("shopify").unwrap();
        let spec = shopify.webhook.as_ref().unwrap();
        let sent = build(shopify, spec, spec.sample.as_ref().unwrap(), Some("shp"), None, 0);
        let header = |name: &str| sent.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
        assert_eq!(header("X-Shopify-Topic").as_deref(), Some("orders/create"));
        assert!(header("X-Shopify-Webhook-Id").unwrap().starts_with("tessera-test-"));
        assert_eq!(
            header("X-Shopify-Hmac-Sha256").unwrap(),
            super::super::signature::sign::hmac_base64("shp", &sent.body)
        );
    }
}
