//! `POST /webhooks/{provider}/{tenant}`: verify, store durably (the writer's group commit), answer.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::Inbound;
use super::InboundError;
use super::events::{self, Accepted, Rejected, Stored};
use super::signature::{self, SignatureError, VerifyInput};
use crate::app::AppState;
use crate::catalog::{Provider, WebhookSpec};
use crate::connections::{find_connection, open_credentials, request::api_base_url};
use crate::error::{ApiError, ApiResult};
use crate::net::ClientAddr;
use crate::store::sql::Db;
use crate::tenants::Tenant;
use crate::vault::Vault;

/// What the checks decided about one delivery.
enum Verdict {
    Accept(Accepted),
    /// Rejected; `answer_ok` when the connection says `"invalid_signature":"accept"`.
    Reject {
        event: Rejected,
        answer_ok: bool,
    },
    /// The tenant has no connection to this provider: answered like an unknown tenant.
    NoReceiver,
}

/// The one answer for every URL that receives nothing (unknown provider, a provider
/// without webhooks, unknown tenant, no connection), so a stranger cannot tell which
/// tenants exist or what they use.
fn no_receiver_here() -> ApiError {
    ApiError::not_found("there is no webhook receiver at this URL")
}

/// The receiver's limits applied to one request.
struct Limiting<'a> {
    inbound: &'a Inbound,
    source: ClientAddr,
    now_unix: u64,
}

impl Limiting<'_> {
    /// Counts a failure; past the budget the answer is 429 instead of `answer`.
    fn failure(&self, tenant_id: Option<&str>, answer: ApiError) -> ApiError {
        let receiver = &self.inbound.receiver;
        let decision = receiver
            .limits
            .failure(receiver.budgets, &self.source, tenant_id, self.now_unix);
        if decision.allowed {
            answer
        } else {
            self.limited("webhook_failures", decision.reset_secs)
        }
    }

    fn limited(&self, kind: &str, reset_secs: u64) -> ApiError {
        self.inbound
            .metrics
            .inc("tessera_rate_limited_total", &[("kind", kind)]);
        ApiError::rate_limited(reset_secs.max(1))
    }

    /// The tenant named in the path: from the tenant cache, else the database — unless
    /// this address already spent its budget on unknown tenants, then without a lookup.
    async fn tenant(&self, reference: &str) -> ApiResult<Option<Tenant>> {
        let auth = &self.inbound.receiver.auth;
        if let Some(tenant) = auth.cached_tenant(reference) {
            return Ok(Some(tenant));
        }
        let receiver = &self.inbound.receiver;
        if receiver
            .limits
            .unknown_spent(receiver.budgets, &self.source, self.now_unix)
        {
            return Err(self.limited("webhook_failures", 60 - self.now_unix % 60));
        }
        Ok(auth.tenant(reference).await?)
    }
}

