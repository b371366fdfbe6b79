//! Binding sync (`POST .../bindings/{provider}/sync`): the tenant's stored events of a
//! provider are processed again with the current mapping, oldest first. Processing is
//! idempotent (a signup merges by email, a source by reference), so a sync can be
//! repeated and never duplicates anyone.
//!
//! A job runs for a bounded time, well inside its lease; what is left continues in a
//! follow-up job, and the first job's result always holds the running totals.

use crate::auth::TenantScope;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::process::{Handled, process_event};
use super::{Inbound, JOB_SYNC_BINDING, events};
use crate::jobs::{self, Job, JobFailure};
use crate::store::StoreError;

/// How long one job processes before handing the rest to a follow-up job.
const RUN_FOR: Duration = Duration::from_secs(20);
const PAGE: u32 = 100;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SyncTotals {
    /// Events looked at.
    pub events: u64,
    /// Processed by their type's handler with the current mapping.
    pub processed: u64,
    /// Stored types tessera does nothing with.
    pub unhandled: u64,
    /// Processing failed (the event records why).
    pub failed: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncPayload {
    pub provider: String,
    /// Only events received at or after this (unix seconds).
    #[serde(default)]
    pub since_unix: Option<i64>,
    /// Where a follow-up job continues.
    #[serde(default)]
    pub after: Option<String>,
    /// The job the tenant was given, which carries the totals.
    #[serde(default)]
    pub origin: Option<String>,
    #[serde(default)]
    pub totals: SyncTotals,
}

pub fn run_sync_job(inbound: &Inbound, job: &Job) -> Result<(), JobFailure> {
    let scope = crate::jobs::scope_of(job)?;
    let tenant_id = scope.id().to_owned();
    let mut payload: SyncPayload =
        serde_json::from_value(jobs::payload_of(job)).map_err(|e| JobFailure::Permanent(e.to_string()))?;
    let origin = payload.origin.clone().unwrap_or_else(|| job.id.clone());
    let started = Instant::now();
    let mut done = false;
    // At least one page per run, so a follow-up always moves on.
    loop {
        let (tenant, provider, after) = (tenant_id.clone(), payload.provider.clone(), payload.after.clone());
        let page = inbound
            .store
            .read(|conn| events::ids_for_sync(conn, &tenant, &provider, payload.since_unix, after.as_deref(), PAGE))?;
        if page.is_empty() {
            done = true;
            break;
        }
        for id in page {
            tally(inbound, &scope, &id, &mut payload.totals);
            payload.after = Some(id);
        }
        if started.elapsed() >= RUN_FOR {
            break;
        }
    }
    let result = json!({
        "provider": payload.provider,
        "events": payload.totals.events,
        "processed": payload.totals.processed,
        "unhandled": payload.totals.unhandled,
        "failed": payload.totals.failed,
        "done": done,
    });
    let (jobs, own_id) = (inbound.jobs.clone(), job.id.clone());
    let next = inbound.store.write(|tx| -> Result<Option<String>, StoreError> {
        jobs::set_result(tx, &origin, &result)?;
        if own_id != origin {
            jobs::set_result(tx, &own_id, &result)?;
        }
        if done {
            return Ok(None);
        }
        let follow_up = SyncPayload {
            origin: Some(origin.clone()),
            ..payload.clone()
        };
        let value = serde_json::to_value(&follow_up).map_err(|e| StoreError::Task(e.to_string()))?;
        jobs.enqueue(tx, Some(&tenant_id), JOB_SYNC_BINDING, &value).map(Some)
    })?;
    if next.is_some() {
        inbound.jobs.wake();
    }
    // Processing may have committed outbox rows (`signup.created`).
    inbound.outbound.wake();
    Ok(())
}

/// Processes one event again and counts the outcome; a failure is recorded on the event
/// (a permanent one marks it `failed`), not on the sync.
fn tally(inbound: &Inbound, scope: &TenantScope, event_id: &str, totals: &mut SyncTotals) {
    let tenant_id = scope.id();
    totals.events += 1;
    match process_event(inbound, scope, event_id, false) {
        Ok(Handled::Applied) => totals.processed += 1,
        Ok(Handled::NoHandler) => totals.unhandled += 1,
        Err(failure) => {
            totals.failed += 1;
            let final_failure = matches!(failure, JobFailure::Permanent(_));
            let (tenant, id, message) = (tenant_id.to_owned(), event_id.to_owned(), failure.message().to_owned());
            let recorded = inbound
                .writer
                .write_blocking(move |tx| events::mark_error(tx, &tenant, &id, &message, final_failure));
            if let Err(e) = recorded {
                tracing::warn!(event = %event_id, error = %e, "could not record a sync failure on the event");
            }
        }
    }
}
