//! One delivery attempt: send it signed, judge the answer, record what happened.

use crate::auth::PlatformScope;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::store::sql::{Db, params};
use serde_json::json;

use super::OutboundError;
use super::endpoints::{self, RetryPolicy};
use super::schedule::{RetrySchedule, parse_retry_after};
use super::signing::{SigningKey, message_id, signature_header};
use crate::time::ms_to_rfc3339;

/// How long an endpoint may fail without a single success before it is disabled.
pub const DEFAULT_DISABLE_AFTER_MS: i64 = 5 * 24 * 3600 * 1000;
const EXCERPT_BYTES: usize = 256;

/// An endpoint as the workers need it: where, how to sign, how to retry.
#[derive(Debug)]
pub struct Target {
    pub endpoint_id: String,
    pub tenant_id: String,
    pub url: String,
    pub retry_policy: RetryPolicy,
    pub updated_at: String,
    pub key: SigningKey,
    /// The rotated-out key and when it stops signing.
    pub previous: Option<(SigningKey, i64)>,
    /// Set when the endpoint changed; queued work for it is re-read before sending.
    pub stale: std::sync::atomic::AtomicBool,
    /// The plugin transformation the endpoint opted into, or why it cannot run.
    pub transform: Option<Result<Arc<crate::plugins::Runnable>, String>>,
}

impl Target {
    pub fn signing_keys(&self, now_ms: i64) -> Vec<SigningKey> {
        let mut keys = vec![self.key.clone()];
        if let Some((key, until)) = &self.previous
            && *until > now_ms
        {
            keys.push(key.clone());
        }
        keys
    }

    pub fn is_stale(&self) -> bool {
        self.stale.load(std::sync::atomic::Ordering::Acquire)
    }
}

/// A delivery a worker holds under a lease.
#[derive(Debug, Clone)]
pub struct WorkItem {
    pub delivery_id: String,
    pub lease_token: Arc<str>,
    /// The lease ends here; an attempt that could outlast it is not started (the delivery
    /// may already belong to another claim by then).
    pub lease_until_ms: i64,
    pub event_id: String,
    pub event_type: String,
    /// The number this attempt will have (1 for the first).
    pub attempt: u32,
    pub payload: Arc<str>,
    pub target: Arc<Target>,
    /// When the causing event was committed (unix ms), for latency figures.
    pub event_at_ms: Option<i64>,
}

/// What one HTTP attempt produced.
#[derive(Debug, Clone)]
pub struct AttemptReport {
    pub at_ms: i64,
    pub status: Option<u16>,
    pub retry_after: Option<Duration>,
    pub excerpt: Option<String>,
    pub error: Option<String>,
    pub duration_ms: i64,
    /// The endpoint's transformation chose not to send this message.
    pub skipped: bool,
}

impl AttemptReport {
    pub fn empty(at_ms: i64) -> AttemptReport {
        AttemptReport {
            at_ms,
            status: None,
            retry_after: None,
            excerpt: None,
            error: None,
            duration_ms: 0,
            skipped: false,
        }
    }

    pub fn succeeded(&self) -> bool {
        self.skipped || matches!(self.status, Some(s) if (200..300).contains(&s))
    }
}

/// One attempt: the endpoint's plugin transformation first when it has one (on this
/// worker thread, within the script limits), then the signed request. A script that
/// fails makes a failed attempt, retried on the endpoint's schedule; one that skips the
/// message makes a successful attempt that sent nothing.
pub fn attempt(agent: &ureq::Agent, plugins: &crate::plugins::Plugins, item: &WorkItem, now_ms: i64) -> AttemptReport {
    use crate::plugins::transform::{OutboundAction, OutboundMessage};
    let Some(transform) = &item.target.transform else {
        return send(agent, item, now_ms, item.payload.as_bytes(), "application/json", &[]);
    };
    let started = Instant::now();
    let failed = |error: String| AttemptReport {
        error: Some(error),
        duration_ms: started.elapsed().as_millis() as i64,
        ..AttemptReport::empty(now_ms)
    };
    let plugin = match transform {
        Ok(plugin) => plugin,
        Err(why) => return failed(format!("transformation not run: {why}")),
    };
    let message: serde_json::Value = serde_json::from_str(&item.payload).unwrap_or(serde_json::Value::Null);
    let input = OutboundMessage {
        event_type: &item.event_type,
        url: &item.target.url,
        message: &message,
    };
    let fixed_now = item.event_at_ms.unwrap_or(now_ms);
    match plugins.run_outbound(plugin, &input, &item.event_id, fixed_now) {
        Ok(OutboundAction::Send {
            body,
            content_type,
            headers,
        }) => send(agent, item, now_ms, &body, &content_type, &headers),
        Ok(OutboundAction::Skip) => AttemptReport {
            skipped: true,
            error: Some(format!("not sent: plugin `{}` skipped this message", plugin.plugin_id)),
            duration_ms: started.elapsed().as_millis() as i64,
            ..AttemptReport::empty(now_ms)
        },
        Err(e) => failed(format!(
            "plugin `{}` {} transformation failed: {e}",
            plugin.plugin_id, plugin.version
        )),
    }
}