pub async fn receive(
    State(state): State<AppState>,
    Path((provider_key, tenant_ref)): Path<(String, String)>,
    source: ClientAddr,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    let body = body.map_err(ApiError::from)?;
    if body.len() > super::MAX_BODY {
        return Err(ApiError::payload_too_large("webhook bodies are limited to 1 MiB"));
    }
    let inbound = &state.inbound;
    let limiting = Limiting {
        inbound,
        source,
        now_unix: inbound.clock.now().unix_timestamp().max(0) as u64,
    };
    // The tenant first: which providers exist depends on its plugins.
    let Some(tenant) = limiting.tenant(&tenant_ref).await? else {
        return Err(limiting.failure(None, no_receiver_here()));
    };
    let Some(provider) = inbound
        .catalogs
        .provider(&tenant.id, &provider_key)
        .filter(|p| p.webhook.is_some())
    else {
        return Err(limiting.failure(None, no_receiver_here()));
    };
    let verdict = {
        let (vault, body, tenant) = (inbound.vault.clone(), body.clone(), tenant.clone());
        let now_unix = inbound.clock.now().unix_timestamp();
        inbound
            .store
            .read_async(move |conn| {
                let remote_ip = source.to_string();
                let delivery = Delivery {
                    provider: &provider,
                    tenant: &tenant,
                    headers: &headers,
                    body: &body,
                    remote_ip: Some(&remote_ip),
                    now_unix,
                };
                check_delivery(conn, &vault, &delivery)
            })
            .await?
    };
    match verdict {
        Verdict::NoReceiver => Err(limiting.failure(None, no_receiver_here())),
        Verdict::Accept(event) => {
            let receiver = &inbound.receiver;
            if let Some(decision) = receiver
                .limits
                .delivery(receiver.budgets, &tenant.id, limiting.now_unix)
                && !decision.allowed
            {
                return Err(limiting.limited("webhook_deliveries", decision.reset_secs));
            }
            let jobs = inbound.jobs.clone();
            let stored = inbound
                .writer
                .write(move |conn| events::store_accepted(conn, &jobs, &event))
                .await?;
            match stored {
                Stored::New(id) => {
                    inbound.metrics.webhook_received(&provider_key, "accepted");
                    inbound.jobs.wake();
                    Ok(Json(json!({ "received": true, "event_id": id })))
                }
                Stored::Duplicate(id) => {
                    inbound.metrics.webhook_received(&provider_key, "duplicate");
                    Ok(Json(json!({ "received": true, "event_id": id, "duplicate": true })))
                }
            }
        }
        Verdict::Reject { event, answer_ok } => {
            inbound.metrics.webhook_received(&provider_key, "rejected");
            let refusal = ApiError::new(
                axum::http::StatusCode::UNAUTHORIZED,
                "invalid_signature",
                "Invalid signature",
                format!("the webhook could not be verified ({})", event.reason),
            );
            let receiver = &inbound.receiver;
            let decision =
                receiver
                    .limits
                    .failure(receiver.budgets, &limiting.source, Some(&tenant.id), limiting.now_unix);
            if !decision.allowed {
                // Past the budget nothing more is written: only the metrics count it.
                inbound
                    .metrics
                    .inc("tessera_webhooks_rejected_total", &[("recorded", "none")]);
                return Err(limiting.limited("webhook_failures", decision.reset_secs));
            }
            let id = event.id.clone();
            let max = receiver.rejected_events_max;
            let recorded = inbound
                .writer
                .write(move |conn| super::rejections::record(conn, &event, max))
                .await?;
            inbound
                .metrics
                .inc("tessera_webhooks_rejected_total", &[("recorded", recorded.as_str())]);
            if answer_ok {
                Ok(Json(json!({ "received": true, "event_id": id })))
            } else {
                Err(refusal)
            }
        }
    }
}

/// One delivery as it arrived.
struct Delivery<'a> {
    provider: &'a Provider,
    tenant: &'a Tenant,
    headers: &'a HeaderMap,
    body: &'a [u8],
    remote_ip: Option<&'a str>,
    now_unix: i64,
}

/// Finds the tenant's connection, verifies the signature and derives the event's type
/// and de-duplication key. Blocking (database, crypto).
fn check_delivery(conn: &Db<'_>, vault: &Vault, delivery: &Delivery<'_>) -> Result<Verdict, InboundError> {
    let Delivery {
        provider,
        tenant,
        headers,
        body,
        remote_ip,
        now_unix,
    } = *delivery;
    let spec = provider
        .webhook
        .as_ref()
        .ok_or_else(|| InboundError::NoWebhooks(provider.name.clone()))?;
    let Some(connection) = find_connection(conn, &crate::auth::TenantScope::from_webhook_url(tenant), &provider.key)?
    else {
        return Ok(Verdict::NoReceiver);
    };
    // A connection whose credentials cannot be opened has no usable secret: fail closed.
    let secret = open_credentials(conn, vault, &connection)
        .ok()
        .and_then(|c| c.get("webhook_secret"));
    let base = api_base_url(provider, &connection.config).ok();
    let input = VerifyInput {
        spec,
        secret: secret.as_ref().map(|s| s.expose()),
        api_base_url: base.as_deref(),
        now_unix,
    };
    let id = crate::ids::new_id();
    match signature::verify(&input, headers, body) {
        Ok(()) => {
            let doc: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            // Sealed here, on a blocking thread, so the single writer only inserts.
            let sealed = events::seal_body(conn, vault, &tenant.id, &id, body)?;
            Ok(Verdict::Accept(Accepted {
                sealed,
                id,
                tenant_id: tenant.id.clone(),
                provider: provider.key.clone(),
                event_type: event_type(spec, headers, &doc),
                external_id: external_id(spec, headers, &doc, body),
                headers: kept_headers(spec, headers),
            }))
        }
        Err(err) => {
            let answer_ok = connection.config.get("invalid_signature").and_then(Value::as_str) == Some("accept");
            tracing::warn!(provider = %provider.key, tenant = %tenant.id, reason = err.reason(), "webhook rejected");
            Ok(Verdict::Reject {
                event: Rejected {
                    id,
                    tenant_id: tenant.id.clone(),
                    provider: provider.key.clone(),
                    reason: err.reason().to_owned(),
                    body_bytes: body.len(),
                    detail: rejection_detail(&err, body, remote_ip, answer_ok),
                },
                answer_ok,
            })
        }
    }
}

