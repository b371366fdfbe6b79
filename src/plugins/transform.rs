//! The entry points a plugin's script may define, how tessera calls them, and what their
//! results mean.
//!
//! Inbound (deliveries of the plugin's providers): `onInbound(event, config)` returns
//! `{"contact": {...}}`, `{"action": "refunded"|"attended", "reference"}` or `null`.
//!
//! Outbound (a tenant's endpoints that name the plugin), first one defined wins:
//! 1. tessera's `onOutbound(message, config)` returns the body to send, or `null` to skip;
//! 2. Svix's `function handler(webhook)` gets `{method, url, eventType, payload, cancel}`
//!    and returns the same object; `payload` is sent, `cancel: true` skips
//!    (<https://docs.svix.com/transformations>);
//! 3. Hookdeck's `addHandler("transform", (request, context) => request)` gets
//!    `{headers, body, path, query, parsed_query}` and returns it; `body` is sent with the
//!    returned extra headers (<https://hookdeck.com/docs/transformations>).
//!
//! Svix and Hookdeck scripts read their configuration from `process.env`, as on those
//! services; tessera's entry points get it as their second argument.

use serde_json::{Map, Value, json};

use super::sandbox::{self, Limits, ScriptError};

pub const ON_INBOUND: &str = "onInbound";
pub const ON_OUTBOUND: &str = "onOutbound";
pub const SVIX_HANDLER: &str = "handler";
pub const HOOKDECK_HANDLER: &str = "addHandler";

/// Contact fields `onInbound` may return (the catalog mapping's names).
const CONTACT_FIELDS: &[&str] = &["email", "first_name", "last_name", "name", "reference", "event_name"];
const MAX_EXTRA_HEADERS: usize = 20;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransformError {
    #[error("{0}")]
    Script(#[from] ScriptError),
    /// The script ran but returned something tessera cannot use.
    #[error("{0}")]
    Result(String),
}

/// What `onInbound` asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboundAction {
    /// Enqueue a signup (the same path catalog mappings take).
    Contact(InboundContact),
    /// Mark the signup source with `reference` refunded or attended.
    Mark { action: String, reference: String },
    /// Keep the event stored; nothing else.
    StoreOnly,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InboundContact {
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub name: Option<String>,
    pub reference: Option<String>,
    pub event_name: Option<String>,
}

pub fn run_inbound(
    limits: Limits,
    script: &str,
    event: &Value,
    config: &Value,
    now_ms: i64,
    seed: u64,
) -> Result<InboundAction, TransformError> {
    let args = json!({"event": event, "config": config});
    let out = sandbox::run(
        limits,
        script,
        "onInbound(__tessera_args.event, __tessera_args.config)",
        &args,
        now_ms,
        seed,
    )?;
    inbound_action(out)
}

fn text(value: &Value, path: &str) -> Result<Option<String>, TransformError> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => Ok(Some(s.trim().chars().take(1000).collect())),
        Value::Number(n) => Ok(Some(n.to_string())),
        _ => Err(TransformError::Result(format!("onInbound: {path} must be a string"))),
    }
}

fn inbound_action(out: Value) -> Result<InboundAction, TransformError> {
    let shape = "onInbound must return null, {contact: {email, ...}} or {action: \"refunded\"|\"attended\", reference}";
    let Value::Object(result) = out else {
        return match out {
            Value::Null => Ok(InboundAction::StoreOnly),
            _ => Err(TransformError::Result(shape.into())),
        };
    };
    if let Some(contact) = result.get("contact") {
        if result.len() > 1 {
            return Err(TransformError::Result(shape.into()));
        }
        let Value::Object(contact) = contact else {
            return Err(TransformError::Result("onInbound: contact must be an object".into()));
        };
        if let Some(unknown) = contact.keys().find(|k| !CONTACT_FIELDS.contains(&k.as_str())) {
            return Err(TransformError::Result(format!(
                "onInbound: contact.{unknown} is not a contact field ({})",
                CONTACT_FIELDS.join(", ")
            )));
        }
        let get = |name: &str| text(contact.get(name).unwrap_or(&Value::Null), &format!("contact.{name}"));
        let email =
            get("email")?.ok_or_else(|| TransformError::Result("onInbound: contact.email is required".into()))?;
        return Ok(InboundAction::Contact(InboundContact {
            email,
            first_name: get("first_name")?,
            last_name: get("last_name")?,
            name: get("name")?,
            reference: get("reference")?,
            event_name: get("event_name")?,
        }));
    }
    match (result.get("action").and_then(Value::as_str), result.get("reference")) {
        (Some(action @ ("refunded" | "attended")), Some(reference)) if result.len() == 2 => {
            let reference = text(reference, "reference")?
                .ok_or_else(|| TransformError::Result("onInbound: reference is required with an action".into()))?;
            Ok(InboundAction::Mark {
                action: action.to_owned(),
                reference,
            })
        }
        _ => Err(TransformError::Result(shape.into())),
    }
}