/// Sends one signed attempt with `body`. Never panics on what the receiver does.
pub fn send(
    agent: &ureq::Agent,
    item: &WorkItem,
    now_ms: i64,
    body: &[u8],
    content_type: &str,
    extra_headers: &[(String, String)],
) -> AttemptReport {
    let timestamp = now_ms / 1000;
    let msg_id = message_id(&item.event_id);
    let keys = item.target.signing_keys(now_ms);
    let signature = signature_header(&keys, &msg_id, timestamp, body);
    let started = Instant::now();
    let mut request = agent.post(&item.target.url);
    for (name, value) in extra_headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let result = request
        .header("content-type", content_type)
        .header("webhook-id", &msg_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .send(body);
    let mut report = AttemptReport::empty(now_ms);
    match result {
        Ok(mut response) => {
            let status = response.status().as_u16();
            report.status = Some(status);
            if status == 429 || status == 503 {
                report.retry_after = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_retry_after);
            }
            if (300..400).contains(&status) {
                report.error = Some("redirects are not followed; point the endpoint at the final URL".into());
            }
            report.excerpt = read_excerpt(response.body_mut());
        }
        Err(err) => report.error = Some(crate::net::describe_transport_error(&err)),
    }
    report.duration_ms = started.elapsed().as_millis() as i64;
    report
}

fn read_excerpt(body: &mut ureq::Body) -> Option<String> {
    use std::io::Read;
    let mut buf = Vec::with_capacity(EXCERPT_BYTES);
    let reader = body.with_config().limit(64 * 1024).reader();
    // Drain what is cheap so the connection can be reused; keep the first bytes.
    let mut limited = reader.take(64 * 1024);
    let mut chunk = [0u8; 4096];
    loop {
        match limited.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = EXCERPT_BYTES.saturating_sub(buf.len());
                buf.extend_from_slice(&chunk[..n.min(room)]);
            }
        }
    }
    if buf.is_empty() {
        return None;
    }
    Some(String::from_utf8_lossy(&buf).into_owned())
}

/// What the record step decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Succeeded,
    RetryAt(i64),
    Exhausted,
    /// 410 Gone: the receiver asked never to be called again.
    Gone,
}

pub fn judge(report: &AttemptReport, attempt: u32, policy: RetryPolicy, schedule: &RetrySchedule) -> Verdict {
    if report.succeeded() {
        return Verdict::Succeeded;
    }
    if report.status == Some(410) {
        return Verdict::Gone;
    }
    match schedule.delay_after(policy, attempt) {
        None => Verdict::Exhausted,
        Some(delay) => {
            let delay = report
                .retry_after
                .map_or(delay, |hint| hint.max(Duration::from_millis(1)));
            Verdict::RetryAt(report.at_ms + delay.as_millis() as i64)
        }
    }
}

/// Side effects beyond the delivery row that the engine must know about.
#[derive(Debug, Default)]
pub struct RecordEffects {
    pub disabled_endpoint: Option<String>,
    /// False when the lease was lost (another worker or a restart took the delivery over).
    pub recorded: bool,
    /// The delivery's new status (`succeeded`, `failed`, `exhausted`) once recorded.
    pub outcome: Option<&'static str>,
}

/// Rules that decide how an endpoint's failures are judged over time.
#[derive(Debug, Clone)]
pub struct HealthRules {
    pub schedule: RetrySchedule,
    pub disable_after_ms: i64,
}