fn rejection_detail(err: &SignatureError, body: &[u8], remote_ip: Option<&str>, answered_ok: bool) -> Value {
    json!({
        "reason": err.reason(),
        "message": err.to_string(),
        "body_bytes": body.len(),
        "body_sha256": hex::encode(Sha256::digest(body)),
        "remote_ip": remote_ip,
        "answered": if answered_ok { 200 } else { 401 },
    })
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub fn event_type(spec: &WebhookSpec, headers: &HeaderMap, doc: &Value) -> Option<String> {
    if let Some(name) = &spec.type_header {
        return header_str(headers, name).map(str::to_owned);
    }
    let pointer = spec.type_field.as_deref().unwrap_or("/type");
    doc.pointer(pointer).and_then(scalar)
}

/// The de-duplication key: the provider's delivery id, else the catalog's payload fields,
/// else a hash of the body.
pub fn external_id(spec: &WebhookSpec, headers: &HeaderMap, doc: &Value, body: &[u8]) -> String {
    let id_header = spec
        .id_header
        .as_deref()
        .or((spec.scheme == "standard-webhooks").then_some("webhook-id"));
    if let Some(value) = id_header.and_then(|name| header_str(headers, name)) {
        return value.to_owned();
    }
    let type_pointer = spec.type_field.as_deref().unwrap_or("/type");
    let mut parts = Vec::new();
    let mut identifying = 0;
    for pointer in &spec.id_fields {
        if let Some(value) = doc.pointer(pointer).and_then(scalar) {
            if pointer != type_pointer {
                identifying += 1;
            }
            parts.push(value);
        }
    }
    if identifying > 0 {
        return parts.join(":");
    }
    format!("sha256:{}", hex::encode(Sha256::digest(body)))
}

/// Headers worth keeping with the event (never the signature).
fn kept_headers(spec: &WebhookSpec, headers: &HeaderMap) -> Value {
    let mut kept = serde_json::Map::new();
    let names = ["content-type", "user-agent", "webhook-id", "webhook-timestamp"]
        .into_iter()
        .map(str::to_owned)
        .chain(spec.id_header.iter().map(|h| h.to_ascii_lowercase()))
        .chain(spec.type_header.iter().map(|h| h.to_ascii_lowercase()));
    for name in names {
        if let Some(value) = header_str(headers, &name) {
            kept.insert(name, Value::String(value.chars().take(200).collect()));
        }
    }
    Value::Object(kept)
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue};
    use serde_json::json;

    use super::*;

    fn spec(extra: &str) -> WebhookSpec {
        toml::from_str(&format!("scheme = \"hmac-sha256-hex\"\nheader = \"X-Sig\"\n{extra}")).unwrap()
    }

    #[test]
    fn dedupe_key_prefers_header_then_fields_then_body_hash() {
        let s = spec("id_header = \"X-Delivery\"\nid_fields = [\"/type\", \"/data/id\"]");
        let doc = json!({"type": "a.b", "data": {"id": 7}});
        let mut headers = HeaderMap::new();
        assert_eq!(external_id(&s, &headers, &doc, b"{}"), "a.b:7");
        headers.insert("x-delivery", HeaderValue::from_static("d-1"));
        assert_eq!(external_id(&s, &headers, &doc, b"{}"), "d-1");
        // Only the type present: not identifying, so the body decides.
        let only_type = json!({"type": "a.b"});
        let key = external_id(&s, &HeaderMap::new(), &only_type, b"body-1");
        assert!(key.starts_with("sha256:"));
        assert_ne!(key, external_id(&s, &HeaderMap::new(), &only_type, b"body-2"));
    }

    #[test]
    fn type_from_header_or_pointer() {
        let by_header = spec("type_header = \"X-Topic\"");
        let mut headers = HeaderMap::new();
        headers.insert("x-topic", HeaderValue::from_static("orders/create"));
        assert_eq!(
            event_type(&by_header, &headers, &json!({})).as_deref(),
            Some("orders/create")
        );
        let by_field = spec("type_field = \"/config/action\"");
        let doc = json!({"config": {"action": "order.placed"}});
        assert_eq!(
            event_type(&by_field, &HeaderMap::new(), &doc).as_deref(),
            Some("order.placed")
        );
        assert_eq!(
            event_type(&spec(""), &HeaderMap::new(), &json!({"type": 3})).as_deref(),
            Some("3")
        );
    }
}