/// What an outbound transformation decided for one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboundAction {
    Send {
        body: Vec<u8>,
        content_type: String,
        headers: Vec<(String, String)>,
    },
    /// Nothing is sent; the delivery is recorded as done.
    Skip,
}

/// One outbound message as the scripts see it.
pub struct OutboundMessage<'a> {
    pub event_type: &'a str,
    pub url: &'a str,
    /// The Standard Webhooks body tessera would send: `{type, timestamp, data}`.
    pub message: &'a Value,
}

pub fn run_outbound(
    limits: Limits,
    script: &str,
    entry_points: &[String],
    input: &OutboundMessage<'_>,
    config: &Value,
    now_ms: i64,
    seed: u64,
) -> Result<OutboundAction, TransformError> {
    let has = |name: &str| entry_points.iter().any(|e| e == name);
    if has(ON_OUTBOUND) {
        let args = json!({"message": input.message, "config": config});
        let out = sandbox::run(
            limits,
            script,
            "onOutbound(__tessera_args.message, __tessera_args.config)",
            &args,
            now_ms,
            seed,
        )?;
        return match out {
            Value::Null => Ok(OutboundAction::Skip),
            body => Ok(send(body, Vec::new())),
        };
    }
    if has(SVIX_HANDLER) {
        let webhook = json!({
            "method": "POST",
            "url": input.url,
            "eventType": input.event_type,
            "payload": input.message,
            "cancel": false,
        });
        let args = json!({"webhook": webhook, "config": config});
        let out = sandbox::run(
            limits,
            script,
            "(globalThis.process = {env: __tessera_args.config}, handler(__tessera_args.webhook))",
            &args,
            now_ms,
            seed,
        )?;
        return svix_result(out, input.url);
    }
    if has(HOOKDECK_HANDLER) {
        let path = url::Url::parse(input.url)
            .map(|u| u.path().to_owned())
            .unwrap_or_default();
        let request = json!({
            "headers": {"content-type": "application/json", "webhook-type": input.event_type},
            "body": input.message,
            "path": path,
            "query": "",
            "parsed_query": {},
        });
        let context = json!({"connection": {"destination": {"url": input.url}}});
        let args = json!({"request": request, "context": context, "config": config});
        let out = sandbox::run(
            limits,
            script,
            "(globalThis.process = {env: __tessera_args.config}, \
              __tessera_hookdeck(__tessera_args.request, __tessera_args.context))",
            &args,
            now_ms,
            seed,
        )?;
        return hookdeck_result(out);
    }
    Err(TransformError::Result(
        "the plugin's script has no outbound entry point (onOutbound, handler or addHandler)".into(),
    ))
}

fn send(body: Value, headers: Vec<(String, String)>) -> OutboundAction {
    let (body, content_type) = match body {
        Value::String(text) => (text.into_bytes(), "text/plain; charset=utf-8".to_owned()),
        other => (other.to_string().into_bytes(), "application/json".to_owned()),
    };
    let mut content_type = content_type;
    let headers = headers
        .into_iter()
        .filter(|(name, value)| {
            if name == "content-type" {
                content_type = value.clone();
                false
            } else {
                true
            }
        })
        .collect();
    OutboundAction::Send {
        body,
        content_type,
        headers,
    }
}

fn svix_result(out: Value, url: &str) -> Result<OutboundAction, TransformError> {
    let Value::Object(webhook) = out else {
        return Err(TransformError::Result(
            "handler(webhook) must return the webhook object".into(),
        ));
    };
    if webhook.get("cancel").and_then(Value::as_bool) == Some(true) {
        return Ok(OutboundAction::Skip);
    }
    if webhook
        .get("method")
        .and_then(Value::as_str)
        .is_some_and(|m| m != "POST")
    {
        return Err(TransformError::Result(
            "handler(webhook): tessera sends POST only; changing `method` is not supported".into(),
        ));
    }
    if webhook.get("url").and_then(Value::as_str).is_some_and(|u| u != url) {
        return Err(TransformError::Result(
            "handler(webhook): changing `url` is not supported (the endpoint's URL is the one vetted)".into(),
        ));
    }
    Ok(send(webhook.get("payload").cloned().unwrap_or(Value::Null), Vec::new()))
}

fn hookdeck_result(out: Value) -> Result<OutboundAction, TransformError> {
    let request = match out {
        Value::Null => return Ok(OutboundAction::Skip),
        Value::Object(request) => request,
        _ => {
            return Err(TransformError::Result(
                "the transform handler must return the request object".into(),
            ));
        }
    };
    let headers = match request.get("headers") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(headers)) => extra_headers(headers)?,
        Some(_) => return Err(TransformError::Result("request.headers must be an object".into())),
    };
    Ok(send(request.get("body").cloned().unwrap_or(Value::Null), headers))
}

