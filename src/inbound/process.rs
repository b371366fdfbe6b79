//! Processing a stored event: the catalog's handler for its type, with the tenant's
//! bindings, turns it into signups, source updates, notifications and follow-up jobs.
//! Runs as the `inbound.process` job, so it is retried and survives crashes; every
//! step is idempotent. The job reads and decides on its worker thread and leaves its
//! writes to the transaction that records it done, so a burst of events costs a few
//! commits, not one per event.

use crate::store::sql::Db;
use serde_json::{Value, json};

use super::{Inbound, bindings, events, outside};
use crate::auth::TenantScope;
use crate::catalog::EventHandler;
use crate::jobs::{self, Job, JobFailure, JobWrite};
use crate::signups::{self, Contact, SourceRef};
use crate::store::StoreError;

/// The `inbound.process` job: reads and decides on the worker thread; its writes commit
/// with the job's completion, beside those of the other events processed meanwhile.
pub fn run_process_job(inbound: &Inbound, job: &Job) -> Result<JobWrite, JobFailure> {
    let payload = jobs::payload_of(job);
    let event_id = payload["event_id"]
        .as_str()
        .ok_or_else(|| JobFailure::Permanent("job has no event_id".into()))?
        .to_owned();
    let scope = crate::jobs::scope_of(job)?;
    // A replay processes again but does not announce the delivery a second time.
    let first = !payload["replay"].as_bool().unwrap_or(false);
    let at_last_attempt = job.attempts >= job.max_attempts;
    let record_failure = {
        let (scope, event_id) = (scope.clone(), event_id.clone());
        move |tx: &Db<'_>, failure: &JobFailure| -> Result<(), StoreError> {
            let last = matches!(failure, JobFailure::Permanent(_)) || at_last_attempt;
            events::mark_error(tx, scope.id(), &event_id, failure.message(), last)?;
            if last && first {
                announce_received(tx, &scope, &event_id)?;
            }
            Ok(())
        }
    };
    // A failure to decide is recorded like a failed write: in the settling commit.
    let decided = decide(inbound, &scope, &event_id);
    let (jobs, outbound) = (inbound.jobs.clone(), inbound.outbound.clone());
    let write_jobs = jobs.clone();
    Ok(JobWrite::new(
        move |tx| decided?.apply(tx, &write_jobs, &scope, &event_id, first).map(|_| ()),
        move || {
            jobs.wake();
            // Processing committed outbox rows (`inbound.received`, `signup.created`).
            outbound.wake();
        },
    )
    .on_failure(record_failure))
}

/// Emits `inbound.received` for an accepted (never a rejected) event.
fn announce_received(tx: &Db<'_>, scope: &TenantScope, event_id: &str) -> Result<(), StoreError> {
    if let Some(event) = events::find(tx, scope, event_id)?
        && event.view.status != "rejected"
    {
        events::emit_received(tx, scope.id(), &event.view)?;
    }
    Ok(())
}

/// What processing an event comes down to, from the catalog's handler or a plugin.
enum Outcome {
    StoreOnly,
    Contact {
        contact: Contact,
        reference: Option<String>,
        event_name: Option<String>,
    },
    Mark {
        action: String,
        reference: String,
    },
}

/// What processing did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    /// A handler (the catalog's, with the tenant's mapping, or a plugin's) acted on it.
    Applied,
    /// Stored and listed, but nothing is done with this type.
    NoHandler,
}

/// An event read and decided on, not yet written.
pub struct Decided {
    outcome: Outcome,
    handled: Handled,
    view: events::EventView,
}

/// Processes one stored event now, in a write of its own; `first` announces it
/// (`inbound.received`) — a replay or a sync does not announce it again.
pub fn process_event(
    inbound: &Inbound,
    scope: &TenantScope,
    event_id: &str,
    first: bool,
) -> Result<Handled, JobFailure> {
    let decided = decide(inbound, scope, event_id)?;
    let handled = decided.handled;
    let (jobs, id, scope) = (inbound.jobs.clone(), event_id.to_owned(), scope.clone());
    let wake = inbound
        .writer
        .write_blocking(move |tx| decided.apply(tx, &jobs, &scope, &id, first))?;
    if wake {
        inbound.jobs.wake();
    }
    Ok(handled)
}