/// Records an attempt: the delivery's new state, the attempt row, the endpoint's health
/// (410 or [`HealthRules::disable_after_ms`] of failures disable it, and its admins are
/// notified). Guarded by the lease token, so a stale worker cannot overwrite.
pub fn record(
    conn: &Db<'_>,
    item: &WorkItem,
    report: &AttemptReport,
    rules: &HealthRules,
) -> Result<RecordEffects, OutboundError> {
    let target = &item.target;
    let verdict = judge(report, item.attempt, target.retry_policy, &rules.schedule);
    let (status, next_at) = match &verdict {
        Verdict::Succeeded => ("succeeded", None),
        Verdict::RetryAt(at) => ("failed", Some(*at)),
        Verdict::Exhausted | Verdict::Gone => ("exhausted", None),
    };
    let error = match (&verdict, &report.error) {
        (Verdict::Gone, _) => Some("410 Gone: the endpoint was disabled".to_owned()),
        (_, Some(e)) => Some(e.clone()),
        (Verdict::Succeeded, None) => None,
        (_, None) => report.status.map(|s| format!("HTTP {s}")),
    };
    let changed = conn.execute(
        "UPDATE webhook_deliveries SET status = ?3, attempts = ?4, next_attempt_at = ?5, lease_token = NULL,
                 response_status = ?6, response_excerpt = ?7, error = ?8, duration_ms = ?9, last_attempt_at = ?10
             WHERE id = ?1 AND lease_token = ?2",
        params![
            item.delivery_id,
            &*item.lease_token,
            status,
            item.attempt,
            next_at,
            report.status,
            report.excerpt,
            error,
            report.duration_ms,
            report.at_ms,
        ],
    )?;
    let mut effects = RecordEffects::default();
    if changed == 0 {
        return Ok(effects);
    }
    effects.recorded = true;
    effects.outcome = Some(status);
    conn.execute(
        "INSERT INTO webhook_attempts (id, tenant_id, delivery_id, endpoint_id, attempt, at, succeeded,
             response_status, response_excerpt, error, duration_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            crate::ids::new_id(),
            target.tenant_id,
            item.delivery_id,
            target.endpoint_id,
            item.attempt,
            report.at_ms,
            verdict == Verdict::Succeeded,
            report.status,
            report.excerpt,
            error,
            report.duration_ms,
        ],
    )?;
    if verdict == Verdict::Succeeded {
        conn.execute(
            "UPDATE webhook_endpoints SET failing_since = NULL WHERE id = ?1 AND failing_since IS NOT NULL",
            params![target.endpoint_id],
        )?;
        return Ok(effects);
    }
    conn.execute(
        "UPDATE webhook_endpoints SET failing_since = ?2 WHERE id = ?1 AND failing_since IS NULL",
        params![target.endpoint_id, report.at_ms],
    )?;
    let scope = PlatformScope::for_server_work().narrow_to(&target.tenant_id);
    let Some(mut endpoint) = endpoints::find(conn, &scope, &target.endpoint_id)? else {
        return Ok(effects);
    };
    if !endpoint.active {
        return Ok(effects);
    }
    let failing_for = endpoint.failing_since.map_or(0, |since| report.at_ms - since);
    let reason = if verdict == Verdict::Gone {
        "gone"
    } else if failing_for >= rules.disable_after_ms {
        "failing"
    } else {
        return Ok(effects);
    };
    endpoints::disable(conn, &mut endpoint, reason, report.at_ms)?;
    let (title, body) = if reason == "gone" {
        (
            "Webhook endpoint disabled: it answered 410 Gone",
            format!(
                "{} answered 410 Gone, so tessera stopped delivering to it. Re-enable it to resume; \
                 events since then can be replayed.",
                endpoint.url
            ),
        )
    } else {
        (
            "Webhook endpoint disabled after failing continuously",
            format!(
                "Every delivery to {} has failed since {}, so tessera stopped delivering to it. \
                 Fix the receiver and re-enable the endpoint; what it missed can be replayed.",
                endpoint.url,
                ms_to_rfc3339(endpoint.failing_since.unwrap_or(report.at_ms))
            ),
        )
    };
    crate::notifications::notify(
        conn,
        &target.tenant_id,
        "webhook_endpoint.disabled",
        title,
        &body,
        json!({"endpoint_id": endpoint.id, "url": endpoint.url, "reason": reason}),
    )?;
    effects.disabled_endpoint = Some(endpoint.id);
    Ok(effects)
}

/// Puts a delivery a worker did not attempt back in line, due now.
pub fn release(conn: &Db<'_>, item: &WorkItem, now_ms: i64) -> Result<(), OutboundError> {
    conn.execute(
        "UPDATE webhook_deliveries SET next_attempt_at = ?3, lease_token = NULL WHERE id = ?1 AND lease_token = ?2",
        params![item.delivery_id, &*item.lease_token, now_ms],
    )?;
    Ok(())
}