/// Headers a transformation may add: not the signature's, not framing or hop-by-hop.
fn extra_headers(headers: &Map<String, Value>) -> Result<Vec<(String, String)>, TransformError> {
    let reserved = |name: &str| {
        name.starts_with("webhook-")
            || name.starts_with("proxy-")
            || matches!(
                name,
                "host"
                    | "content-length"
                    | "transfer-encoding"
                    | "connection"
                    | "upgrade"
                    | "te"
                    | "trailer"
                    | "keep-alive"
            )
    };
    let mut out = Vec::new();
    for (name, value) in headers {
        let lower = name.to_ascii_lowercase();
        if lower == "webhook-type" {
            continue;
        }
        let Value::String(value) = value else {
            return Err(TransformError::Result(format!("header `{name}` must be a string")));
        };
        let token = !lower.is_empty()
            && lower.len() <= 64
            && lower
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !token || value.len() > 1024 || value.chars().any(|c| c.is_control()) {
            return Err(TransformError::Result(format!("header `{name}` is not a valid header")));
        }
        if reserved(&lower) {
            return Err(TransformError::Result(format!(
                "header `{name}` cannot be set by a transformation"
            )));
        }
        out.push((lower, value.clone()));
    }
    if out.len() > MAX_EXTRA_HEADERS {
        return Err(TransformError::Result(format!("at most {MAX_EXTRA_HEADERS} headers")));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits::default()
    }

    fn message() -> Value {
        json!({"type": "signup.created", "timestamp": "2026-01-01T00:00:00Z", "data": {"email": "a@b.c"}})
    }

    fn outbound(script: &str) -> Result<OutboundAction, TransformError> {
        let entry = sandbox::entry_points(limits(), script).unwrap();
        let input = OutboundMessage {
            event_type: "signup.created",
            url: "https://hooks.example/x",
            message: &message(),
        };
        run_outbound(limits(), script, &entry, &input, &json!({"channel": "#s"}), 0, 1)
    }

    fn body(action: OutboundAction) -> (Value, String, Vec<(String, String)>) {
        match action {
            OutboundAction::Send {
                body,
                content_type,
                headers,
            } => (
                serde_json::from_slice(&body).unwrap_or(Value::Null),
                content_type,
                headers,
            ),
            OutboundAction::Skip => panic!("skipped"),
        }
    }

    #[test]
    fn inbound_results() {
        let run = |script: &str| run_inbound(limits(), script, &json!({"payload": {"m": "x@y.z"}}), &json!({}), 0, 1);
        assert_eq!(
            run("function onInbound() { return null; }"),
            Ok(InboundAction::StoreOnly)
        );
        assert_eq!(
            run("function onInbound(e) { return {contact: {email: e.payload.m, name: 'Ana Lima'}}; }"),
            Ok(InboundAction::Contact(InboundContact {
                email: "x@y.z".into(),
                name: Some("Ana Lima".into()),
                ..Default::default()
            }))
        );
        assert_eq!(
            run("function onInbound() { return {action: 'refunded', reference: 7}; }"),
            Ok(InboundAction::Mark {
                action: "refunded".into(),
                reference: "7".into()
            })
        );
        let err = run("function onInbound() { return {contact: {mail: 'x'}}; }").unwrap_err();
        assert!(err.to_string().contains("contact.mail is not a contact field"), "{err}");
        let err = run("function onInbound() { return 5; }").unwrap_err();
        assert!(err.to_string().starts_with("onInbound must return"), "{err}");
    }

    #[test]
    fn tessera_outbound() {
        let (b, ct, _) =
            body(outbound("function onOutbound(m, c) { return {text: c.channel + ' ' + m.data.email}; }").unwrap());
        assert_eq!(b, json!({"text": "#s a@b.c"}));
        assert_eq!(ct, "application/json");
        assert_eq!(
            outbound("function onOutbound() { return null; }"),
            Ok(OutboundAction::Skip)
        );
    }

    #[test]
    fn svix_outbound() {
        let (b, _, _) = body(
            outbound("function handler(webhook) { webhook.payload = {kind: webhook.eventType}; return webhook; }")
                .unwrap(),
        );
        assert_eq!(b, json!({"kind": "signup.created"}));
        assert_eq!(
            outbound("function handler(w) { w.cancel = true; return w; }"),
            Ok(OutboundAction::Skip)
        );
        let err = outbound("function handler(w) { w.url = 'http://10.0.0.1/'; return w; }").unwrap_err();
        assert!(err.to_string().contains("changing `url`"));
        let (b, _, _) =
            body(outbound("function handler(w) { w.payload = {c: process.env.channel}; return w; }").unwrap());
        assert_eq!(b, json!({"c": "#s"}));
    }

    #[test]
    fn hookdeck_outbound() {
        let (b, _, headers) = body(
            outbound(
                "addHandler('transform', (request, context) => { request.headers['x-channel'] = process.env.channel; \
                 request.body = {t: request.body.type, p: request.path}; return request; });",
            )
            .unwrap(),
        );
        assert_eq!(b, json!({"t": "signup.created", "p": "/x"}));
        assert_eq!(headers, vec![("x-channel".to_owned(), "#s".to_owned())]);
        let err = outbound("addHandler('transform', (r) => { r.headers['webhook-signature'] = 'v1,x'; return r; });")
            .unwrap_err();
        assert!(err.to_string().contains("cannot be set"), "{err}");
    }
}