/// Reads the event and works out what processing does with it (the catalog's handler
/// with the tenant's bindings, or a plugin; a fetch from the provider when the handler
/// says so). Reads only.
fn decide(inbound: &Inbound, scope: &TenantScope, event_id: &str) -> Result<Decided, JobFailure> {
    let tenant_id = scope.id();
    let (event, body, handler, plugin) = inbound.store.read(|conn| -> Result<_, JobFailure> {
        let event = events::find(conn, scope, event_id)?
            .ok_or_else(|| JobFailure::Permanent("the event no longer exists".into()))?;
        if event.view.status == "rejected" {
            return Err(JobFailure::Permanent("rejected deliveries are never processed".into()));
        }
        let body = events::open_payload(conn, &inbound.vault, &event)?.unwrap_or_default();
        let provider = inbound
            .catalogs
            .provider(tenant_id, &event.view.provider)
            .ok_or_else(|| JobFailure::Permanent(format!("provider `{}` left the catalog", event.view.provider)))?;
        let handler = match &event.view.event_type {
            Some(t) => bindings::effective_handler(conn, scope, &provider, t)?,
            None => None,
        };
        let plugin = inbound.plugins.inbound_for(conn, tenant_id, &event.view.provider)?;
        Ok((event, body, handler, plugin))
    })?;
    let outcome = match (plugin, handler) {
        // A plugin's onInbound decides for its providers' events, before any mapping.
        (Some(plugin), _) => {
            let doc: Value = serde_json::from_slice(&body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
            run_plugin(&inbound.plugins, &plugin, &event.view, doc)?
        }
        (None, None) => Outcome::StoreOnly,
        (None, Some(handler)) => {
            let mut doc: Value =
                serde_json::from_slice(&body).map_err(|_| JobFailure::Permanent("the body is not JSON".into()))?;
            if let Some(pointer) = &handler.fetch {
                let url = doc
                    .pointer(pointer)
                    .and_then(Value::as_str)
                    .ok_or_else(|| JobFailure::Permanent(format!("no URL at {pointer}")))?
                    .to_owned();
                let url = match &handler.fetch_query {
                    Some(query) if url.contains('?') => format!("{url}&{query}"),
                    Some(query) => format!("{url}?{query}"),
                    None => url,
                };
                doc = inbound.calls.fetch_from_provider(scope, &event.view.provider, &url)?;
            }
            mapped(&doc, &handler)?
        }
    };
    let handled = if matches!(outcome, Outcome::StoreOnly) {
        Handled::NoHandler
    } else {
        Handled::Applied
    };
    Ok(Decided {
        outcome,
        handled,
        view: event.view,
    })
}

impl Decided {
    /// Writes what was decided, inside the caller's transaction. Returns whether jobs
    /// were queued.
    fn apply(
        self,
        tx: &Db<'_>,
        jobs: &jobs::Queue,
        scope: &TenantScope,
        event_id: &str,
        first: bool,
    ) -> Result<bool, JobFailure> {
        let queued = apply(tx, jobs, scope, event_id, &self.view.provider, self.outcome)?;
        // Read when decided and not rejected: announced without reading the row again.
        if first {
            events::emit_received(tx, scope.id(), &self.view)?;
        }
        Ok(queued)
    }
}

/// Runs a plugin's `onInbound` on this (job worker) thread. Its clock is the moment the
/// event was received and its `Math.random` is seeded by the event id, so a retry
/// computes the same. A script failure fails this event's processing only, retried by
/// the job rules.
fn run_plugin(
    plugins: &crate::plugins::Plugins,
    plugin: &crate::plugins::Runnable,
    event: &events::EventView,
    payload: Value,
) -> Result<Outcome, JobFailure> {
    let input = json!({
        "id": event.id,
        "provider": event.provider,
        "type": event.event_type,
        "received_at": event.received_at,
        "headers": event.headers.clone().unwrap_or_else(|| json!({})),
        "payload": payload,
    });
    let now_ms = crate::time::rfc3339_to_ms(&event.received_at).unwrap_or(0);
    let action = plugins.run_inbound(plugin, &input, &event.id, now_ms).map_err(|e| {
        JobFailure::Retry(format!(
            "plugin `{}` {} onInbound: {e}",
            plugin.plugin_id, plugin.version
        ))
    })?;
    Outcome::from_plugin(action)
}

fn text_at(doc: &Value, handler: &EventHandler, field: &str) -> Option<String> {
    let pointer = handler.mapping.get(field)?;
    match doc.pointer(pointer)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Reads the contact the mapping points at; `name` is split when first/last are absent.
pub fn contact_from(doc: &Value, handler: &EventHandler) -> Result<Contact, JobFailure> {
    let raw = text_at(doc, handler, "email").ok_or_else(|| {
        JobFailure::Permanent(format!(
            "no email at {}",
            handler.mapping.get("email").map_or("(unmapped)", String::as_str)
        ))
    })?;
    contact_of(
        &raw,
        text_at(doc, handler, "first_name"),
        text_at(doc, handler, "last_name"),
        text_at(doc, handler, "name"),
    )
}

/// A contact from its parts: the email normalised, `name` split when first and last
/// names are absent.
pub fn contact_of(
    email: &str,
    mut first_name: Option<String>,
    mut last_name: Option<String>,
    name: Option<String>,
) -> Result<Contact, JobFailure> {
    let email = signups::normalise_email(email)
        .ok_or_else(|| JobFailure::Permanent("the email address is not valid".into()))?;
    if first_name.is_none()
        && last_name.is_none()
        && let Some(name) = name
    {
        let mut parts = name.splitn(2, ' ');
        first_name = parts.next().map(str::to_owned);
        last_name = parts.next().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    }
    Ok(Contact {
        email,
        first_name,
        last_name,
    })
}

/// What the catalog's handler (with the tenant's bindings) makes of a document.
fn mapped(doc: &Value, handler: &EventHandler) -> Result<Outcome, JobFailure> {
    match handler.action.as_str() {
        "contact" => Ok(Outcome::Contact {
            contact: contact_from(doc, handler)?,
            reference: text_at(doc, handler, "reference"),
            event_name: text_at(doc, handler, "event_name"),
        }),
        "refunded" | "attended" => Ok(Outcome::Mark {
            action: handler.action.clone(),
            reference: text_at(doc, handler, "reference").unwrap_or_default(),
        }),
        other => Err(JobFailure::Permanent(format!(
            "unknown action `{other}` in the catalog"
        ))),
    }
}

impl Outcome {
    /// What a plugin's `onInbound` asked for, in processing's terms.
    pub fn from_plugin(action: crate::plugins::transform::InboundAction) -> Result<Outcome, JobFailure> {
        use crate::plugins::transform::InboundAction;
        Ok(match action {
            InboundAction::StoreOnly => Outcome::StoreOnly,
            InboundAction::Contact(c) => Outcome::Contact {
                contact: contact_of(&c.email, c.first_name, c.last_name, c.name)?,
                reference: c.reference,
                event_name: c.event_name,
            },
            InboundAction::Mark { action, reference } => Outcome::Mark { action, reference },
        })
    }
}

/// Applies the outcome inside one transaction. Returns whether jobs were queued.
fn apply(
    tx: &Db<'_>,
    jobs: &jobs::Queue,
    scope: &TenantScope,
    event_id: &str,
    provider: &str,
    outcome: Outcome,
) -> Result<bool, JobFailure> {
    let tenant_id = scope.id();
    let queued = match outcome {
        Outcome::StoreOnly => false,
        Outcome::Contact {
            contact,
            reference,
            event_name,
        } => {
            let source = SourceRef {
                provider: provider.to_owned(),
                reference: reference.unwrap_or_else(|| event_id.to_owned()),
                event_id: Some(event_id.to_owned()),
                event_name,
            };
            let outcome = signups::upsert_from_source(tx, scope, &contact, &source)?;
            if outcome.created {
                announce_signup(tx, jobs, scope, &outcome.signup_id, &contact, &source)?
            } else {
                false
            }
        }
        Outcome::Mark { action, reference } => {
            let reference = if reference.is_empty() {
                event_id.to_owned()
            } else {
                reference
            };
            let changed = signups::mark_sources(tx, scope, provider, &reference, &action)?;
            if changed == 0 {
                // The purchase may simply not have arrived yet: retry later.
                return Err(JobFailure::Retry(format!(
                    "no signup source with reference `{reference}` yet"
                )));
            }
            false
        }
    };
    events::mark_processed(tx, tenant_id, event_id)?;
    Ok(queued)
}

/// For a new signup: in-app notification, `signup.created`, and the email / list-sync
/// jobs the tenant's connections call for. Returns whether jobs were queued.
pub fn announce_signup(
    tx: &Db<'_>,
    jobs: &jobs::Queue,
    scope: &TenantScope,
    signup_id: &str,
    contact: &Contact,
    source: &SourceRef,
) -> Result<bool, StoreError> {
    let tenant_id = scope.id();
    let data = json!({
        "signup_id": signup_id,
        "email": contact.email,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "provider": source.provider,
        "event_name": source.event_name,
    });
    crate::notifications::notify(
        tx,
        tenant_id,
        "signup.created",
        &format!("New signup: {}", contact.email),
        &format!(
            "{} joined the pending queue from {}{}.",
            contact.email,
            source.provider,
            source
                .event_name
                .as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default()
        ),
        data.clone(),
    )?;
    crate::outbox::emit(tx, tenant_id, "signup.created", data)?;
    outside::queue_signup_jobs(tx, jobs, scope, signup_id)
}
